/**
 * The elevation story, from one file: a requester asks (requestElevation), confirms
 * (confirmElevation) or cancels (cancelElevation); requests left unconfirmed expire (expireDue).
 * Free of botbuilder: the Teams layer translates activities into these calls and results into cards.
 */
import { requestAudit } from './request-audit';
import { mayActOnRequest } from './who-may';
import { callApplyAdminRole } from './apply-admin-role';
import { type ApprovalService, approvedTerms, awaitsApproval } from './approvals';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log';
import type { Policy } from '../policy/policy';
import type { CancelResult, ConfirmResult, RequestResult } from './elevation-results';
import { EnvironmentLists } from './environment-lists';
import type { MatchReason } from './environment-resolution';
import { Guardrails } from './guardrails';
import { outcomeNotification } from './notifications';
import type {
  AuditEvent,
  Clock,
  CloseOthers,
  ElevationStore,
  Notifier,
  Page,
  PowerPlatform,
  RoleLookup,
  StepUpLinks,
  UserTokens,
} from './ports';
import { Refusals } from './refusals';
import { type ClosedBecause, type ElevationRequest, outcomeTime, type Requester } from './request';
import { compareRole, lookUpRole } from './role-check';
import { askStepUp, requestToken } from './step-up';
import type { TimeBoxService } from './time-boxes';
import type { AdminRoleOutcome, Environment } from './vocabulary';

export interface ElevationServiceOptions {
  store: ElevationStore;
  powerPlatform: PowerPlatform;
  tokens: UserTokens;
  clock: Clock;
  logger: Logger;
  /** How long a confirmation stays valid. */
  requestTtlMinutes: number;
  /** Whether Elevate needs a non-empty justification. */
  justificationRequired: boolean;
  /** How long a user's environment list is reused. */
  environmentCacheSeconds: number;
  /** Asks Dataverse before and after whether the role is held; absent: no role check. */
  roleLookup?: RoleLookup;
  /** Told when a notification was put in the outbox (delivery happens elsewhere, later). */
  notifier?: Notifier;
  /**
   * The longest an execution can take, all its timeouts included. A request still executing after
   * that was left by a process that died, and is reconciled as "outcome unknown".
   */
  executionLeaseMs: number;
  /** Time-boxed elevation: every grant gets a time box (absent: the role stays until removed). */
  timeBoxes?: TimeBoxService;
  /** Guardrails per environment (POLICY_FILE); absent: no rule beyond the settings above. */
  policy?: Policy;
  /** Step-up sign-in links, for rules asking an authentication context (step-up.ts). */
  stepUp?: StepUpLinks;
  /** Second-person approval: its expiry and its cards' queue ride on expireDue. */
  approvals?: ApprovalService;
}

/** How long after an elevation a new card for the same environment mentions it. */
const RECENT_ELEVATION_MS = 24 * 60 * 60_000;

export type { CancelResult, ConfirmResult, RequestResult } from './elevation-results';

export class ElevationService {
  private readonly refusals: Refusals;
  private readonly environments: EnvironmentLists;
  /** The policy's rules, applied at open and at Elevate. */
  readonly guardrails: Guardrails;

  constructor(private readonly options: ElevationServiceOptions) {
    this.refusals = new Refusals(options);
    this.guardrails = new Guardrails(options);
    this.environments = new EnvironmentLists({ ...options, refusals: this.refusals });
  }

  /** "elevate me in <query>": resolve the environment and open a request awaiting confirmation. */
  async requestElevation(
    requester: Requester,
    query: string,
    minutes?: number,
  ): Promise<RequestResult> {
    // Longer than any rule allows: refused before the environment is looked up.
    const tooLong = this.guardrails.longerThanAnyRule(minutes);
    if (tooLong) return tooLong;
    const found = await this.findEnvironment(requester, query);
    if (found.kind === 'ambiguous' || found.kind === 'not-found') return { ...found, minutes };
    if (found.kind !== 'found') return found;
    const opened = await this.openRequest(requester, found.environment, query, minutes);
    return opened.kind === 'confirm' && found.reason ? { ...opened, reason: found.reason } : opened;
  }

  /** The one environment the user means, among those they can see, or why there is none. */
  findEnvironment(
    requester: Requester,
    query: string,
  ): Promise<
    | { kind: 'found'; environment: Environment; reason?: MatchReason }
    | Exclude<RequestResult, { kind: 'confirm' }>
  > {
    return this.environments.find(requester, query);
  }

  /** Every environment the user can see (`environments`), with their own token, as listed. */
  environmentsVisibleTo(
    requester: Requester,
  ): Promise<
    { kind: 'ok'; environments: Environment[] } | Exclude<RequestResult, { kind: 'confirm' }>
  > {
    return this.environments.all(requester);
  }

  /** Whether the user's environment list is cached and fresh (no API call, no wait). */
  hasFreshEnvironments(requester: Requester): boolean {
    return this.environments.isFresh(requester);
  }

  /** The requester's own requests, by outcome time, newest first (`history`). */
  historyOf(requester: Requester, page: Page): Promise<ElevationRequest[]> {
    return this.options.store.requestsOf(requester, page);
  }

  /** The outcomes in one environment of the requester's tenant, newest first (`audit <env>`). */
  requestsIn(requester: Requester, environmentId: string, page: Page): Promise<ElevationRequest[]> {
    return this.options.store.requestsIn(requester.tenantId, environmentId, page);
  }

  /** The requester picked one environment out of several that matched. */
  async requestElevationIn(
    requester: Requester,
    environmentId: string,
    query: string,
    minutes?: number,
  ): Promise<RequestResult> {
    const tooLong = this.guardrails.longerThanAnyRule(minutes);
    if (tooLong) return tooLong;
    const picked = await this.environments.byId(requester, environmentId, query);
    if (picked.kind !== 'ok') return picked;
    if (!picked.environment) return { kind: 'not-found', query, suggestions: [] };
    return this.openRequest(requester, picked.environment, query, minutes);
  }

  /** Elevate was pressed. Executes the request at most once, and only for its requester. */
  async confirmElevation(input: {
    requestId: string;
    clicker: Requester;
    justification?: string;
    /** The duration chosen on the card; absent: what was asked with the request. */
    minutes?: number;
  }): Promise<ConfirmResult> {
    const { store, clock } = this.options;
    // This process's last copy may answer (a round trip less): the claim is conditional on it.
    // What its state would refuse (clicked, awaiting approval, expired) is read afresh.
    let request = await store.findRequest(input.requestId, { recent: true });
    if (request && !mayGoOn(request, input.clicker, clock.now())) {
      request = await store.findRequest(input.requestId);
    }
    if (!request) return { kind: 'unknown-request' };
    const log = this.options.logger.child({ requestId: request.id });

    if (!mayActOnRequest(input.clicker, request)) {
      await this.refusals.refuse(input.clicker, 'not-requester', request);
      return { kind: 'not-requester', request };
    }
    if (request.state !== 'requested') return { kind: 'already-handled', request };
    if (awaitsApproval(request)) return { kind: 'approval-required', request };
    // Approved: the elevation runs on the terms the approver saw, whatever the card sends.
    const terms = approvedTerms(request);
    if (terms) input = { ...input, ...terms };

    const now = clock.now();
    if (Date.parse(request.expiresAt) <= now.getTime()) {
      const expired = await this.expire(request, now);
      return expired ? { kind: 'expired', request: expired } : this.currentState(request.id);
    }

    const justification = (input.justification ?? '').trim();
    const asked = input.minutes ?? request.minutes;
    const duration = await this.guardrails.atConfirm(request, justification, asked);
    if (!duration.ok) return duration.result;

    // The token comes first: without one nothing changes, and the same card can be pressed again.
    const token = await requestToken(this.options, request);
    if (!token.ok && token.reason === 'step-up-required')
      return askStepUp(this.options, request, token, { justification, minutes: duration.minutes });
    if (!token.ok) {
      await this.refusals.refuseToken(
        { ...request.requester, upn: token.upn ?? request.requester.upn },
        token.reason,
        { request },
      );
      return { kind: 'no-token', request, reason: token.reason, message: token.message };
    }
    // The sign-in knows the user's principal name and admin roles; Teams' activity does not.
    const requester = {
      ...request.requester,
      upn: token.upn ?? request.requester.upn,
      adminRoles: token.adminRoles ?? request.requester.adminRoles,
    };

    // The role before the grant (a Dataverse read as the user), beside the claim: a lost claim
    // only leaves it unused.
    const reading = lookUpRole(this.options, request);
    reading.catch(() => undefined);
    const clientRequestId = randomUUID();
    // The claim, its `confirmed` audit event and the closing of the requester's other cards for
    // this environment are one write: once it runs, no other card of theirs can run it again.
    const closeOthers = this.closeOthers({ kind: 'elevated-elsewhere', by: request.id });
    const claimed = await store.transition(
      request.id,
      {
        from: ['requested'],
        to: 'executing',
        at: now,
        unexpiredAt: now,
        set: {
          justification: justification || undefined,
          clientRequestId,
          executionDeadline: new Date(now.getTime() + this.options.executionLeaseMs).toISOString(),
          minutes: duration.minutes,
        },
      },
      {
        audit: this.auditEvent('confirmed', request, {
          justification: justification || undefined,
          clientRequestId,
          minutes: duration.minutes,
        }),
        closeOthers,
        notificationFollows: true,
      },
    );
    // Another click won the race (or the request just expired): report what stands.
    if (!claimed) return this.currentState(request.id);

    log.info('calling applyAdminRole', { environmentId: claimed.environment.id, clientRequestId });
    const before = await reading;
    const outcome = await callApplyAdminRole(this.options, token.token, claimed, clientRequestId);
    const roleCheck =
      outcome.ok && before ? await compareRole(this.options, claimed, before) : undefined;
    // What removes the role later is kept beside the answer; nothing is kept for a role held before.
    if (outcome.ok && !(before?.ok && before.holdsSystemAdministrator))
      this.options.timeBoxes?.keepTokens(claimed, now);
    const finishedAt = clock.now();
    // Time-boxed: the box the rule's durations give (guardrails.ts).
    const timeBox = outcome.ok
      ? this.guardrails.timeBoxOf(claimed, roleCheck, finishedAt)
      : undefined;
    const executed = this.auditEvent('executed', claimed, {
      outcome: outcome.ok ? 'succeeded' : outcome.kind,
      status: outcome.response.status,
      correlationId: outcome.response.correlationId,
      clientRequestId,
      rawBody: outcome.rawBody,
    });
    // The outcome, its audit record and the channels' notification are one write: none without the others.
    const finished = await store.transition(
      request.id,
      {
        from: ['executing'],
        to: outcome.ok ? 'succeeded' : 'failed',
        at: finishedAt,
        set: { outcome, requester, ...(roleCheck && { roleCheck }), ...(timeBox && { timeBox }) },
      },
      {
        audit: timeBox
          ? {
              ...executed,
              details: { ...executed.details, endsAt: timeBox.endsAt, timeBox: timeBox.phase },
            }
          : executed,
        notification: outcomeNotification({
          id: randomUUID(),
          at: finishedAt,
          request: { ...claimed, requester },
          outcome,
        }),
      },
    );
    if (finished) {
      this.options.notifier?.wake();
    } else {
      // Nothing else moves a request out of executing; should it happen, the audit still says so.
      await store.appendAudit(executed);
    }
    const result = finished ?? {
      ...claimed,
      requester,
      state: outcome.ok ? 'succeeded' : 'failed',
      outcome,
      roleCheck,
    };
    if (!outcome.ok && outcome.kind === 'environment-not-found') {
      // The list that offered this environment is out of date: the next request fetches a new one.
      this.environments.forget(request.requester);
    }
    log.info('elevation finished', {
      outcome: outcome.ok ? 'succeeded' : outcome.kind,
      status: outcome.response.status,
      correlationId: outcome.response.correlationId,
    });
    return { kind: 'executed', request: result, closed: closeOthers.closed ?? [] };
  }

  /** Cancel was pressed: only the requester may cancel, and only a request still waiting. */
  async cancelElevation(input: { requestId: string; clicker: Requester }): Promise<CancelResult> {
    const request = await this.options.store.findRequest(input.requestId);
    if (!request) return { kind: 'unknown-request' };
    if (!mayActOnRequest(input.clicker, request)) {
      await this.refusals.refuse(input.clicker, 'not-requester', request);
      return { kind: 'not-requester', request };
    }
    // The cancellation and its audit event are one write: a crash cannot keep one without the other.
    const cancelled = await this.options.store.transition(
      request.id,
      { from: ['requested'], to: 'cancelled', at: this.options.clock.now() },
      { audit: this.auditEvent('cancelled', request) },
    );
    if (!cancelled) {
      const current = (await this.options.store.findRequest(request.id)) ?? request;
      return { kind: 'already-handled', request: current };
    }
    return { kind: 'cancelled', request: cancelled };
  }

  /** Expires every request whose confirmation time is up; returns those it expired. */
  async expireDue(limit = 100): Promise<ElevationRequest[]> {
    const now = this.options.clock.now();
    const due = await this.options.store.findExpired(now, limit);
    const expired: ElevationRequest[] = [];
    for (const request of due) {
      const done =
        request.policy?.approval?.status === 'pending' && this.options.approvals
          ? await this.options.approvals.due(request, now)
          : await this.expire(request, now);
      if (done) expired.push(done);
    }
    return expired;
  }

  /**
   * Requests a dead process left executing (past their deadline) become failed with an unknown
   * outcome: the user, the audit trail and the channels are told, with the client request id.
   * Safe with several instances: each request is reconciled by one of them (a conditional write).
   */
  async reconcileAbandoned(limit = 100): Promise<ElevationRequest[]> {
    const { store, clock } = this.options;
    const now = clock.now();
    const reconciled: ElevationRequest[] = [];
    for (const request of await store.findAbandonedExecutions(now, limit)) {
      const clientRequestId = request.clientRequestId ?? 'unknown';
      const outcome: AdminRoleOutcome = {
        ok: false,
        kind: 'interrupted',
        message:
          'The bot stopped (a restart or a crash) while the Power Platform API call was in progress, so its outcome is unknown.',
        details: [],
        response: {
          clientRequestId,
          attempts: 0,
          durationMs: Math.max(0, now.getTime() - Date.parse(request.updatedAt)),
        },
      };
      const done = await store.transition(
        request.id,
        { from: ['executing'], to: 'failed', at: now, set: { outcome } },
        {
          audit: this.auditEvent('executed', request, {
            outcome: 'interrupted',
            clientRequestId,
            reconciled: true,
          }),
          notification: outcomeNotification({ id: randomUUID(), at: now, request, outcome }),
        },
      );
      if (!done) continue;
      this.options.logger.warn('reconciled an execution left by a stopped process', {
        requestId: request.id,
        clientRequestId,
      });
      reconciled.push(done);
    }
    if (reconciled.length > 0) this.options.notifier?.wake();
    return reconciled;
  }

  /** Remembers where the confirmation card was posted, so it can be updated for everyone. */
  async rememberCard(
    requestId: string,
    conversation: unknown,
    cardMessageId: string,
  ): Promise<void> {
    await this.options.store.setCardMessage(requestId, conversation, cardMessageId);
  }

  findRequest(requestId: string): Promise<ElevationRequest | undefined> {
    return this.options.store.findRequest(requestId);
  }

  private async openRequest(
    requester: Requester,
    environment: Environment,
    query: string,
    minutes: number | undefined,
  ): Promise<RequestResult> {
    // Without Dataverse there is no System Administrator role to receive.
    if (!environment.dataverseUrl) return { kind: 'no-dataverse', environment };
    if (environment.state && /disabled|deleted|suspended/i.test(environment.state)) {
      return { kind: 'environment-disabled', environment };
    }
    const allowed = await this.guardrails.atOpen(requester, environment, minutes);
    if (!allowed.ok) return allowed.result;
    const now = this.options.clock.now();
    const request: ElevationRequest = {
      id: randomUUID(),
      state: 'requested',
      requester,
      environment,
      query,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.options.requestTtlMinutes * 60_000).toISOString(),
      minutes: allowed.minutes,
      policy: allowed.policy,
    };
    // The new card replaces the requester's older open ones for this environment, in one write;
    // their last elevation there is looked up meanwhile (the write cannot change it).
    const closeOthers = this.closeOthers({ kind: 'replaced', by: request.id });
    const [last] = await Promise.all([
      this.options.store.lastExecutionOf(requester, environment.id),
      this.options.store.createRequest(request, {
        audit: this.auditEvent('requested', request, { query }),
        closeOthers,
      }),
    ]);
    const recent =
      last && now.getTime() - Date.parse(outcomeTime(last)) < RECENT_ELEVATION_MS
        ? last
        : undefined;
    return {
      kind: 'confirm',
      request,
      replaced: closeOthers.closed ?? [],
      lastExecution: recent,
    };
  }

  /** Closes the requester's other open cards for an environment, each with a `cancelled` event. */
  private closeOthers(because: ClosedBecause): CloseOthers {
    return {
      because,
      audit: (closed) =>
        this.auditEvent('cancelled', closed, { reason: because.kind, by: because.by }),
    };
  }

  /** The expiry and its audit event are one write, as every transition is. */
  private expire(request: ElevationRequest, now: Date): Promise<ElevationRequest | undefined> {
    return this.options.store.transition(
      request.id,
      { from: ['requested'], to: 'expired', at: now },
      { audit: this.auditEvent('expired', request) },
    );
  }

  private async currentState(requestId: string): Promise<ConfirmResult> {
    const current = await this.options.store.findRequest(requestId);
    if (!current) return { kind: 'unknown-request' };
    return current.state === 'expired'
      ? { kind: 'expired', request: current }
      : { kind: 'already-handled', request: current };
  }

  private auditEvent(
    type: 'requested' | 'confirmed' | 'cancelled' | 'expired' | 'executed',
    request: ElevationRequest,
    details?: Record<string, unknown>,
  ): AuditEvent {
    const actor = type === 'expired' ? undefined : request.requester.aadObjectId;
    return requestAudit(type, request, this.options.clock.now(), actor, details);
  }
}

/** Whether Elevate, pressed by `clicker`, goes on from `request` as it is. */
function mayGoOn(request: ElevationRequest, clicker: Requester, now: Date): boolean {
  return (
    mayActOnRequest(clicker, request) &&
    request.state === 'requested' &&
    !awaitsApproval(request) &&
    Date.parse(request.expiresAt) > now.getTime()
  );
}
