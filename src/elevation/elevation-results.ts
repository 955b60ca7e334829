/**
 * What the elevation use case answers (elevation-service.ts): to a request, to Elevate, to
 * Cancel. The Teams layer turns each into the card or message the user sees.
 */
import type { ListingProblem } from './environment-lists';
import type { MatchReason } from './environment-resolution';
import type { ElevationRequest } from './request';
import type { Environment, TokenRefusal } from './vocabulary';

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
  /** The duration asked for is longer than ELEVATION_MAX_MINUTES (or not a whole minute). */
  | { kind: 'duration-refused'; minutes: number; maxMinutes: number }
  | ListingProblem;

export type ConfirmResult =
  | { kind: 'unknown-request' }
  /** Someone other than the requester clicked: nothing is called. */
  | { kind: 'not-requester'; request: ElevationRequest }
  | { kind: 'justification-required'; request: ElevationRequest; problem: string }
  /** The request needs a second person's approval and has none (yet): nothing is called. */
  | { kind: 'approval-required'; request: ElevationRequest }
  /** The duration chosen on the card is not allowed (longer than the maximum). */
  | { kind: 'duration-refused'; request: ElevationRequest; maxMinutes: number }
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
