/**
 * Refused sign-in tokens (forged, foreign, expired, another user's) go into the audit chain, and
 * subscribed channels are told when one user's refusals pile up. A flood must not grow the audit
 * without bound, so refusals are counted, not each recorded:
 *
 * - Time is cut into fixed windows (15 minutes by default). Per window, the store counts the
 *   refusals of each tenant, of each user, and of each user for each failed check, atomically, so
 *   the counts hold across instances (`countInWindow`).
 * - The first refusal of a user for a check in a window is one audit event (`refused`, reason
 *   `sign-in-token-refused`: the check, the user, the conversation, how it came in). Further ones
 *   are only counted.
 * - When a user's refusals (whatever the check) reach the threshold (5), one more audit event
 *   records the count, and subscribed channels get one notification card (exactly one: one
 *   caller gets that count).
 * - When the window is over, the housekeeping records the final count of each user and check
 *   refused more than once, once (`takeEndedCounts` hands each counter to one instance).
 * - Per-tenant cap: a user, or a user's check, is followed one by one only when its first refusal
 *   came while the tenant had at most 20 refusals in the window; the others are only counted in
 *   the tenant's total. The refusal that passes the cap is one audit event, and the tenant's total
 *   is recorded when the window is over. So a tenant gets at most 3 x 20 + 2 such events per
 *   window, however many refusals or user ids arrive.
 *
 * Nothing here ever sees the token or its claims: only the name of the check that failed.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log';
import type { ElevationNotification } from './notifications';
import type { AuditEvent, Clock, ElevationStore, Notifier } from './ports';
import type { Requester } from './request';

/** One refused sign-in token, as the Teams layer saw it. */
export interface SignInRefusal {
  user: Requester;
  /** The check that refused the token (e.g. `bad-signature`); `invalid-token` when unnamed. */
  check: string;
  conversation: { id: string; type?: string };
  /** How the token came: Teams' token exchange, or an Adaptive Card action after a loginRequest. */
  via: 'signin/tokenExchange' | 'adaptiveCard/action';
}

export interface SignInRefusalsOptions {
  store: Pick<ElevationStore, 'appendAudit' | 'countInWindow' | 'takeEndedCounts'>;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  /** Length of a counting window. */
  windowMs?: number;
  /** Refusals of one user (for one check) in a window that tell the subscribed channels. */
  userThreshold?: number;
  /** Refusals of a tenant in a window while new users are still followed one by one. */
  tenantCap?: number;
}

const DEFAULTS = { windowMs: 15 * 60_000, userThreshold: 5, tenantCap: 20 };

/** Keys of the counters in the store; the prefix finds them again when their window ends. */
const PREFIX = 'sign-in-refusals/';

/** What is stored with the counter of a user's refusals for one check by its first refusal. */
interface CheckCounter {
  kind: 'check';
  tenantId: string;
  userId: string;
  name: string;
  check: string;
  conversationId: string;
  conversationType?: string;
  via: SignInRefusal['via'];
  /** Whether this user's check is followed one by one (the tenant was under its cap). */
  followed: boolean;
  windowStart: string;
}

/** What is stored with the counter of all of a user's refusals by its first refusal. */
interface UserCounter {
  kind: 'user';
  /** Whether this user is followed one by one (the tenant was under its cap). */
  followed: boolean;
}

interface TenantCounter {
  kind: 'tenant';
  tenantId: string;
  windowStart: string;
}

export class SignInRefusals {
  private readonly windowMs: number;
  private readonly userThreshold: number;
  private readonly tenantCap: number;

  constructor(private readonly options: SignInRefusalsOptions) {
    this.windowMs = options.windowMs ?? DEFAULTS.windowMs;
    this.userThreshold = options.userThreshold ?? DEFAULTS.userThreshold;
    this.tenantCap = options.tenantCap ?? DEFAULTS.tenantCap;
  }

  /** Counts a refused token; audits and notifies as the doc comment above says. */
  async record(refusal: SignInRefusal): Promise<void> {
    const { store, clock, logger } = this.options;
    const now = clock.now();
    const start = Math.floor(now.getTime() / this.windowMs) * this.windowMs;
    const windowStart = new Date(start).toISOString();
    const windowEndsAt = new Date(start + this.windowMs);
    const tenantId = refusal.user.tenantId.toLowerCase();
    const userId = refusal.user.aadObjectId.toLowerCase();

    const tenantData: TenantCounter = {
      kind: 'tenant',
      tenantId: refusal.user.tenantId,
      windowStart,
    };
    const tenant = await store.countInWindow(
      `${PREFIX}tenant/${tenantId}/${start}`,
      windowEndsAt,
      JSON.stringify(tenantData),
    );
    const followed = tenant.count <= this.tenantCap;
    const userData: UserCounter = { kind: 'user', followed };
    const user = await store.countInWindow(
      `${PREFIX}user/${tenantId}/${userId}/${start}`,
      windowEndsAt,
      JSON.stringify(userData),
    );
    const checkData: CheckCounter = {
      kind: 'check',
      tenantId: refusal.user.tenantId,
      userId: refusal.user.aadObjectId,
      name: refusal.user.name,
      check: refusal.check,
      conversationId: refusal.conversation.id,
      conversationType: refusal.conversation.type,
      via: refusal.via,
      followed,
      windowStart,
    };
    const check = await store.countInWindow(
      `${PREFIX}check/${tenantId}/${userId}/${refusal.check}/${start}`,
      windowEndsAt,
      JSON.stringify(checkData),
    );
    logger.warn('sign-in token refused', {
      user: userId,
      tenantId,
      check: refusal.check,
      conversationId: refusal.conversation.id,
      via: refusal.via,
      refusalsOfUser: user.count,
    });

    const event = (details: Record<string, unknown>): AuditEvent => ({
      type: 'refused',
      at: now,
      actor: refusal.user.aadObjectId,
      tenantId: refusal.user.tenantId,
      details: {
        reason: 'sign-in-token-refused',
        check: refusal.check,
        conversationId: refusal.conversation.id,
        conversationType: refusal.conversation.type,
        via: refusal.via,
        windowStart,
        ...details,
      },
    });
    if ((JSON.parse(check.data) as CheckCounter).followed && check.count === 1) {
      await store.appendAudit(event({ refusalsInWindow: 1 }));
    }
    if ((JSON.parse(user.data) as UserCounter).followed && user.count === this.userThreshold) {
      await store.appendAudit(
        event({ refusalsOfUser: user.count, threshold: this.userThreshold }),
        this.notification(refusal, user.count, now),
      );
      this.options.notifier.wake();
    }
    if (tenant.count === this.tenantCap + 1) {
      await store.appendAudit({
        type: 'refused',
        at: now,
        tenantId: refusal.user.tenantId,
        details: {
          reason: 'sign-in-refusals-over-cap',
          tenantCap: this.tenantCap,
          windowStart,
          note: 'further refused sign-ins of new users in this window are only counted',
        },
      });
    }
  }

  /**
   * Records the final count of every window that is over: per followed user and check refused
   * more than once, and per tenant that passed its cap. Called by the housekeeping of any instance; each
   * window is recorded by one of them.
   */
  async closeEndedWindows(): Promise<number> {
    const { store, clock } = this.options;
    const now = clock.now();
    let recorded = 0;
    for (;;) {
      const ended = await store.takeEndedCounts(PREFIX, now, 100);
      for (const counter of ended) {
        const data = JSON.parse(counter.data) as CheckCounter | UserCounter | TenantCounter;
        const windowEnd = counter.windowEndsAt.toISOString();
        // A user's total is told by the threshold event; the final counts are per check.
        if (data.kind === 'check' && data.followed && counter.count > 1) {
          await store.appendAudit({
            type: 'refused',
            at: now,
            actor: data.userId,
            tenantId: data.tenantId,
            details: {
              reason: 'sign-in-token-refused',
              check: data.check,
              conversationId: data.conversationId,
              conversationType: data.conversationType,
              via: data.via,
              windowStart: data.windowStart,
              windowEnd,
              refusalsInWindow: counter.count,
            },
          });
          recorded += 1;
        } else if (data.kind === 'tenant' && counter.count > this.tenantCap) {
          await store.appendAudit({
            type: 'refused',
            at: now,
            tenantId: data.tenantId,
            details: {
              reason: 'sign-in-refusals-over-cap',
              tenantCap: this.tenantCap,
              windowStart: data.windowStart,
              windowEnd,
              refusalsInWindow: counter.count,
            },
          });
          recorded += 1;
        }
      }
      if (ended.length < 100) return recorded;
    }
  }

  private notification(refusal: SignInRefusal, count: number, at: Date): ElevationNotification {
    const minutes = Math.round(this.windowMs / 60_000);
    return {
      id: randomUUID(),
      kind: 'sign-in-refused',
      at: at.toISOString(),
      tenantId: refusal.user.tenantId,
      requester: { aadObjectId: refusal.user.aadObjectId, name: refusal.user.name },
      reason: `${count} refused sign-in tokens within ${minutes} minutes (the latest failed check: ${refusal.check}, in conversation ${refusal.conversation.id}). Someone may be trying to act as this user.`,
    };
  }
}
