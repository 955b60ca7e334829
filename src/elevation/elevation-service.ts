/**
 * The elevation story, from one file: a requester asks (requestElevation), confirms
 * (confirmElevation) or cancels (cancelElevation); requests left unconfirmed expire (expireDue).
 * Free of botbuilder: the Teams layer translates activities into these calls and results into cards.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log';
import { BoundedMap } from '../support/bounded-map';
import type { AdminRoleOutcome, Environment, Failure } from './vocabulary';
import {
  createEnvironmentIndex,
  type EnvironmentIndex,
  type MatchReason,
} from './environment-resolution';
import { outcomeNotification, refusalNotification } from './notifications';
import type {
  AuditEvent,
  Clock,
  CloseOthers,
  ElevationStore,
  Notifier,
  Page,
  PowerPlatform,
  RoleLookup,
  RoleLookupResult,
  TokenRefusal,
  UserTokens,
} from './ports';
import {
  type ClosedBecause,
  type ElevationRequest,
  outcomeTime,
  type Requester,
  type RoleCheck,
} from './request';

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
}

/** How long after an elevation a new card for the same environment mentions it. */
export const RECENT_ELEVATION_MS = 24 * 60 * 60_000;

/** Longest justification kept; longer text is refused rather than cut silently. */
export const MAX_JUSTIFICATION_LENGTH = 500;
/** Users whose environment lists are cached at once. */
const ENVIRONMENT_CACHE_ENTRIES = 1000;

export type RequestResult =
  /**
   * `reason`: what the words matched, when they were not the exact id, display name or URL;
   * `replaced`: the requester's older open cards for the environment, closed by this request;
   * `lastExecution`: their last elevation there, when it was recent.
   */
  | {
      kind: 'confirm';
      request: ElevationRequest;
      reason?: MatchReason;
      replaced: ElevationRequest[];
      lastExecution?: ElevationRequest;
    }
  | { kind: 'ambiguous'; query: string; candidates: Environment[]; total: number }
  | { kind: 'not-found'; query: string; suggestions: Environment[] }
  | { kind: 'no-dataverse'; environment: Environment }
  | { kind: 'environment-disabled'; environment: Environment }
  /** No usable token: sign in first, or a pre-flight check refused (nothing was called). */
  | { kind: 'no-token'; reason: TokenRefusal; message: string }
  | { kind: 'listing-failed'; failure: Failure };

export type ConfirmResult =
  | { kind: 'unknown-request' }
  /** Someone other than the requester clicked: nothing is called. */
  | { kind: 'not-requester'; request: ElevationRequest }
  | { kind: 'justification-required'; request: ElevationRequest; problem: string }
  | { kind: 'expired'; request: ElevationRequest }
  /** Already executing or finished: the request as it stands, nothing called again. */
  | { kind: 'already-handled'; request: ElevationRequest }
  /** No usable token: the request stays as it is and can be confirmed after signing in. */
  | { kind: 'no-token'; request: ElevationRequest; reason: TokenRefusal; message: string }
  /** `closed`: the requester's other open cards for the environment, closed by this execution. */
  | { kind: 'executed'; request: ElevationRequest; closed: ElevationRequest[] };

export type CancelResult =
  | { kind: 'unknown-request' }
  | { kind: 'not-requester'; request: ElevationRequest }
  | { kind: 'already-handled'; request: ElevationRequest }
  | { kind: 'cancelled'; request: ElevationRequest };

interface CachedEnvironments {
  index: EnvironmentIndex;
  byId: Map<string, Environment>;
  expiresAt: number;
  fetchedAt: number;
}

/** How old a cached list may be before a miss is checked against a fresh one. */
const STALE_AFTER_MS = 5_000;

export class ElevationService {
  private readonly environmentCache = new BoundedMap<string, CachedEnvironments>(
    ENVIRONMENT_CACHE_ENTRIES,
  );

  constructor(private readonly options: ElevationServiceOptions) {}

  /** "elevate me in <query>": resolve the environment and open a request awaiting confirmation. */
  async requestElevation(requester: Requester, query: string): Promise<RequestResult> {
    const found = await this.findEnvironment(requester, query);
    if (found.kind !== 'found') return found;
    const opened = await this.openRequest(requester, found.environment, query);
    return opened.kind === 'confirm' && found.reason ? { ...opened, reason: found.reason } : opened;
  }

  /** The one environment the user means, among those they can see, or why there is none. */
  async findEnvironment(
    requester: Requester,
    query: string,
  ): Promise<
    | { kind: 'found'; environment: Environment; reason?: MatchReason }
    | Exclude<RequestResult, { kind: 'confirm' }>
  > {
    let environments = await this.environmentsFor(requester, { query });
    if (environments.kind !== 'ok') return environments.result;
    let resolution = environments.cached.index.resolve(query);
    if (resolution.kind === 'not-found' && this.isStale(environments.cached)) {
      // The environment may be new since the list was cached: look once more before saying no.
      environments = await this.environmentsFor(requester, { refresh: true, query });
      if (environments.kind !== 'ok') return environments.result;
      resolution = environments.cached.index.resolve(query);
    }
    switch (resolution.kind) {
      case 'found':
        return { kind: 'found', environment: resolution.environment, reason: resolution.reason };
      case 'ambiguous':
        return {
          kind: 'ambiguous',
          query,
          candidates: resolution.candidates,
          total: resolution.total,
        };
      case 'not-found':
        return { kind: 'not-found', query, suggestions: resolution.suggestions };
    }
  }

  /** Every environment the user can see (`environments`), with their own token, as listed. */
  async environmentsVisibleTo(
    requester: Requester,
  ): Promise<
    { kind: 'ok'; environments: Environment[] } | Exclude<RequestResult, { kind: 'confirm' }>
  > {
    const environments = await this.environmentsFor(requester);
    if (environments.kind !== 'ok') return environments.result;
    return { kind: 'ok', environments: [...environments.cached.byId.values()] };
  }

  /** Whether the user's environment list is cached and fresh (no API call, no wait). */
  hasFreshEnvironments(requester: Requester): boolean {
    return this.freshEnvironments(requester) !== undefined;
  }

  /** The user's cached environment list, unless there is none or it has expired. */
  private freshEnvironments(requester: Requester): CachedEnvironments | undefined {
    const hit = this.environmentCache.get(this.cacheKey(requester));
    return hit && hit.expiresAt > this.options.clock.now().getTime() ? hit : undefined;
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
  ): Promise<RequestResult> {
    const environments = await this.environmentsFor(requester, { query });
    if (environments.kind !== 'ok') return environments.result;
    const environment = environments.cached.byId.get(environmentId.toLowerCase());
    if (!environment) return { kind: 'not-found', query, suggestions: [] };
    return this.openRequest(requester, environment, query);
  }

  /** Elevate was pressed. Executes the request at most once, and only for its requester. */
  async confirmElevation(input: {
    requestId: string;
    clicker: Requester;
    justification?: string;
  }): Promise<ConfirmResult> {
    const { store, clock } = this.options;
    const request = await store.findRequest(input.requestId);
    if (!request) return { kind: 'unknown-request' };
    const log = this.options.logger.child({ requestId: request.id });

    if (!this.isRequester(request, input.clicker)) {
      await this.refuse(input.clicker, 'not-requester', request);
      return { kind: 'not-requester', request };
    }
    if (request.state !== 'requested') return { kind: 'already-handled', request };

    const now = clock.now();
    if (Date.parse(request.expiresAt) <= now.getTime()) {
      const expired = await this.expire(request, now);
      return expired ? { kind: 'expired', request: expired } : this.currentState(request.id);
    }

    const justification = (input.justification ?? '').trim();
    const problem = this.justificationProblem(justification);
    if (problem) return { kind: 'justification-required', request, problem };

    // The token comes first: without one nothing changes, and the same card can be pressed again.
    const token = await this.options.tokens.powerPlatformToken(request.requester);
    if (!token.ok) {
      await this.refuseToken(
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
        },
      },
      {
        audit: this.auditEvent('confirmed', request, {
          justification: justification || undefined,
          clientRequestId,
        }),
        closeOthers,
      },
    );
    // Another click won the race (or the request just expired): report what stands.
    if (!claimed) return this.currentState(request.id);

    log.info('calling applyAdminRole', { environmentId: claimed.environment.id, clientRequestId });
    const before = await this.lookUpRole(claimed);
    const outcome = await this.callApplyAdminRole(token.token, claimed, clientRequestId);
    const roleCheck = outcome.ok && before ? await this.compareRole(claimed, before) : undefined;
    const finishedAt = clock.now();
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
        set: roleCheck ? { outcome, roleCheck, requester } : { outcome, requester },
      },
      {
        audit: executed,
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
      this.environmentCache.delete(this.cacheKey(request.requester));
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
    if (!this.isRequester(request, input.clicker)) {
      await this.refuse(input.clicker, 'not-requester', request);
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
      const done = await this.expire(request, now);
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
  ): Promise<RequestResult> {
    // Without Dataverse there is no System Administrator role to receive.
    if (!environment.dataverseUrl) return { kind: 'no-dataverse', environment };
    if (environment.state && /disabled|deleted|suspended/i.test(environment.state)) {
      return { kind: 'environment-disabled', environment };
    }
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

  private cacheKey(requester: Requester): string {
    return `${requester.tenantId}/${requester.aadObjectId}`.toLowerCase();
  }

  /** A cached list older than this is fetched again before a name is declared unknown. */
  private isStale(cached: CachedEnvironments): boolean {
    return this.options.clock.now().getTime() - cached.fetchedAt > STALE_AFTER_MS;
  }

  private async environmentsFor(
    requester: Requester,
    options: { refresh?: boolean; query?: string } = {},
  ): Promise<
    | { kind: 'ok'; cached: CachedEnvironments }
    | { kind: 'failed'; result: Exclude<RequestResult, { kind: 'confirm' }> }
  > {
    const key = this.cacheKey(requester);
    const nowMs = this.options.clock.now().getTime();
    const hit = options.refresh ? undefined : this.freshEnvironments(requester);
    if (hit) return { kind: 'ok', cached: hit };

    const token = await this.options.tokens.powerPlatformToken(requester);
    if (!token.ok) {
      await this.refuseToken({ ...requester, upn: token.upn ?? requester.upn }, token.reason, {
        query: options.query,
      });
      return {
        kind: 'failed',
        result: { kind: 'no-token', reason: token.reason, message: token.message },
      };
    }
    const listed = await this.options.powerPlatform.listEnvironments(token.token);
    if (!listed.ok) return { kind: 'failed', result: { kind: 'listing-failed', failure: listed } };

    const cached: CachedEnvironments = {
      index: createEnvironmentIndex(listed.environments),
      byId: new Map(listed.environments.map((e) => [e.id.toLowerCase(), e])),
      expiresAt: nowMs + this.options.environmentCacheSeconds * 1000,
      fetchedAt: nowMs,
    };
    this.environmentCache.set(key, cached);
    return { kind: 'ok', cached };
  }

  /** Whether Dataverse shows the role now; undefined when the role check is off. */
  private async lookUpRole(request: ElevationRequest): Promise<RoleLookupResult | undefined> {
    const lookup = this.options.roleLookup;
    if (!lookup) return undefined;
    const instanceUrl = request.environment.dataverseUrl;
    if (!instanceUrl) return { ok: false, message: 'the environment has no Dataverse URL' };
    if (!this.options.tokens.resourceToken)
      return { ok: false, message: 'no Dataverse token source' };
    const token = await this.options.tokens.resourceToken(request.requester, instanceUrl);
    if (!token.ok) return { ok: false, message: token.message };
    try {
      return await lookup.holdsSystemAdministrator(token.token, instanceUrl);
    } catch (error) {
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Before and after, told in the user's words; never blocks or undoes the elevation. */
  private async compareRole(
    request: ElevationRequest,
    before: RoleLookupResult,
  ): Promise<RoleCheck> {
    if (!before.ok) return { result: 'not-checked', reason: before.message };
    if (before.holdsSystemAdministrator) return { result: 'already-admin' };
    const after = await this.lookUpRole(request);
    if (!after?.ok) return { result: 'not-checked', reason: after?.message ?? 'no answer' };
    return { result: after.holdsSystemAdministrator ? 'newly-granted' : 'not-visible-yet' };
  }

  /** The client returns failures as values; a throw here is a bug, reported as an unknown outcome. */
  private async callApplyAdminRole(
    token: string,
    request: ElevationRequest,
    clientRequestId: string,
  ): Promise<AdminRoleOutcome> {
    const started = Date.now();
    try {
      return await this.options.powerPlatform.applyAdminRole(
        token,
        request.environment.id,
        clientRequestId,
      );
    } catch (error) {
      this.options.logger.error('applyAdminRole threw', { requestId: request.id, error });
      return {
        ok: false,
        kind: 'unexpected-response',
        message:
          'The bot failed while calling the Power Platform API, so the outcome is unknown. Check your roles in the environment before trying again.',
        details: [],
        response: { clientRequestId, attempts: 1, durationMs: Date.now() - started },
      };
    }
  }

  private justificationProblem(justification: string): string | undefined {
    if (justification.length > MAX_JUSTIFICATION_LENGTH) {
      return `The justification is ${justification.length} characters long; at most ${MAX_JUSTIFICATION_LENGTH} are allowed.`;
    }
    if (this.options.justificationRequired && justification.length === 0) {
      return 'A justification is required: say why you need System Administrator in this environment.';
    }
    return undefined;
  }

  private isRequester(request: ElevationRequest, clicker: Requester): boolean {
    return (
      request.requester.aadObjectId.toLowerCase() === clicker.aadObjectId.toLowerCase() &&
      request.requester.tenantId.toLowerCase() === clicker.tenantId.toLowerCase()
    );
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

  /**
   * A pre-flight refusal that matters to security (not an admin, permission missing) is audited;
   * someone without a tenant admin role trying to elevate is also told to the subscribed channels.
   */
  private async refuseToken(
    user: Requester,
    reason: TokenRefusal,
    context: { request?: ElevationRequest; query?: string },
  ): Promise<void> {
    if (reason === 'not-tenant-admin') {
      await this.refuse(user, reason, context.request, {
        query: context.query,
        text: 'The sign-in shows none of the roles self-elevation needs (Global, Power Platform or Dynamics 365 Administrator).',
      });
    } else if (reason === 'permission-missing') {
      await this.refuse(user, reason, context.request);
    }
  }

  /**
   * Something the actor was not allowed to do: logged and audited, never silent. With `notify`,
   * the subscribed channels hear of it too (written with the audit record, in one step).
   */
  private async refuse(
    actor: Requester,
    reason: string,
    request?: ElevationRequest,
    notify?: { query?: string; text: string },
  ): Promise<void> {
    this.options.logger.warn('refused', {
      reason,
      actor: actor.aadObjectId,
      requestId: request?.id,
    });
    const at = this.options.clock.now();
    const event: AuditEvent = {
      type: 'refused',
      at,
      requestId: request?.id,
      actor: actor.aadObjectId,
      tenantId: actor.tenantId,
      environmentId: request?.environment.id,
      details: { reason },
    };
    if (!notify) {
      await this.options.store.appendAudit(event);
      return;
    }
    await this.options.store.appendAudit(
      event,
      refusalNotification({
        id: randomUUID(),
        at,
        requester: actor,
        reason: notify.text,
        request,
        query: notify.query,
      }),
    );
    this.options.notifier?.wake();
  }

  private auditEvent(
    type: 'requested' | 'confirmed' | 'cancelled' | 'expired' | 'executed',
    request: ElevationRequest,
    details?: Record<string, unknown>,
  ): AuditEvent {
    return {
      type,
      at: this.options.clock.now(),
      requestId: request.id,
      actor: type === 'expired' ? undefined : request.requester.aadObjectId,
      tenantId: request.requester.tenantId,
      environmentId: request.environment.id,
      details,
    };
  }
}
