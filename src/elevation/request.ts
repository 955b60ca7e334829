/**
 * An elevation request and its lifecycle:
 * requested -> executing -> succeeded | failed, or requested -> cancelled | expired.
 * Each arrow is a conditional write in the store, so it happens at most once.
 */
import type { AdminRoleOutcome, Environment, RemovalResult } from './vocabulary';

export type RequestState =
  'requested' | 'executing' | 'succeeded' | 'failed' | 'cancelled' | 'expired';

export const FINAL_STATES: readonly RequestState[] = [
  'succeeded',
  'failed',
  'cancelled',
  'expired',
];

/** The person asking, as Teams and the token describe them. */
export interface Requester {
  /** Entra object id; the only identity the rules compare. */
  aadObjectId: string;
  tenantId: string;
  name: string;
  upn?: string;
  /** The tenant admin roles the sign-in shows (e.g. "Power Platform Administrator"), when known. */
  adminRoles?: string[];
  /** The user's IANA time zone as their Teams client reported it, when valid (times on cards). */
  timeZone?: string;
}

export interface ElevationRequest {
  id: string;
  state: RequestState;
  requester: Requester;
  /** A snapshot of the environment as resolved when the request was made. */
  environment: Environment;
  /** What the user typed to find the environment. */
  query: string;
  justification?: string;
  createdAt: string;
  expiresAt: string;
  updatedAt: string;
  /** The x-ms-client-request-id sent with applyAdminRole (set when execution starts). */
  clientRequestId?: string;
  /**
   * While executing: by when the call is over, whatever happens (its timeouts included). A request
   * still executing after this was left by a process that died; it is reconciled as unknown.
   */
  executionDeadline?: string;
  outcome?: AdminRoleOutcome;
  /** What Dataverse said of the role before and after, when the role check is on. */
  roleCheck?: RoleCheck;
  /** Where the confirmation card lives, opaque to this layer (a Teams conversation reference). */
  conversation?: unknown;
  /** The id of the message holding the confirmation card, to update it for everyone. */
  cardMessageId?: string;
  /** Why a request was cancelled without anyone pressing its Cancel (absent: Cancel was pressed). */
  closedBecause?: ClosedBecause;
  /** How long the elevation was asked for, in minutes (time-boxed elevation). */
  minutes?: number;
  /** After a granted elevation: when it ends, and where its removal stands. */
  timeBox?: TimeBox;
  /** The guardrails rule that applied when the request was opened, and what it asks. */
  policy?: RequestPolicy;
}

/** What the policy asked of one request (POLICY_FILE), recorded when the request was opened. */
export interface RequestPolicy {
  /** The name of the rule that applied. */
  rule: string;
  /** Why it applied ("its type is Production"). */
  why: string;
  /** A Conditional Access authentication context (c1..c99) the token must satisfy at Elevate. */
  stepUp?: string;
  /** A second person's decision, when the rule (or the hour) asks for one. */
  approval?: Approval;
}

export type ApprovalStatus = 'not-asked' | 'pending' | 'approved' | 'denied' | 'expired';

/**
 * A second person's decision on a request. not-asked -> pending (the requester gave the
 * justification and asked) -> approved | denied | expired; each arrow is a guarded transition of
 * the request row, so the first decision wins exactly once across instances.
 */
export interface Approval {
  status: ApprovalStatus;
  /** Why approval is needed: the rule always asks, or the request came outside the allowed hours. */
  because: 'rule' | 'outside-hours';
  /** Object ids of the approvers, when the rule lists them. */
  approvers?: string[];
  /** The team channel whose members approve, when the rule names one. */
  channel?: { team: string; channel: string };
  timeoutMinutes: number;
  askedAt?: string;
  /** Until when approvers may decide (askedAt + timeoutMinutes). */
  expiresAt?: string;
  decidedBy?: { aadObjectId: string; name: string };
  decidedAt?: string;
  /** The approver's reason (required to deny, optional to approve). */
  reason?: string;
  /** When the approvers' cards were posted; absent: not yet (the expiry sweeper posts them). */
  announcedAt?: string;
  /** Every copy of the approvers' card, to redraw each with the decision or the expiry. */
  cards?: ApprovalCardCopy[];
}

/** One posted copy of the approvers' card: the conversation (a ConversationRecord id) and message. */
export interface ApprovalCardCopy {
  conversationId: string;
  messageId: string;
  /** The listed approver whose personal chat it is (absent: the approvers' channel). */
  approver?: { aadObjectId: string; name?: string };
}

/**
 * A granted elevation's time box. The request row is its own durable timer: `dueAt` is the next
 * moment the bot must act (the reminder, the end, or the next removal attempt), indexed by the
 * store; `leaseUntil` keeps other instances off it while one works on it.
 *
 * active -> removing -> removed | overdue (-> removing again, with backoff) ; kept: the user held
 * the role before the elevation, so nothing is removed at the end.
 */
export type TimeBoxPhase = 'active' | 'removing' | 'overdue' | 'removed' | 'kept';

export const FINAL_TIME_BOX_PHASES: readonly TimeBoxPhase[] = ['removed', 'kept'];

export interface TimeBox {
  phase: TimeBoxPhase;
  /** When the role was granted (ISO 8601). */
  grantedAt: string;
  /** When the elevation ends; extensions move it. */
  endsAt: string;
  /** No extension goes past this: the first grant plus ELEVATION_MAX_MINUTES. */
  latestEnd: string;
  /** When the reminder is due; absent once sent, or when there is none. */
  remindAt?: string;
  /** The next moment the bot must act; absent once the phase is final. */
  dueAt?: string;
  /** While an instance works on it (reminding, removing): until when no other may. */
  leaseUntil?: string;
  /** Removal attempts so far. */
  attempts: number;
  /** What one Extend adds, when the policy rule's default differs from ELEVATION_DEFAULT_MINUTES. */
  extendMinutes?: number;
  /** Each extension: when, by how many minutes, and why. */
  extensions: Array<{ at: string; minutes: number; justification: string }>;
  /** The last removal attempt's result. */
  lastRemoval?: RemovalResult & { at: string };
  /** When the user and the channels were told that the removal needs them (Remove now), once. */
  overdueSince?: string;
  /** When the role was removed, or found gone (phase removed). */
  endedAt?: string;
  /** Who ended it early (I'm done, Remove now): the requester's object id. */
  endedEarlyBy?: string;
}

export function isTimeBoxFinal(timeBox: TimeBox): boolean {
  return FINAL_TIME_BOX_PHASES.includes(timeBox.phase);
}

/**
 * Only one card per person and environment is usable at a time: the others close when a newer
 * request is opened, or when one of them is executed. `by` is the id of that other request.
 */
export type ClosedBecause =
  | { kind: 'replaced'; by: string }
  | { kind: 'elevated-elsewhere'; by: string }
  /** An approver denied it (approval); `by`: their object id. */
  | { kind: 'denied'; by: string };

/**
 * When a request came to its outcome (succeeded, failed, cancelled, expired), or, while it waits,
 * its last transition: what `history` and `audit` show and sort by.
 */
export function outcomeTime(request: ElevationRequest): string {
  return request.updatedAt;
}

/**
 * applyAdminRole answers the same whether the role was granted now or held already; Dataverse,
 * asked before and after, tells which.
 */
export type RoleCheck =
  | { result: 'already-admin' | 'newly-granted' | 'not-visible-yet' }
  | { result: 'not-checked'; reason: string };

export function isFinal(state: RequestState): boolean {
  return FINAL_STATES.includes(state);
}
