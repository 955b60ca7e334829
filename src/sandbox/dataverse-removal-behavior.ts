/**
 * Per-user (and optionally per-org) switches for how the simulated Dataverse answers the DELETE
 * that removes System Administrator, one per outcome the bot must tell apart (refused, already
 * gone, throttled, down, silent), with the error bodies the real Web API sends.
 */

export type RemovalFailure =
  /** 403 0x80040220: the caller lacks the privilege to disassociate the role. */
  | 'forbidden'
  /** 404: someone else removed the role between the look-up and the DELETE. */
  | 'not-found'
  /** 429 0x80072322 (service protection limit) with a Retry-After. */
  | 'throttled'
  /** 503, with a Retry-After only when given. */
  | 'unavailable'
  /** The request is accepted and never answered, until the client gives up. */
  | 'timeout';

export const REMOVAL_FAILURES: readonly RemovalFailure[] = [
  'forbidden',
  'not-found',
  'throttled',
  'unavailable',
  'timeout',
];

export interface RemovalBehaviorDetails {
  kind: RemovalFailure;
  /** For `throttled` (2 by default) and `unavailable`: the Retry-After header, in seconds. */
  retryAfterSeconds?: number;
  /** Applies to the next `times` DELETEs of the user only; to all of them when absent. */
  times?: number;
}

export type RemovalBehavior = RemovalFailure | RemovalBehaviorDetails;

/** Any org: a behavior set for `*` applies where no org-specific one is set. */
export const ANY_ORG = '*';

export class RemovalBehaviors {
  private readonly behaviors = new Map<string, RemovalBehaviorDetails>();

  set(org: string, oid: string, behavior: RemovalBehavior | undefined): void {
    if (behavior === undefined) this.behaviors.delete(key(org, oid));
    else
      this.behaviors.set(
        key(org, oid),
        typeof behavior === 'string' ? { kind: behavior } : { ...behavior },
      );
  }

  /** The behavior for this DELETE, counting it against `times`. */
  take(org: string, oid: string): RemovalBehaviorDetails | undefined {
    const found = [key(org, oid), key(ANY_ORG, oid)].find((k) => this.behaviors.has(k));
    if (found === undefined) return undefined;
    const behavior = this.behaviors.get(found)!;
    if (behavior.times !== undefined) {
      behavior.times -= 1;
      if (behavior.times <= 0) this.behaviors.delete(found);
    }
    return { ...behavior };
  }
}

/** An answer the simulator sends as it is. */
export interface RemovalFailureAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: { code: string; message: string } };
}

/**
 * The error answer of a failing DELETE; undefined for `not-found` (the role really goes, then the
 * usual 404) and `timeout` (no answer at all).
 */
export function removalFailureAnswer(
  behavior: RemovalBehaviorDetails,
  userId: string,
): RemovalFailureAnswer | undefined {
  const retryAfter = (seconds: number | undefined): Record<string, string> =>
    seconds === undefined ? {} : { 'retry-after': String(seconds) };
  switch (behavior.kind) {
    case 'forbidden':
      return {
        status: 403,
        headers: {},
        body: {
          error: {
            code: '0x80040220',
            message: `Principal user (Id=${userId}, type=8, roleCount=1, privilegeCount=312, accessMode=0), is missing prvDisassociateRole privilege on OTC=1036 for entity 'role'. (simulated)`,
          },
        },
      };
    case 'throttled':
      return {
        status: 429,
        headers: retryAfter(behavior.retryAfterSeconds ?? 2),
        body: {
          error: {
            code: '0x80072322',
            message:
              'Number of requests exceeded the limit of 6000 over time window of 300 seconds. (simulated)',
          },
        },
      };
    case 'unavailable':
      return {
        status: 503,
        headers: retryAfter(behavior.retryAfterSeconds),
        body: {
          error: {
            code: '0x80040216',
            message: 'The service is temporarily unavailable; try again shortly. (simulated)',
          },
        },
      };
    case 'not-found':
    case 'timeout':
      return undefined;
  }
}

function key(org: string, oid: string): string {
  return `${org.toLowerCase()}/${oid.toLowerCase()}`;
}
