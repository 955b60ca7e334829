/**
 * What the use cases answer: the elevation (elevation-service.ts) to a request, to Elevate, to
 * Cancel; the time boxes (time-boxes.ts) to I'm done and Extend, and what their clock ran. The
 * Teams layer turns each into the card or message the user sees.
 */
import type { ListingProblem } from './environment-lists';
import type { MatchReason } from './environment-resolution';
import type { ElevationRequest } from './request';
import type { Environment, RemovalEnding, TokenRefusal } from './vocabulary';

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
  /** `minutes`: the duration asked for, carried to the environment the user then picks. */
  | { kind: 'ambiguous'; query: string; candidates: Environment[]; total: number; minutes?: number }
  | { kind: 'not-found'; query: string; suggestions: Environment[]; minutes?: number }
  | { kind: 'no-dataverse'; environment: Environment }
  | { kind: 'environment-disabled'; environment: Environment }
  /**
   * The duration asked for is longer than the rule's maximum or ELEVATION_MAX_MINUTES (or not a
   * whole minute); `problem` says so, naming the rule.
   */
  | { kind: 'duration-refused'; minutes: number; maxMinutes: number; problem?: string }
  /**
   * A policy rule refuses the request: outside its allowed hours, or over its rate limit. `text`
   * says why, `nextStep` what to do; `nextAt`: when a rate-limited user may elevate again.
   */
  | {
      kind: 'policy-refused';
      because: 'outside-hours' | 'rate-limit';
      environment: Environment;
      rule: string;
      text: string;
      nextStep: string;
      nextAt?: string;
    }
  | ListingProblem;

export type ConfirmResult =
  | { kind: 'unknown-request' }
  /** Someone other than the requester clicked: nothing is called. */
  | { kind: 'not-requester'; request: ElevationRequest }
  | { kind: 'justification-required'; request: ElevationRequest; problem: string }
  /** The request needs a second person's approval and has none (yet): nothing is called. */
  | { kind: 'approval-required'; request: ElevationRequest }
  /** The duration chosen on the card is not allowed (longer than the maximum). */
  | { kind: 'duration-refused'; request: ElevationRequest; maxMinutes: number; problem?: string }
  /**
   * Checked again at Elevate: the rule's rate limit was reached since the card opened (audited and
   * alerted), or the allowed hours have ended (audited). The request stays open; `problem` says
   * why, which rule, and when to try again.
   */
  | {
      kind: 'policy-refused';
      request: ElevationRequest;
      because: 'rate-limit' | 'outside-hours';
      problem: string;
    }
  | { kind: 'expired'; request: ElevationRequest }
  /** Already executing or finished: the request as it stands, nothing called again. */
  | { kind: 'already-handled'; request: ElevationRequest }
  /** No usable token: the request stays as it is and can be confirmed after signing in. */
  | { kind: 'no-token'; request: ElevationRequest; reason: TokenRefusal; message: string }
  /**
   * The rule asks for an authentication context the sign-in lacks (step-up MFA): the click's
   * choices are kept on the request, which carries on once the requester is back from `signInUrl`.
   */
  | { kind: 'step-up-required'; request: ElevationRequest; signInUrl: string }
  /** `closed`: the requester's other open cards for the environment, closed by this execution. */
  | { kind: 'executed'; request: ElevationRequest; closed: ElevationRequest[] };

export type CancelResult =
  | { kind: 'unknown-request' }
  | { kind: 'not-requester'; request: ElevationRequest }
  | { kind: 'already-handled'; request: ElevationRequest }
  | { kind: 'cancelled'; request: ElevationRequest };

/** What the bot must tell after a step of the timers ran (the Teams layer posts it). */
export type TimeBoxEvent =
  | { kind: 'reminder'; request: ElevationRequest }
  /**
   * A removal attempt ended: `request` as it is now (removed, or overdue with its next attempt).
   * `tell`: whether the user is told now (the first failure and the final result are; the
   * retries in between are audited only).
   */
  | {
      kind: 'ended';
      request: ElevationRequest;
      ending: RemovalEnding;
      tell: boolean;
      early: boolean;
    };

export type EndNowResult =
  | { kind: 'unknown-request' }
  | { kind: 'not-requester'; request: ElevationRequest }
  /** No time box (not granted), or already final (removed, or kept because held before). */
  | { kind: 'not-active'; request: ElevationRequest }
  /** Another instance or click is removing it right now. */
  | { kind: 'in-progress'; request: ElevationRequest }
  | { kind: 'sign-in-required'; request: ElevationRequest }
  | { kind: 'ended'; event: Extract<TimeBoxEvent, { kind: 'ended' }> };

export type ExtendResult =
  | { kind: 'unknown-request' }
  | { kind: 'not-requester'; request: ElevationRequest }
  | { kind: 'not-active'; request: ElevationRequest }
  | { kind: 'justification-required'; request: ElevationRequest; problem: string }
  /** The end is already the latest the maximum allows. */
  | { kind: 'at-limit'; request: ElevationRequest }
  | { kind: 'extended'; request: ElevationRequest; minutes: number };
