/**
 * What the use cases need from the outside world. app.ts wires real implementations; tests wire
 * real local ones (sandbox servers, a SQLite file), not mocks.
 */
import type { AdminRoleOutcome, EnvironmentList, RemovalResult, TokenRefusal } from './vocabulary';
import type { StoredAuditEvent } from './audit-chain';
import type { ChannelSubscription, ElevationNotification } from './notifications';
import type { ClosedBecause, ElevationRequest, Requester, RequestState } from './request';

export interface PowerPlatform {
  listEnvironments(token: string): Promise<EnvironmentList>;
  applyAdminRole(
    token: string,
    environmentId: string,
    clientRequestId?: string,
  ): Promise<AdminRoleOutcome>;
}

/**
 * `upn`: the user principal name from the user's sign-in, when known (for notifications);
 * `adminRoles`: the tenant admin roles it shows, when known (so that advice fits the role).
 */
export type TokenResult =
  | { ok: true; token: string; upn?: string; adminRoles?: string[] }
  | { ok: false; reason: TokenRefusal; message: string; upn?: string };

/**
 * The policy asks for a Conditional Access authentication context the user's sign-in does not
 * satisfy yet: Entra answered the on-behalf-of request with interaction_required and `claims`,
 * the challenge the user's interactive sign-in must carry (step-up MFA).
 */
export interface StepUpRequired {
  ok: false;
  reason: 'step-up-required';
  message: string;
  claims: string;
  upn?: string;
}

/** What a token must satisfy beyond the user's identity. */
export interface TokenRequirements {
  /** A Conditional Access authentication context id (c1..c99): the token's `acrs` must hold it. */
  authenticationContext?: string;
}

/** Delegated tokens for the Power Platform API, always of the user who asks. */
export interface UserTokens {
  powerPlatformToken(user: Requester): Promise<TokenResult>;
  /** With requirements (step-up MFA): the token satisfies them, or the challenge to meet them. */
  powerPlatformToken(
    user: Requester,
    requirements: TokenRequirements,
  ): Promise<TokenResult | StepUpRequired>;
  /** A delegated token of the user for another resource (e.g. an environment's Dataverse URL). */
  resourceToken?(user: Requester, resource: string): Promise<TokenResult>;
  /** Resolves once what was kept behind the answers (token caches) is in the store: on stop. */
  settled?(): Promise<void>;
}

/** What Dataverse said: whether the user holds System Administrator, or why it could not tell. */
export type RoleLookupResult =
  { ok: true; holdsSystemAdministrator: boolean } | { ok: false; message: string };

/**
 * Step-up MFA: where the user signs in again, with the claims challenge, for one request. Once
 * they are back (the sign-in redeemed by the bot, as that same user), the stepped-up token is in
 * the user's token cache and `powerPlatformToken` with the same requirements succeeds.
 */
export interface StepUpLinks {
  /** How long a link stays usable: the request is kept open at least that long once asked. */
  readonly linkMinutes: number;
  /** A single-use sign-in link for `request`'s requester, carrying `claims`. */
  signInUrl(
    request: ElevationRequest,
    authenticationContext: string,
    claims: string,
  ): Promise<string>;
}

/** Whether a user holds System Administrator in an environment's Dataverse. */
export interface RoleLookup {
  holdsSystemAdministrator(token: string, instanceUrl: string): Promise<RoleLookupResult>;
}

/** Removes the user's System Administrator role in an environment's Dataverse (time-boxing). */
export interface RoleRemoval {
  /**
   * With the user's own delegated Dataverse token; failures come back as values, never thrown.
   * `signal` abandons the call early (it then comes back as `unavailable`).
   */
  removeSystemAdministrator(
    token: string,
    instanceUrl: string,
    signal?: AbortSignal,
  ): Promise<RemovalResult>;
}

/** A delegated token obtained while the user is not present, or why there is none. */
export type LaterTokenResult =
  | { ok: true; token: string; adminRoles?: string[] }
  /**
   * not-kept: nothing was kept for this user (or it ran out). refused: the identity provider
   * refused the refresh (consent, sign-in frequency, revoked session): the user must act.
   * unavailable: the identity provider could not answer now; worth trying again later.
   */
  | { ok: false; reason: 'not-kept' | 'refused' | 'unavailable'; message: string };

/**
 * What lets the bot act as the user later, when they are not in the chat (the end of a
 * time-boxed elevation): kept at the grant, used at the end, forgotten when nothing needs it.
 */
export interface LaterTokens {
  /** Keeps what is needed to get the user's delegated tokens until `until`, from their current sign-in. */
  keep(user: Requester, until: Date): Promise<{ ok: true } | { ok: false; message: string }>;
  /** A delegated token of the user for `resource` (a Dataverse instance URL), from what was kept. */
  tokenFor(user: Requester, resource: string): Promise<LaterTokenResult>;
  /** Forgets what was kept for the user (no elevation of theirs needs it any more). */
  forget(user: Requester): Promise<void>;
}

/** What a Teams SSO token exchange came to. */
export type SignInResult =
  | { ok: true }
  /** Entra needs the user to consent or to interact (MFA, Conditional Access): Teams asks them. */
  | { ok: false; reason: 'consent-required' | 'interaction-required'; message: string }
  /**
   * Anything else is told to the user as it is; asking for consent would loop forever. `check`:
   * which check refused an invalid token (e.g. `bad-signature`), for the audit; never the token.
   */
  | { ok: false; reason: 'invalid-token' | 'error'; message: string; check?: string };

/** Turns a Teams SSO token into delegated tokens for that user (validation, then on-behalf-of). */
export interface SignIn {
  signIn(ssoToken: string, user: Requester): Promise<SignInResult>;
}

/**
 * A conditional change of one request. With `to` equal to the current state (a time box moving
 * on a succeeded request), `updatedAt` and the outcome-time order (history, audit) stay as they
 * were: only the fields in `set` change.
 */
export interface Transition {
  from: readonly RequestState[];
  to: RequestState;
  at: Date;
  /**
   * Read inside the same store write, on the request as it is stored: the change happens only if
   * it returns true (e.g. "the time box is still active and not leased").
   */
  guard?: (current: ElevationRequest) => boolean;
  /** When set, the transition only happens if the request has not expired at this time. */
  unexpiredAt?: Date;
  /** Fields written together with the new state. */
  set?: Partial<
    Pick<
      ElevationRequest,
      | 'justification'
      | 'clientRequestId'
      | 'outcome'
      | 'cardMessageId'
      | 'roleCheck'
      | 'requester'
      | 'executionDeadline'
      | 'closedBecause'
      | 'minutes'
      | 'timeBox'
      | 'policy'
      | 'expiresAt'
    >
  >;
}

export type AuditEventType =
  | 'requested'
  | 'confirmed'
  | 'cancelled'
  | 'expired'
  | 'executed'
  | 'refused'
  | 'subscribed'
  | 'unsubscribed'
  | 'notification-delivered'
  | 'notification-dropped'
  /** Time-boxed elevation: the reminder was sent, the end moved, the role removed or not. */
  | 'reminded'
  | 'extended'
  | 'removal-attempted'
  | 'role-removed'
  | 'removal-failed'
  | 'removal-overdue'
  /** Guardrails: approval asked and decided, step-up asked and done. */
  | 'approval-asked'
  | 'approved'
  | 'denied'
  | 'approval-expired'
  | 'step-up-required'
  | 'stepped-up';

export interface AuditEvent {
  type: AuditEventType;
  at: Date;
  requestId?: string;
  /** Entra object id of whoever caused the event. */
  actor?: string;
  tenantId?: string;
  environmentId?: string;
  details?: Record<string, unknown>;
}

/** What is written together with a transition or an audit event, in the same transaction. */
export interface Effects {
  audit?: AuditEvent;
  /** Put in the outbox for every subscribed channel whose filter matches. */
  notification?: ElevationNotification;
  /** With a new request or a transition: its requester's other open cards close (see below). */
  closeOthers?: CloseOthers;
  /**
   * With a transition: a notification about this request follows soon (the outcome, after the
   * Power Platform API call). The store may read its audience, the subscribed channels, now,
   * beside this step, and use that read then: the channels notified of an outcome are those
   * subscribed when Elevate was claimed.
   */
  notificationFollows?: boolean;
}

/**
 * The requester's other requests still waiting for confirmation in the same environment are
 * cancelled in the same write as the request created or moved, each with `closedBecause` and its
 * own audit event: chosen inside that write, so that two instances cannot both leave one open.
 */
export interface CloseOthers {
  because: ClosedBecause;
  audit: (closed: ElevationRequest) => AuditEvent;
  /** Set by the store once the write is done: the requests it closed, as they are now. */
  closed?: ElevationRequest[];
}

/** Where the bot can reach a conversation later (proactive messages). */
export interface ConversationRecord {
  /** The conversation id; for a channel, the channel id without `;messageid=`. */
  id: string;
  scope: 'personal' | 'groupChat' | 'team' | 'channel';
  tenantId?: string;
  teamId?: string;
  /** A Teams conversation reference, opaque here. */
  reference: unknown;
  updatedAt: string;
}

/** One notification on its way to one channel. */
export interface Delivery {
  id: number;
  channelId: string;
  notification: ElevationNotification;
  /** Attempts so far, this one included. */
  attempts: number;
  /** Where to post; undefined when the channel unsubscribed meanwhile. */
  subscription?: ChannelSubscription;
}

export interface NotificationStore {
  /** Remembers (or refreshes) where a conversation can be reached. */
  saveConversation(record: ConversationRecord): Promise<void>;
  /**
   * Forgets conversations and their subscriptions for good: one conversation, or a whole team
   * (the bot was uninstalled, the team hard-deleted).
   */
  forgetConversations(target: { id: string } | { teamId: string }): Promise<void>;
  /** A deleted team or channel keeps its records, suspended, until it is restored (or forgotten). */
  suspendConversations(
    target: { id: string } | { teamId: string },
    suspended: boolean,
  ): Promise<void>;
  findConversation(id: string): Promise<(ConversationRecord & { suspended: boolean }) | undefined>;
  /** Creates or replaces a channel's subscription; true when it replaced one. */
  subscribe(subscription: ChannelSubscription, effects?: Effects): Promise<boolean>;
  /** True when there was a subscription to remove. */
  unsubscribe(channelId: string, effects?: Effects): Promise<boolean>;
  findSubscription(channelId: string): Promise<ChannelSubscription | undefined>;
  /**
   * Takes up to `limit` deliveries that are due, for `leaseMs`: no other caller (instance) gets
   * them meanwhile. Each delivery is taken once per attempt.
   */
  claimDeliveries(now: Date, limit: number, leaseMs: number): Promise<Delivery[]>;
  /** Ends a delivery: delivered, or dropped for good (with why). */
  finishDelivery(
    id: number,
    result: { state: 'delivered' | 'dropped'; at: Date; error?: string },
    effects?: Effects,
  ): Promise<void>;
  /** Puts a delivery back in the queue for another attempt at `nextAttemptAt`. */
  retryDelivery(id: number, nextAttemptAt: Date, error: string): Promise<void>;
  /**
   * The bot can no longer post in this channel: the subscription goes, and every delivery still
   * waiting for it is dropped. Returns how many were dropped.
   */
  dropChannel(channelId: string, reason: string, effects?: Effects): Promise<number>;
  /**
   * Deliveries whose lease ran out while being sent (the process died mid-send): whether the
   * channel got them is unknown. They are dropped, not sent again (at most once per channel).
   * `effectsOf` gives what is written with each one dropped (its audit event), in the same step.
   */
  abandonStaleDeliveries(
    now: Date,
    effectsOf?: (delivery: Delivery) => Effects,
  ): Promise<Delivery[]>;
  /** When the next waiting delivery is due, if any. */
  nextDeliveryDue(): Promise<Date | undefined>;
}

/** A place in a list ordered by outcome time: a request's outcome time, and its id for ties. */
export interface PageCursor {
  at: string;
  id: string;
}

/**
 * One page of a list ordered by outcome time (see `outcomeTime`), newest first: at most `limit`
 * requests older than `before` (the Older button), or the `limit` just newer than `after` (the
 * Newer button), still newest first. Neither: the newest.
 */
export interface Page {
  limit: number;
  before?: PageCursor;
  after?: PageCursor;
}

export interface AuditQuery {
  chain: string;
  /** Events after this seq (exclusive); paging through a chain. */
  afterSeq?: number;
  /** Events at or after this time. */
  since?: Date;
  limit: number;
}

export interface AuditStore {
  /** Appends an audit event as the next link of its tenant's chain; a notification goes to the outbox in the same step. */
  appendAudit(event: AuditEvent, notification?: ElevationNotification): Promise<void>;
  /** One chain's events in order. */
  readAudit(query: AuditQuery): Promise<StoredAuditEvent[]>;
  /** Every chain, with where it starts when retention removed its oldest events. */
  auditChains(): Promise<Array<{ chain: string; anchor?: { seq: number; hash: string } }>>;
  /** Removes events older than `before`, remembering each chain's new start (its anchor). */
  pruneAudit(before: Date): Promise<number>;
}

/** Encrypted values (token cache, sign-in sessions) shared by instances; opaque strings here. */
export interface SecretStore {
  readSecret(key: string, now: Date): Promise<string | undefined>;
  writeSecret(key: string, value: string, expiresAt: Date): Promise<void>;
  deleteSecret(key: string): Promise<void>;
}

/** One counter of a time window, as `takeEndedCounts` hands it over. */
export interface WindowCount {
  key: string;
  count: number;
  windowEndsAt: Date;
  /** What the first caller stored with the counter (opaque here). */
  data: string;
}

/** Counters of occurrences per time window, shared by all instances (e.g. refused sign-ins). */
export interface WindowCountStore {
  /**
   * Counts one more occurrence under `key` and returns the count, this one included, with the
   * `data` the first caller stored (later callers' `data` is ignored). Atomic: concurrent callers
   * (several instances included) each get a different count, 1, 2, 3, ...
   */
  countInWindow(
    key: string,
    windowEndsAt: Date,
    data: string,
  ): Promise<{ count: number; data: string }>;
  /**
   * Removes and returns up to `limit` counters whose key starts with `prefix` and whose window
   * ended at or before `now`. Each counter is handed to exactly one caller.
   */
  takeEndedCounts(prefix: string, now: Date, limit: number): Promise<WindowCount[]>;
}

/** The time boxes of granted elevations, found by their due time (time-boxed elevation). */
export interface TimeBoxStore {
  /**
   * Requests whose time box is due (`timeBox.dueAt` at or before `now`) and not leased at `now`
   * (`leaseUntil` absent or past), soonest first. An index lookup, never a scan of all requests:
   * it runs every few seconds with 100,000 elevations active.
   */
  findDueTimeBoxes(now: Date, limit: number): Promise<ElevationRequest[]>;
  /** When the soonest time box is due, leased or not; undefined when none is pending. */
  nextTimeBoxDue(): Promise<Date | undefined>;
  /**
   * Requests whose time box is not final (active, removing, overdue) in a tenant, or of one user
   * of it, soonest end first (an index). Its own index, not the due one: a pending time box
   * always has a dueAt, but the due index is ordered by it, across tenants, and knows no user.
   * SQLite: an `ends_at` column set while the phase is not final, indexed by tenant (and user);
   * Table: an `active|<user>|<endsAt>|<id>` row in the tenant's partition, same transaction.
   */
  activeElevations(
    tenantId: string,
    user?: Pick<Requester, 'aadObjectId'>,
  ): Promise<ElevationRequest[]>;
}

export interface ElevationStore
  extends NotificationStore, AuditStore, SecretStore, WindowCountStore, TimeBoxStore {
  /**
   * Records `key` unless it is already recorded and unexpired; true for the one caller that
   * recorded it. Atomic: concurrent callers (several instances included) get one true.
   */
  claimOnce(key: string, expiresAt: Date): Promise<boolean>;
  /** Stores a new request; its effects (the `requested` audit event) in the same step. */
  createRequest(request: ElevationRequest, effects?: Effects): Promise<void>;
  /**
   * The request as stored. `recent`: the copy this process last wrote or read may answer instead
   * (no round trip, when it has one and no other writer contended lately). Use such a copy only to
   * go on towards a transition, which is conditional on the copy and so fails if it is stale; read
   * afresh before refusing, or expiring, on it.
   */
  findRequest(id: string, options?: { recent?: boolean }): Promise<ElevationRequest | undefined>;
  /**
   * Moves a request to a new state if, and only if, it is in one of `from`; atomic. The effects
   * are written in the same transaction, and only when the transition happens.
   */
  transition(
    id: string,
    change: Transition,
    effects?: Effects,
  ): Promise<ElevationRequest | undefined>;
  /** Records where the confirmation card was posted (no state change). */
  setCardMessage(id: string, conversation: unknown, cardMessageId: string): Promise<void>;
  /** Requests still waiting for confirmation whose time is up. */
  findExpired(now: Date, limit: number): Promise<ElevationRequest[]>;
  /** Requests left executing past their execution deadline: the process running them died. */
  findAbandonedExecutions(now: Date, limit: number): Promise<ElevationRequest[]>;
  /** A user's own requests, whatever their state, by outcome time, newest first (an index). */
  requestsOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    page: Page,
  ): Promise<ElevationRequest[]>;
  /**
   * The outcomes in one environment of a tenant (succeeded, failed, cancelled, expired; not the
   * requests still waiting or executing), by outcome time, newest first (an index).
   */
  requestsIn(tenantId: string, environmentId: string, page: Page): Promise<ElevationRequest[]>;
  /** A user's requests in one environment still waiting for confirmation, oldest first. */
  openRequestsOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): Promise<ElevationRequest[]>;
  /** A user's most recent executed request (succeeded or failed) in one environment. */
  lastExecutionOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): Promise<ElevationRequest | undefined>;
  /**
   * Removes expired once-keys and secrets, and finished requests last changed before
   * `finishedBefore`; never one whose time box is not final (its row is the removal's timer).
   */
  purgeExpired(now: Date, finishedBefore: Date): Promise<void>;
  close(): Promise<void>;
}

/** Tells the delivery side that the outbox has something new (it also looks by itself). */
export interface Notifier {
  wake(): void;
}

/** What posting one notification to one channel came to. */
export type SendResult =
  | { kind: 'delivered' }
  /** Worth another attempt (throttled, 5xx, timeout, network); `retryAfterMs` when told. */
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /** The bot is no longer in that channel (403/404, BotNotInConversationRoster). */
  | { kind: 'gone'; reason: string }
  /** Refused for good for this notification (another 4xx). */
  | { kind: 'failed'; reason: string };

/** Posts a notification card into a channel (the Teams layer implements it). */
export interface ChannelSender {
  /** `signal` aborts the post when it takes too long (then it is retried later). */
  send(
    subscription: ChannelSubscription,
    notification: ElevationNotification,
    signal: AbortSignal,
  ): Promise<SendResult>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
