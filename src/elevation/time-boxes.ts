/**
 * Time-boxed elevation: every granted elevation ends by itself. This use case opens the time box
 * at the grant, reminds before the end, removes the System Administrator role at the end with the
 * user's own delegated Dataverse token (kept for that, see LaterTokens), retries with backoff when
 * removal cannot be done now, and lets the requester end it early (I'm done, Remove now) or extend
 * it up to the maximum counted from the first grant.
 *
 * The request row is the timer: `timeBox.dueAt` is indexed by the store, and every move is a
 * guarded transition, so with several instances each step happens once. A removal is claimed with
 * a lease (`removing`, `leaseUntil`): a process that dies mid-removal leaves it due again when the
 * lease runs out, and the next one redoes it; removal is idempotent (nothing to remove is a
 * success). Each outcome is told in the chat, written to the audit chain and sent to the channels.
 */
import { requestAudit } from './request-audit';
import { randomUUID } from 'node:crypto';
import type { EndNowResult, ExtendResult, TimeBoxEvent } from './elevation-results';
import type { Logger } from '../log';
import { justificationProblem } from './justification';
import { removalNotification } from './notifications';
import type {
  AuditEvent,
  AuditEventType,
  Clock,
  ElevationStore,
  LaterTokenResult,
  LaterTokens,
  Notifier,
  RoleRemoval,
  TimeBoxStore,
  UserTokens,
} from './ports';
import { type ElevationRequest, isTimeBoxFinal, type Requester, type TimeBox } from './request';
import {
  endingOf,
  endingMessage,
  isDue,
  leaseFree,
  reminderTime,
  retryDelay,
  type TimeBoxSettings,
} from './time-box';
import { mayEndOrExtend } from './who-may';
import type { RemovalEnding, RemovalResult } from './vocabulary';

export type { TimeBoxSettings };

export interface TimeBoxServiceOptions extends TimeBoxSettings {
  store: ElevationStore & TimeBoxStore;
  /** The user's tokens while they are present (I'm done, Remove now). */
  tokens: UserTokens;
  /** The user's tokens while they are not (the end of the time box). */
  later: LaterTokens;
  removal: RoleRemoval;
  clock: Clock;
  logger: Logger;
  notifier?: Notifier;
  /** How long one removal may take, all timeouts included; its lease. */
  removalLeaseMs: number;
  /** First retry after a failed removal; doubles per attempt up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
}

export type { EndNowResult, ExtendResult, TimeBoxEvent } from './elevation-results';

/** One user's key for the keeps in flight. */
function userKey(user: Pick<Requester, 'tenantId' | 'aadObjectId'>): string {
  return `${user.tenantId}/${user.aadObjectId}`.toLowerCase();
}

export class TimeBoxService {
  /** Keeps still running, by user: a removal waits for the one of its user. */
  private readonly keeping = new Map<string, Promise<void>>();

  constructor(private readonly options: TimeBoxServiceOptions) {}

  get settings(): TimeBoxSettings {
    const { defaultMinutes, maxMinutes, reminderMinutes } = this.options;
    return { defaultMinutes, maxMinutes, reminderMinutes };
  }

  /**
   * Right after a grant, beside the answer (the user does not wait for it): keeps what is needed
   * to remove the role later as the user. A removal in this process waits for a keep still
   * running for that user. A failure is logged, not fatal: at the end the user is asked to press
   * Remove now.
   */
  keepTokens(request: ElevationRequest, grantedAt: Date): void {
    // The latest end any extension may reach; LaterTokens keeps it a margin longer for retries.
    const until = new Date(grantedAt.getTime() + this.options.maxMinutes * 60_000);
    const key = userKey(request.requester);
    const keeping = this.options.later
      .keep(request.requester, until)
      .catch((error: unknown) => ({ ok: false as const, message: String(error) }))
      .then((kept) => {
        if (!kept.ok) {
          this.options.logger.warn('could not keep a token for the end of the elevation', {
            requestId: request.id,
            message: kept.message,
          });
        }
      })
      .finally(() => {
        if (this.keeping.get(key) === keeping) this.keeping.delete(key);
      });
    this.keeping.set(key, keeping);
  }

  /** Once every keep still running is done: a stopping process keeps what it promised to. */
  async drain(): Promise<void> {
    await Promise.all(this.keeping.values());
  }

  /** The user's token for later, once a keep still running for them is done. */
  private async laterToken(user: Requester, resource: string): Promise<LaterTokenResult> {
    await this.keeping.get(userKey(user));
    return this.options.later.tokenFor(user, resource);
  }

  /** The requester's elevations not yet ended, soonest end first (`elevations`). */
  activeOf(user: Requester): Promise<ElevationRequest[]> {
    return this.options.store.activeElevations(user.tenantId, user);
  }

  /** Every elevation not yet ended in the tenant (`who is elevated`; the caller checks who asks). */
  activeIn(tenantId: string): Promise<ElevationRequest[]> {
    return this.options.store.activeElevations(tenantId);
  }

  /** The next time any time box needs the bot, so that the runner can sleep until then. */
  nextDue(): Promise<Date | undefined> {
    return this.options.store.nextTimeBoxDue();
  }

  /**
   * Runs what is due: reminders, removals at the end, retries, and removals a stopped process left
   * (their lease ran out). Each is claimed by one instance with a guarded write.
   */
  async runDue(limit = 50): Promise<TimeBoxEvent[]> {
    const now = this.options.clock.now();
    const due = await this.options.store.findDueTimeBoxes(now, limit);
    const events = await Promise.all(due.map((request) => this.runOne(request, now)));
    return events.filter((event): event is TimeBoxEvent => event !== undefined);
  }

  /** I'm done (active) or Remove now (overdue): the requester ends it at once with a fresh token. */
  async endNow(input: { requestId: string; clicker: Requester }): Promise<EndNowResult> {
    const { store, clock } = this.options;
    const request = await store.findRequest(input.requestId);
    if (!request) return { kind: 'unknown-request' };
    if (!mayEndOrExtend(input.clicker, request)) return { kind: 'not-requester', request };
    const box = request.timeBox;
    if (!box || isTimeBoxFinal(box)) return { kind: 'not-active', request };
    if (!leaseFree(box, clock.now())) return { kind: 'in-progress', request };
    const url = request.environment.dataverseUrl;
    if (!url) return { kind: 'not-active', request };
    // The token first: without one nothing changes and the button can be pressed again.
    const fresh = this.options.tokens.resourceToken
      ? await this.options.tokens.resourceToken(request.requester, url)
      : undefined;
    if (fresh && !fresh.ok && fresh.reason === 'sign-in-required')
      return { kind: 'sign-in-required', request };
    const now = clock.now();
    const claimed = await this.claimRemoval(request, now, true, (current) => {
      const b = current.timeBox;
      return !!b && !isTimeBoxFinal(b) && leaseFree(b, now);
    });
    if (!claimed) {
      const current = (await store.findRequest(request.id)) ?? request;
      return current.timeBox && !isTimeBoxFinal(current.timeBox)
        ? { kind: 'in-progress', request: current }
        : { kind: 'not-active', request: current };
    }
    const token = fresh?.ok
      ? { ok: true as const, token: fresh.token, adminRoles: fresh.adminRoles }
      : await this.laterToken(request.requester, url);
    const event = await this.removeClaimed(claimed, token, now, true);
    return { kind: 'ended', event };
  }

  /** Extend: the end moves by the default duration, never past the latest end; audited with why. */
  async extend(input: {
    requestId: string;
    clicker: Requester;
    justification?: string;
  }): Promise<ExtendResult> {
    const { store, clock } = this.options;
    const request = await store.findRequest(input.requestId);
    if (!request) return { kind: 'unknown-request' };
    if (!mayEndOrExtend(input.clicker, request)) return { kind: 'not-requester', request };
    const justification = (input.justification ?? '').trim();
    const problem = justificationProblem(justification, true);
    if (problem) return { kind: 'justification-required', request, problem };
    const now = clock.now();
    const box = request.timeBox;
    if (!box || box.phase !== 'active' || Date.parse(box.endsAt) <= now.getTime())
      return { kind: 'not-active', request };
    const latest = Date.parse(box.latestEnd);
    const step = box.extendMinutes ?? this.options.defaultMinutes;
    const endsAt = Math.min(Date.parse(box.endsAt) + step * 60_000, latest);
    const minutes = Math.round((endsAt - Date.parse(box.endsAt)) / 60_000);
    if (minutes <= 0) return { kind: 'at-limit', request };
    const end = new Date(endsAt);
    const remindAt = reminderTime(now, end, this.settings);
    const next: TimeBox = {
      ...box,
      endsAt: end.toISOString(),
      remindAt: remindAt?.toISOString(),
      dueAt: (remindAt ?? end).toISOString(),
      extensions: [...box.extensions, { at: now.toISOString(), minutes, justification }],
    };
    const extended = await store.transition(
      request.id,
      {
        from: ['succeeded'],
        to: 'succeeded',
        at: now,
        // Not while a reminder or removal holds it, and only from the end this click saw.
        guard: (current) =>
          current.timeBox?.phase === 'active' &&
          current.timeBox.endsAt === box.endsAt &&
          leaseFree(current.timeBox, now),
        set: { timeBox: next },
      },
      {
        audit: this.audit('extended', request, true, {
          minutes,
          justification,
          endsAt: next.endsAt,
          previousEnd: box.endsAt,
        }),
      },
    );
    if (!extended) {
      const current = (await store.findRequest(request.id)) ?? request;
      return { kind: 'not-active', request: current };
    }
    return { kind: 'extended', request: extended, minutes };
  }

  private async runOne(request: ElevationRequest, now: Date): Promise<TimeBoxEvent | undefined> {
    const box = request.timeBox;
    if (!box || isTimeBoxFinal(box) || !isDue(box, now) || !leaseFree(box, now)) return undefined;
    try {
      if (box.phase === 'active' && box.remindAt && Date.parse(box.endsAt) > now.getTime()) {
        return await this.remind(request, box, now);
      }
      const claimed = await this.claimRemoval(request, now, false, (current) => {
        const b = current.timeBox;
        return !!b && !isTimeBoxFinal(b) && b.dueAt === box.dueAt && leaseFree(b, now);
      });
      if (!claimed) return undefined;
      const url = claimed.environment.dataverseUrl;
      const token = url
        ? await this.laterToken(claimed.requester, url)
        : ({
            ok: false,
            reason: 'not-kept',
            message: 'the environment has no Dataverse URL',
          } as const);
      return await this.removeClaimed(claimed, token, now, false);
    } catch (error) {
      // The lease runs out and another attempt redoes it; nothing is lost.
      this.options.logger.error('time box step failed', { requestId: request.id, error });
      return undefined;
    }
  }

  /** The reminder, once: whoever moves `remindAt` away sends it. */
  private async remind(
    request: ElevationRequest,
    box: TimeBox,
    now: Date,
  ): Promise<TimeBoxEvent | undefined> {
    const reminded = await this.options.store.transition(
      request.id,
      {
        from: ['succeeded'],
        to: 'succeeded',
        at: now,
        guard: (current) =>
          current.timeBox?.phase === 'active' &&
          current.timeBox.remindAt === box.remindAt &&
          leaseFree(current.timeBox, now),
        set: { timeBox: { ...box, remindAt: undefined, dueAt: box.endsAt } },
      },
      { audit: this.audit('reminded', request, false, { endsAt: box.endsAt }) },
    );
    return reminded ? { kind: 'reminder', request: reminded } : undefined;
  }

  /** Takes the removal for this process for one lease; due again when the lease runs out. */
  private claimRemoval(
    request: ElevationRequest,
    now: Date,
    early: boolean,
    guard: (current: ElevationRequest) => boolean,
  ): Promise<ElevationRequest | undefined> {
    const box = request.timeBox!;
    const leaseUntil = new Date(now.getTime() + this.options.removalLeaseMs).toISOString();
    return this.options.store.transition(
      request.id,
      {
        from: ['succeeded'],
        to: 'succeeded',
        at: now,
        guard,
        set: {
          timeBox: {
            ...box,
            phase: 'removing',
            remindAt: undefined,
            leaseUntil,
            dueAt: leaseUntil,
            attempts: box.attempts + 1,
          },
        },
      },
      {
        audit: this.audit('removal-attempted', request, early, {
          attempt: box.attempts + 1,
          endsAt: box.endsAt,
          lateMs: Math.max(0, now.getTime() - Date.parse(box.endsAt)),
        }),
      },
    );
  }

  /** Removes the role of a claimed time box and records how it went, in one write. */
  private async removeClaimed(
    claimed: ElevationRequest,
    token: LaterTokenResult,
    startedAt: Date,
    early: boolean,
  ): Promise<Extract<TimeBoxEvent, { kind: 'ended' }>> {
    const { store, clock } = this.options;
    const box = claimed.timeBox!;
    let ending: RemovalEnding;
    /** What Dataverse said, when it was asked. */
    let result: RemovalResult | undefined;
    if (!token.ok) {
      ending = { kind: 'token-unavailable', reason: token.reason, message: token.message };
    } else {
      result = await this.options.removal
        .removeSystemAdministrator(token.token, claimed.environment.dataverseUrl!)
        .catch((error: unknown): RemovalResult => ({
          kind: 'unavailable',
          message: error instanceof Error ? error.message : String(error),
        }));
      ending = endingOf(result, token.adminRoles);
    }
    const now = clock.now();
    const done =
      ending.kind === 'removed' ||
      ending.kind === 'already-gone' ||
      ending.kind === 'removed-by-microsoft';
    const lastRemoval = result ? { ...result, at: now.toISOString() } : box.lastRemoval;
    const firstFailure = !done && !box.overdueSince;
    const next: TimeBox = done
      ? {
          ...box,
          phase: 'removed',
          dueAt: undefined,
          leaseUntil: undefined,
          lastRemoval,
          endedAt: now.toISOString(),
          endedEarlyBy: early ? claimed.requester.aadObjectId : undefined,
        }
      : {
          ...box,
          phase: 'overdue',
          leaseUntil: undefined,
          dueAt: new Date(
            now.getTime() + retryDelay(box.attempts, ending, this.options),
          ).toISOString(),
          lastRemoval,
          overdueSince: box.overdueSince ?? now.toISOString(),
        };
    const details = {
      ending: ending.kind,
      status: result?.status,
      dataverseRequestId: result?.requestId,
      message: endingMessage(ending, result),
      attempt: box.attempts,
      early,
      endsAt: box.endsAt,
      lateMs: early ? 0 : Math.max(0, startedAt.getTime() - Date.parse(box.endsAt)),
      nextAttemptAt: done ? undefined : next.dueAt,
    };
    const type: AuditEventType = done
      ? 'role-removed'
      : ending.kind === 'token-unavailable'
        ? 'removal-overdue'
        : 'removal-failed';
    const notify = done || firstFailure;
    const finished = await store.transition(
      claimed.id,
      {
        from: ['succeeded'],
        to: 'succeeded',
        at: now,
        // Only while this process still holds the lease it claimed.
        guard: (current) =>
          current.timeBox?.phase === 'removing' && current.timeBox.leaseUntil === box.leaseUntil,
        set: { timeBox: next },
      },
      {
        audit: this.audit(type, claimed, early, details),
        notification: notify
          ? removalNotification({
              id: randomUUID(),
              at: now,
              request: claimed,
              timeBox: next,
              ending,
              result,
              early,
            })
          : undefined,
      },
    );
    if (!finished) {
      // The lease ran out meanwhile and another instance took over: it records the outcome.
      this.options.logger.warn('removal finished after its lease; left to the other attempt', {
        requestId: claimed.id,
        ending: ending.kind,
      });
    } else if (notify) {
      this.options.notifier?.wake();
    }
    if (finished && done) await this.forgetTokensIfLast(claimed.requester);
    this.options.logger.info('time box removal', {
      requestId: claimed.id,
      ending: ending.kind,
      status: result?.status,
      dataverseRequestId: result?.requestId,
      early,
    });
    return {
      kind: 'ended',
      request: finished ?? { ...claimed, timeBox: next },
      ending,
      tell: !!finished && (done || firstFailure || early),
      early,
    };
  }

  private async forgetTokensIfLast(user: Requester): Promise<void> {
    try {
      const active = await this.options.store.activeElevations(user.tenantId, user);
      if (active.length === 0) await this.options.later.forget(user);
    } catch (error) {
      this.options.logger.warn('could not forget the kept token', { error });
    }
  }

  /** `byRequester`: the requester clicked (I'm done, Extend); otherwise the bot acted on a timer. */
  private audit(
    type: AuditEventType,
    request: ElevationRequest,
    byRequester: boolean,
    details?: Record<string, unknown>,
  ): AuditEvent {
    const actor = byRequester ? request.requester.aadObjectId : undefined;
    return requestAudit(type, request, this.options.clock.now(), actor, details);
  }
}
