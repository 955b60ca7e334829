/**
 * Conversations and channel subscriptions in the SQLite file: where the bot can reach a
 * conversation later, which channels get notifications (and with which filter), and both
 * suspended or forgotten together when a channel or a whole team goes.
 */
import type Database from 'better-sqlite3';
import type { ChannelSubscription } from '../../elevation/notifications';
import type { ConversationRecord, Effects } from '../../elevation/ports';
import type { WriteEffects } from './outbox';

export class SqliteConversations {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly writeEffects: WriteEffects,
  ) {
    this.statements = {
      saveConversation: db.prepare(
        `INSERT INTO conversations (id, scope, tenant_id, team_id, updated_at, reference)
         VALUES (@id, @scope, @tenantId, @teamId, @updatedAt, @reference)
         ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, tenant_id = excluded.tenant_id,
           team_id = excluded.team_id, updated_at = excluded.updated_at,
           reference = excluded.reference, suspended = 0`,
      ),
      findConversation: db.prepare<
        [string],
        {
          id: string;
          scope: ConversationRecord['scope'];
          tenant_id: string | null;
          team_id: string | null;
          suspended: number;
          updated_at: string;
          reference: string;
        }
      >('SELECT * FROM conversations WHERE id = ?'),
      forgetConversation: db.prepare<[string]>('DELETE FROM conversations WHERE id = ?'),
      forgetTeam: db.prepare<[string, string]>(
        'DELETE FROM conversations WHERE team_id = ? OR id = ?',
      ),
      unsubscribeTeam: db.prepare<[string]>('DELETE FROM subscriptions WHERE team_id = ?'),
      suspendConversation: db.prepare<[number, string]>(
        'UPDATE conversations SET suspended = ? WHERE id = ?',
      ),
      suspendTeam: db.prepare<[number, string, string]>(
        'UPDATE conversations SET suspended = ? WHERE team_id = ? OR id = ?',
      ),
      suspendSubscription: db.prepare<[number, string]>(
        'UPDATE subscriptions SET suspended = ? WHERE channel_id = ?',
      ),
      suspendTeamSubscriptions: db.prepare<[number, string]>(
        'UPDATE subscriptions SET suspended = ? WHERE team_id = ?',
      ),
      subscribe: db.prepare(
        `INSERT INTO subscriptions (channel_id, tenant_id, team_id, data)
         VALUES (@channelId, @tenantId, @teamId, @data)
         ON CONFLICT (channel_id) DO UPDATE SET tenant_id = excluded.tenant_id,
           team_id = excluded.team_id, data = excluded.data, suspended = 0`,
      ),
      findSubscription: db.prepare<[string], { data: string; suspended: number }>(
        'SELECT data, suspended FROM subscriptions WHERE channel_id = ?',
      ),
      unsubscribe: db.prepare<[string]>('DELETE FROM subscriptions WHERE channel_id = ?'),
      tenantSubscriptions: db.prepare<[string], { channel_id: string; data: string }>(
        'SELECT channel_id, data FROM subscriptions WHERE tenant_id = ? AND suspended = 0',
      ),
    };
  }

  saveConversation(record: ConversationRecord): void {
    this.statements.saveConversation.run({
      id: record.id,
      scope: record.scope,
      tenantId: record.tenantId?.toLowerCase() ?? null,
      teamId: record.teamId ?? null,
      updatedAt: record.updatedAt,
      reference: JSON.stringify(record.reference),
    });
  }

  findConversation(id: string): (ConversationRecord & { suspended: boolean }) | undefined {
    const row = this.statements.findConversation.get(id);
    if (!row) return undefined;
    return {
      id: row.id,
      scope: row.scope,
      tenantId: row.tenant_id ?? undefined,
      teamId: row.team_id ?? undefined,
      reference: JSON.parse(row.reference) as unknown,
      updatedAt: row.updated_at,
      suspended: row.suspended === 1,
    };
  }

  forgetConversations(target: { id: string } | { teamId: string }): void {
    this.db
      .transaction(() => {
        if ('teamId' in target) {
          this.statements.forgetTeam.run(target.teamId, target.teamId);
          this.statements.unsubscribeTeam.run(target.teamId);
        } else {
          this.statements.forgetConversation.run(target.id);
          this.statements.unsubscribe.run(target.id);
        }
      })
      .immediate();
  }

  suspendConversations(target: { id: string } | { teamId: string }, suspended: boolean): void {
    const flag = suspended ? 1 : 0;
    this.db
      .transaction(() => {
        if ('teamId' in target) {
          this.statements.suspendTeam.run(flag, target.teamId, target.teamId);
          this.statements.suspendTeamSubscriptions.run(flag, target.teamId);
        } else {
          this.statements.suspendConversation.run(flag, target.id);
          this.statements.suspendSubscription.run(flag, target.id);
        }
      })
      .immediate();
  }

  subscribe(subscription: ChannelSubscription, effects?: Effects): boolean {
    return this.db
      .transaction(() => {
        const existed = this.statements.findSubscription.get(subscription.channelId) !== undefined;
        this.statements.subscribe.run({
          channelId: subscription.channelId,
          tenantId: subscription.tenantId.toLowerCase(),
          teamId: subscription.teamId ?? null,
          data: JSON.stringify(subscription),
        });
        this.writeEffects(effects, new Date());
        return existed;
      })
      .immediate();
  }

  unsubscribe(channelId: string, effects?: Effects): boolean {
    return this.db
      .transaction(() => {
        const removed = this.removeSubscription(channelId);
        if (removed) this.writeEffects(effects, new Date());
        return removed;
      })
      .immediate();
  }

  findSubscription(channelId: string): ChannelSubscription | undefined {
    const row = this.statements.findSubscription.get(channelId);
    return row ? (JSON.parse(row.data) as ChannelSubscription) : undefined;
  }

  /** The channel's subscription unless it is suspended (where a delivery is posted). */
  activeSubscription(channelId: string): ChannelSubscription | undefined {
    const row = this.statements.findSubscription.get(channelId);
    return row && row.suspended === 0 ? (JSON.parse(row.data) as ChannelSubscription) : undefined;
  }

  /** The subscriptions of a tenant that are not suspended (a notification's fan-out). */
  activeSubscriptionsIn(
    tenantId: string,
  ): Array<{ channelId: string; subscription: ChannelSubscription }> {
    return this.statements.tenantSubscriptions.all(tenantId.toLowerCase()).map((row) => ({
      channelId: row.channel_id,
      subscription: JSON.parse(row.data) as ChannelSubscription,
    }));
  }

  /** Removes a channel's subscription; true when there was one. Inside the caller's transaction. */
  removeSubscription(channelId: string): boolean {
    return this.statements.unsubscribe.run(channelId).changes === 1;
  }
}
