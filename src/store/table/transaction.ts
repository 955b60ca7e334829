/**
 * Steps on Table Storage: what a write decides from a fresh read, and its effects (audit links,
 * notification and outbox rows), as ONE entity group transaction in one tenant partition. Every
 * write in it is conditional (an ETag, or an insert that fails when the entity exists); on a
 * conflict the whole transaction is void and the step is retried from a fresh read.
 */
import type { TableTransactionResponse, TransactionAction } from '@azure/data-tables';
import type { AuditEvent, Effects } from '../../elevation/ports';
import { AUDIT_HEAD, readAuditHead, stageAuditLinks } from './audit';
import {
  type Stored,
  chainPartition,
  fromKeyPart,
  MAX_TRANSACTION_BYTES,
  notificationRow,
  tenantPartition,
  tooBig,
  wireBytes,
} from './entities';
import type { FanOut } from './fan-out';
import { retriable, RETRY, retrying, type Tables } from './tables';

/** What one attempt of a step writes into its partition. */
export interface Step<T> {
  actions: TransactionAction[];
  result: T;
  /** Whether the step's effects go with it (false: nothing happened, so nothing is recorded). */
  withEffects: boolean;
  /** Audit events the step decided on (requests it closed), linked after the effects' own. */
  audits?: AuditEvent[];
  /** Told the new ETag of each of `actions` (in their order) once the transaction committed. */
  committed?: (etags: Array<string | undefined>) => void;
}

/** How long after a conflict a partition's remembered rows are not used (see `calm`). */
const CONTENTION_MS = 10_000;

export class Transactions {
  /**
   * The chain head of each partition as this process last wrote it, with its new ETag. A step
   * starts from it instead of reading it (one round trip less): the transaction is conditional on
   * that ETag, so a head another instance moved since voids it, and the retry reads the head.
   */
  private readonly heads = new Map<string, Stored>();
  /**
   * When a transaction in each partition last conflicted with another writer (performance.now()).
   * While writers contend, what this process remembers is mostly stale, and starting from it would
   * cost a failed transaction more than the read it saves: it is not used for a while.
   */
  private readonly conflicts = new Map<string, number>();

  /** Whether what this process remembers of partition `pk` is worth starting a step from. */
  calm(pk: string): boolean {
    const last = this.conflicts.get(pk);
    return last === undefined || performance.now() - last > CONTENTION_MS;
  }

  constructor(
    private readonly tables: Tables,
    private readonly fanOut: FanOut,
  ) {}

  /**
   * One step in partition `pk`: what `read` decides to write and, in the same transaction, the
   * effects that belong to this partition. Effects of another partition (an audit event without
   * the tenant of the subscription it is about, say) cannot join the transaction: `strict`
   * refuses them (a transition's effects must be atomic with it); otherwise they are written
   * right after, as a step of their own.
   */
  async step<T>(
    pk: string,
    what: string,
    effects: Effects | undefined,
    at: Date,
    strict: boolean,
    read: (afterHead: Promise<void>) => Promise<Step<T>>,
  ): Promise<T> {
    const { here, elsewhere } = splitEffects(pk, effects);
    if (strict && elsewhere) {
      throw new Error(
        `TableStore: ${what}: its audit event and notification must be of the request's tenant (${fromKeyPart(pk)}), to be written in one transaction with it`,
      );
    }
    await this.tables.register(pk);
    let followUp: (() => Promise<void>) | undefined;
    let withEffects = false;
    let attempts = 0;
    const attempt = () =>
      retrying(what, async () => {
        attempts += 1;
        // The chain head first: every write with effects moves it, so its ETag in the transaction
        // fails the step if anything the step reads after it (another card's index rows, say)
        // was changed by a write that committed after this read. A read of a row the transaction
        // writes with its own ETag condition needs no such cover: `read` starts those at once,
        // beside the head's read (one round trip, not two), and awaits `afterHead` before the
        // others.
        const known = here && this.calm(pk) ? this.heads.get(pk) : undefined;
        const headRead = !here
          ? Promise.resolve(undefined)
          : known
            ? Promise.resolve(known)
            : readAuditHead(this.tables, pk);
        const afterHead = headRead.then(() => undefined);
        // Reported through headRead below; a step that returns early never awaits afterHead.
        afterHead.catch(() => undefined);
        const [headEntity, step] = await Promise.all([headRead, read(afterHead)]);
        const head = here ? { entity: headEntity } : undefined;
        const staged =
          step.withEffects && (here || step.audits?.length)
            ? await this.stageEffects(
                pk,
                here ?? {},
                at,
                step.actions,
                step.audits ?? [],
                head,
                attempts > 1,
              )
            : undefined;
        const actions = [...step.actions, ...(staged?.actions ?? [])];
        if (actions.length > 0) {
          try {
            const response = await this.tables.tenants.submitTransaction(actions);
            this.rememberHead(pk, actions, response);
            step.committed?.(response.subResponses.map((r) => r.etag));
          } catch (error) {
            // A head known from an earlier write may be the one that moved: read it next time.
            this.heads.delete(pk);
            if (retriable(error)) this.conflicts.set(pk, performance.now());
            // The request, the chain head or the notification moved since they were read.
            if (retriable(error)) return RETRY;
            throw error;
          }
        }
        followUp = staged?.followUp;
        withEffects = step.withEffects;
        return step.result;
      });
    // Writes with effects move the tenant's audit chain head: inside this process they take
    // turns, so that only other instances can make them retry (optimistic concurrency between
    // fifty local writers would mostly retry).
    const result = here ? await this.oneAtATime(pk, attempt) : await attempt();
    if (followUp) await followUp();
    if (withEffects && elsewhere) await this.writeEffects(elsewhere, at);
    return result;
  }

  /**
   * After a transaction that moved the chain head: the head as written, with its new ETag. The
   * answers come in the order of the operations (the SDK names the row of inserts only).
   */
  private rememberHead(
    pk: string,
    actions: TransactionAction[],
    response: TableTransactionResponse,
  ): void {
    const at = actions.findIndex(([, entity]) => entity.rowKey === AUDIT_HEAD);
    if (at < 0) return;
    const etag = response.subResponses[at]?.etag;
    if (etag) this.heads.set(pk, { ...actions[at]![1], etag } as Stored);
    else this.heads.delete(pk);
  }

  private readonly partitionTurns = new Map<string, Promise<void>>();

  /** Runs `work` after every earlier call for the same partition in this process has finished. */
  private async oneAtATime<T>(pk: string, work: () => Promise<T>): Promise<T> {
    const previous = this.partitionTurns.get(pk) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const turn = previous.then(() => mine);
    this.partitionTurns.set(pk, turn);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.partitionTurns.get(pk) === turn) this.partitionTurns.delete(pk);
    }
  }

  /** Effects alone: the audit event's chain and the notification's tenant, together when they are one partition. */
  async writeEffects(effects: Effects, at: Date): Promise<void> {
    const auditPk = effects.audit ? chainPartition(effects.audit) : undefined;
    const notificationPk = effects.notification
      ? tenantPartition(effects.notification.tenantId)
      : undefined;
    if (auditPk && notificationPk && auditPk !== notificationPk) {
      await this.writeEffects({ audit: effects.audit }, at);
      await this.writeEffects({ notification: effects.notification }, at);
      return;
    }
    const pk = auditPk ?? notificationPk;
    if (!pk) return;
    await this.step(pk, 'writing an audit event', effects, at, true, async () => ({
      actions: [],
      result: undefined,
      withEffects: true,
    }));
  }

  /**
   * The operations that write `effects` into partition `pk`, after `primary`: the chain's next
   * link (head ETag-conditional, event inserted), and the notification with one outbox row per
   * matching subscription, for as many as the transaction can hold. A transaction holds at most
   * 100 operations (and 4 MiB): with a request, the chain head, the event and the notification,
   * 96 channels fit. The notification of more channels is written with `fanoutPending`, and the
   * other rows right after the transaction, by `completeFanout`: creates that skip rows already
   * there, so doing it twice is harmless. Should the process stop before it is done,
   * `repairFanouts` (before every claim) finishes it, for the channels subscribed then.
   * `retry`: an earlier attempt of the step may have written the notification.
   */
  private async stageEffects(
    pk: string,
    effects: Effects,
    at: Date,
    primary: TransactionAction[],
    moreAudits: AuditEvent[] = [],
    head?: { entity: Stored | undefined },
    retry = false,
  ): Promise<{ actions: TransactionAction[]; followUp?: () => Promise<void> }> {
    const actions: TransactionAction[] = [];
    const audits = [...(effects.audit ? [effects.audit] : []), ...moreAudits];
    if (audits.length > 0) actions.push(...(await stageAuditLinks(this.tables, pk, audits, head)));
    let followUp: (() => Promise<void>) | undefined;
    const notification = effects.notification;
    // Is it there already (an earlier attempt's transaction committed, though its answer was
    // lost)? Only a retry can tell: a first attempt creates it, and the create fails the
    // transaction if it exists.
    if (
      notification &&
      !(retry && (await this.tables.get(this.tables.tenants, pk, notificationRow(notification.id))))
    ) {
      const staged = await this.fanOut.stage(pk, notification, at, [...primary, ...actions]);
      actions.push(...staged.actions);
      followUp = staged.followUp;
    } else if (actions.length > 0) {
      const bytes = [...primary, ...actions].reduce((sum, a) => sum + wireBytes(a[1]), 0);
      if (bytes > MAX_TRANSACTION_BYTES) throw tooBig(bytes);
    }
    return { actions, followUp };
  }
}

/** Which effects can join a transaction in partition `pk`, and which cannot. */
export function splitEffects(
  pk: string,
  effects: Effects | undefined,
): { here?: Effects; elsewhere?: Effects } {
  if (!effects) return {};
  const here: Effects = {};
  const elsewhere: Effects = {};
  if (effects.audit) {
    if (chainPartition(effects.audit) === pk) here.audit = effects.audit;
    else elsewhere.audit = effects.audit;
  }
  if (effects.notification) {
    if (tenantPartition(effects.notification.tenantId) === pk) {
      here.notification = effects.notification;
    } else {
      elsewhere.notification = effects.notification;
    }
  }
  const some = (e: Effects) => e.audit !== undefined || e.notification !== undefined;
  return {
    here: some(here) ? here : undefined,
    elsewhere: some(elsewhere) ? elsewhere : undefined,
  };
}
