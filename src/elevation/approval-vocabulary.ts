/**
 * What second-person approval speaks of, beside its use case (approvals.ts): where the approvers'
 * cards go and who posts them, what asking and deciding answer, and the rules read off a request
 * (does it wait for approval, on which terms it elevates once approved).
 */
import { randomUUID } from 'node:crypto';
import type { ConfirmResult } from './elevation-results';
import type { ElevationNotification } from './notifications';
import type { Approval, ApprovalCardCopy, ElevationRequest, RequestPolicy } from './request';

/** A conversation the approvers' card goes to, as the bot's address book holds it. */
export interface ApprovalTarget {
  /** The ConversationRecord id (a channel id, or a personal chat key, see personalChatKey). */
  conversationId: string;
  reference: unknown;
  /** The approver whose personal chat it is; absent for the approvers' channel. */
  approver?: { aadObjectId: string; name?: string };
}

/** Posts and redraws the approvers' cards and tells the requester (the Teams layer implements it). */
export interface ApprovalMessenger {
  /** Posts the approvers' card to each target; the copies that went (their message ids). */
  post(request: ElevationRequest, targets: ApprovalTarget[]): Promise<ApprovalCardCopy[]>;
  /** Redraws every copy of the approvers' card as the request now stands (decided, expired). */
  redraw(request: ElevationRequest): Promise<void>;
  /** Redraws the requester's card and tells them in their conversation what happened. */
  tellRequester(request: ElevationRequest): Promise<void>;
}

/** Who the approvers' card reached when asking (told to the requester). */
export interface Reach {
  channel: boolean;
  /** Listed approvers reached in personal chat. */
  approvers: string[];
  /** Listed approvers the bot has no personal chat with. */
  unknown: string[];
}

export type AskResult =
  | { kind: 'unknown-request' }
  | { kind: 'not-requester'; request: ElevationRequest }
  /** Not waiting for an ask (no approval, asked already, decided, or closed). */
  | { kind: 'already-asked'; request: ElevationRequest }
  | { kind: 'expired'; request: ElevationRequest }
  | { kind: 'justification-required'; request: ElevationRequest; problem: string }
  | { kind: 'duration-refused'; request: ElevationRequest; maxMinutes: number; problem?: string }
  /**
   * The rule's hours or rate limit refuse it now: approvers are never asked for what Elevate
   * would refuse.
   */
  | Extract<ConfirmResult, { kind: 'policy-refused' }>
  | { kind: 'asked'; request: ElevationRequest; reach: Reach };

export type Decision = 'approve' | 'deny';

export type DecideResult =
  | { kind: 'unknown-request' }
  | { kind: 'no-approval'; request: ElevationRequest }
  /** The requester pressed Approve or Deny on their own request: refused and audited. */
  | { kind: 'self-approval'; request: ElevationRequest }
  /** Neither a listed approver nor in the approvers' channel: refused and audited. */
  | { kind: 'not-approver'; request: ElevationRequest }
  | { kind: 'reason-required'; request: ElevationRequest }
  /** Too late: the approval expired (now closed as expired). */
  | { kind: 'expired'; request: ElevationRequest }
  /** Another decision came first (`request.policy.approval.decidedBy` says whose). */
  | { kind: 'already-decided'; request: ElevationRequest }
  | { kind: 'decided'; request: ElevationRequest };

/** The address-book id of a user's personal chat with the bot (saved by the conversation tracker). */
export function personalChatKey(tenantId: string, aadObjectId: string): string {
  return `personal|${tenantId}|${aadObjectId}`.toLowerCase();
}

/** The approval a request needs, if any. */
export function approvalOf(request: ElevationRequest): Approval | undefined {
  return request.policy?.approval;
}

/** Whether Elevate must wait: the request needs approval and is not approved. */
export function awaitsApproval(request: ElevationRequest): boolean {
  const approval = approvalOf(request);
  return !!approval && approval.status !== 'approved';
}

/**
 * What an approved request elevates with: the justification and duration the approvers saw,
 * whatever the card sends; undefined for a request without approval.
 */
export function approvedTerms(
  request: ElevationRequest,
): { justification?: string; minutes?: number } | undefined {
  return approvalOf(request)?.status === 'approved'
    ? { justification: request.justification, minutes: request.minutes }
    : undefined;
}

export function samePerson(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function withApproval(policy: RequestPolicy, approval: Approval): RequestPolicy {
  return { ...policy, approval };
}

export function approvalNotification(
  request: ElevationRequest,
  kind: 'approved' | 'denied',
  decision: { at: Date; decidedBy: { aadObjectId: string; name: string }; reason?: string },
): ElevationNotification {
  const { requester, environment } = request;
  return {
    id: randomUUID(),
    kind,
    at: decision.at.toISOString(),
    tenantId: requester.tenantId,
    requester: { aadObjectId: requester.aadObjectId, name: requester.name, upn: requester.upn },
    environment: {
      id: environment.id,
      displayName: environment.displayName,
      type: environment.type,
    },
    justification: request.justification,
    requestId: request.id,
    reason: decision.reason,
    decidedBy: decision.decidedBy,
    rule: request.policy?.rule,
  };
}
