/**
 * Channel notifications, as data: what a notification says, which channels want it (their
 * filters), and how a subscription command is read. Free of botbuilder and of the store; the
 * store fans a notification out to matching channels in the same transaction that records the
 * outcome, and the dispatcher delivers it.
 */
import type { AdminRoleOutcome, Environment, RemovalEnding, RemovalResult } from './vocabulary';
import { endingMessage } from './time-box';
import { describeStatus } from './outcome-text';
import type { ElevationRequest, Requester, TimeBox } from './request';

/** What a channel is told; a snapshot, so it can be delivered after a restart as it was. */
export interface ElevationNotification {
  id: string;
  /**
   * succeeded / failed: an elevation finished. refused: a user without an admin role tried.
   * sign-in-refused: a user's refused sign-in tokens passed the threshold (sign-in-refusals.ts).
   * role-removed / removal-failed / removal-overdue: the end of a time-boxed elevation
   * (`removal` says how it went). rate-limit: a request refused because it was over a policy
   * rule's rate limit (`rateLimit` says which). approved / denied: an approver decided on a
   * request that needed approval (`decidedBy`, `reason`, `rule`).
   */
  kind:
    | 'succeeded'
    | 'failed'
    | 'refused'
    | 'sign-in-refused'
    | 'role-removed'
    | 'removal-failed'
    | 'removal-overdue'
    | 'rate-limit'
    | 'approved'
    | 'denied';
  /** When it happened (ISO 8601). */
  at: string;
  tenantId: string;
  requester: { aadObjectId: string; name: string; upn?: string };
  /** Absent for a refusal that happened before any environment was resolved. */
  environment?: { id: string; displayName: string; type: string };
  /** What the user asked for, when no environment was resolved. */
  query?: string;
  justification?: string;
  requestId?: string;
  outcome?: {
    ok: boolean;
    /** `succeeded`, or the failure kind (`functional-error`, `timeout`, ...). */
    kind: string;
    /** What went wrong, in the API's or the bot's words (failures only). */
    message?: string;
    status: string;
    errorCode?: string;
    correlationId?: string;
    clientRequestId?: string;
  };
  /** Why a refusal happened, in words. */
  reason?: string;
  /** For the removal kinds: what Dataverse said, when the elevation was to end, how late. */
  removal?: {
    /** RemovalResult kind, or `token-unavailable`, `kept`, `removed-by-microsoft`. */
    kind: string;
    message?: string;
    status?: number;
    requestId?: string;
    endsAt: string;
    /** Whether the user ended it early (I'm done, Remove now). */
    early?: boolean;
  };
  /** For rate-limit: the rule, which of its limits, and how many elevations were counted. */
  rateLimit?: {
    rule: string;
    scope: 'user' | 'environment';
    count: number;
    limit: number;
    windowMinutes: number;
  };
  /** For approved / denied: who decided. */
  decidedBy?: { aadObjectId: string; name: string };
  /** For approved / denied: the policy rule that asked for approval. */
  rule?: string;
}

/** Environment types the API reports; `notify here for <type>` filters on them. */
const ENVIRONMENT_TYPES = [
  'production',
  'sandbox',
  'trial',
  'developer',
  'default',
  'teams',
] as const;

export type SubscriptionFilter =
  | { kind: 'all' }
  | { kind: 'type'; type: (typeof ENVIRONMENT_TYPES)[number] }
  /** Case-insensitive; `*` matches anything; without `*` the name must contain the pattern. */
  | { kind: 'name'; pattern: string };

export interface ChannelSubscription {
  /** The channel's conversation id (`19:...@thread.tacv2`), without any `;messageid=`. */
  channelId: string;
  tenantId: string;
  teamId?: string;
  /** Where to post (a Teams conversation reference, opaque here). */
  reference: unknown;
  filter: SubscriptionFilter;
  createdBy: { aadObjectId: string; name: string };
  createdAt: string;
}

/** Longest failure message kept in a notification. */
const MAX_MESSAGE_LENGTH = 500;

/** Longest name pattern accepted. */
const MAX_PATTERN_LENGTH = 100;

type EnvironmentType = (typeof ENVIRONMENT_TYPES)[number];

/** Short names admins write for a type, besides the type's own name and its plural. */
const TYPE_ALIASES: Record<string, EnvironmentType> = {
  prod: 'production',
  prd: 'production',
  dev: 'developer',
  sbx: 'sandbox',
};

/**
 * The environment type a word names: the type itself, its plural, a known short name (`prod`,
 * `dev`) or a prefix of at least three letters that fits one type only (`sand`, `devel`).
 */
function environmentTypeNamed(word: string): EnvironmentType | undefined {
  const value = word.toLowerCase().replace(/\s+environments?$/, '');
  const exact = ENVIRONMENT_TYPES.find(
    (t) => t === value || `${t}s` === value || `${t}es` === value,
  );
  if (exact) return exact;
  if (TYPE_ALIASES[value]) return TYPE_ALIASES[value];
  if (value.length < 3) return undefined;
  const prefixed = ENVIRONMENT_TYPES.filter((t) => t.startsWith(value));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** A type the word is close to (a typo such as "prodution"), when it names none for certain. */
function typeCloseTo(word: string): EnvironmentType | undefined {
  const value = word.toLowerCase();
  if (value.length < 4 || value.includes('*')) return undefined;
  return ENVIRONMENT_TYPES.find((t) => editDistance(value, t) <= 2);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Reads what follows `notify here`: nothing, `for <type>` or `for <name pattern>`. Returns the
 * filter (with, for a name pattern close to a type, the type it may have meant, to be said in the
 * reply) or a sentence saying what is wrong.
 */
export function parseSubscriptionFilter(
  text: string | undefined,
):
  | { ok: true; filter: SubscriptionFilter; closeToType?: EnvironmentType }
  | { ok: false; problem: string } {
  if (text === undefined || text.trim() === '') return { ok: true, filter: { kind: 'all' } };
  const match = /^for\s+(.+)$/i.exec(text.trim());
  if (!match?.[1]) return { ok: false, problem: `I did not understand "${text}".` };
  const value = match[1].trim().replace(/^["'“”‘’]+|["'“”‘’]+$/g, '');
  const type = environmentTypeNamed(value);
  if (type) return { ok: true, filter: { kind: 'type', type } };
  if (value.length > MAX_PATTERN_LENGTH) {
    return {
      ok: false,
      problem: `That name pattern is ${value.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed.`,
    };
  }
  if (value.replace(/\*/g, '').trim() === '') {
    return { ok: false, problem: 'A pattern made only of "*" matches everything.' };
  }
  return { ok: true, filter: { kind: 'name', pattern: value }, closeToType: typeCloseTo(value) };
}

/** Whether a channel with this filter wants this notification. */
export function filterMatches(
  filter: SubscriptionFilter,
  notification: ElevationNotification,
): boolean {
  if (filter.kind === 'all') return true;
  const environment = notification.environment;
  // A refusal before any environment was resolved is a security signal every channel gets.
  if (!environment)
    return notification.kind === 'refused' || notification.kind === 'sign-in-refused';
  if (filter.kind === 'type') return environment.type.toLowerCase() === filter.type;
  return nameMatches(filter.pattern, environment.displayName);
}

function nameMatches(pattern: string, name: string): boolean {
  const wanted = pattern.toLowerCase();
  const subject = name.toLowerCase();
  if (!wanted.includes('*')) return subject.includes(wanted);
  const parts = wanted.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 's').test(subject);
}

/** "every elevation", "elevations in production environments", ... */
export function describeFilter(filter: SubscriptionFilter): string {
  switch (filter.kind) {
    case 'all':
      return 'every elevation, in every environment';
    case 'type':
      return `elevations in ${filter.type} environments`;
    case 'name':
      return filter.pattern.includes('*')
        ? `elevations in environments whose name matches "${filter.pattern}"`
        : `elevations in environments whose name contains "${filter.pattern}"`;
  }
}

function environmentOf(environment: Environment): ElevationNotification['environment'] {
  return { id: environment.id, displayName: environment.displayName, type: environment.type };
}

function requesterOf(requester: Requester): ElevationNotification['requester'] {
  return { aadObjectId: requester.aadObjectId, name: requester.name, upn: requester.upn };
}

/** The notification of a finished elevation. */
export function outcomeNotification(input: {
  id: string;
  at: Date;
  request: ElevationRequest;
  outcome: AdminRoleOutcome;
}): ElevationNotification {
  const { request, outcome } = input;
  return {
    id: input.id,
    kind: outcome.ok ? 'succeeded' : 'failed',
    at: input.at.toISOString(),
    tenantId: request.requester.tenantId,
    requester: requesterOf(request.requester),
    environment: environmentOf(request.environment),
    justification: request.justification,
    requestId: request.id,
    outcome: {
      ok: outcome.ok,
      kind: outcome.ok ? 'succeeded' : outcome.kind,
      message: outcome.ok ? undefined : outcome.message.slice(0, MAX_MESSAGE_LENGTH),
      status: describeStatus(outcome),
      errorCode: outcome.ok ? undefined : outcome.errorCode,
      correlationId: outcome.response.correlationId,
      clientRequestId: outcome.response.clientRequestId,
    },
  };
}

/**
 * The notification of the end of a time-boxed elevation: role-removed once it is gone,
 * removal-overdue when no token could be had without the user, removal-failed otherwise.
 */
export function removalNotification(input: {
  id: string;
  at: Date;
  request: ElevationRequest;
  /** The time box as it is after the attempt. */
  timeBox: TimeBox;
  ending: RemovalEnding;
  /** What Dataverse said, when it was asked. */
  result?: RemovalResult;
  early: boolean;
}): ElevationNotification {
  const { request, timeBox, ending, result } = input;
  return {
    id: input.id,
    kind:
      timeBox.phase === 'removed'
        ? 'role-removed'
        : ending.kind === 'token-unavailable'
          ? 'removal-overdue'
          : 'removal-failed',
    at: input.at.toISOString(),
    tenantId: request.requester.tenantId,
    requester: requesterOf(request.requester),
    environment: environmentOf(request.environment),
    justification: request.justification,
    requestId: request.id,
    removal: {
      kind: ending.kind,
      message: endingMessage(ending, result),
      status: result?.status,
      requestId: result?.requestId,
      endsAt: timeBox.endsAt,
      early: input.early,
    },
  };
}

/** The notification of a user without a tenant admin role trying to elevate. */
export function refusalNotification(input: {
  id: string;
  at: Date;
  requester: Requester;
  reason: string;
  request?: ElevationRequest;
  query?: string;
}): ElevationNotification {
  const { request } = input;
  return {
    id: input.id,
    kind: 'refused',
    at: input.at.toISOString(),
    tenantId: input.requester.tenantId,
    requester: requesterOf(input.requester),
    environment: request ? environmentOf(request.environment) : undefined,
    query: request ? undefined : input.query,
    requestId: request?.id,
    reason: input.reason,
  };
}

/** The notification of a request refused for being over a policy rule's rate limit. */
export function rateLimitNotification(input: {
  id: string;
  at: Date;
  requester: Requester;
  environment: Environment;
  reason: string;
  rateLimit: NonNullable<ElevationNotification['rateLimit']>;
}): ElevationNotification {
  return {
    id: input.id,
    kind: 'rate-limit',
    at: input.at.toISOString(),
    tenantId: input.requester.tenantId,
    requester: requesterOf(input.requester),
    environment: environmentOf(input.environment),
    reason: input.reason,
    rateLimit: input.rateLimit,
  };
}
