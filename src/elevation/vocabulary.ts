/**
 * The words the use cases speak: an environment, what one API call came to, and why it failed.
 * The domain owns them; the Power Platform adapter (src/powerplatform/) fills them in.
 */

/** An environment as the list endpoint describes it (only the fields the bot uses). */
export interface Environment {
  /** A GUID, or `Default-<tenant GUID>` for the tenant's default environment. */
  id: string;
  displayName: string;
  /** Production, Sandbox, Trial, Developer, Default, Teams, ... (as the API spells it). */
  type: string;
  /** e.g. "Enabled", "Disabled"; absent when the API does not say. */
  state?: string;
  /** e.g. "unitedstates", "europe". */
  geo?: string;
  /** e.g. "westus". */
  azureRegion?: string;
  /** The Dataverse instance URL (`https://org.crm.dynamics.com`); absent without Dataverse. */
  dataverseUrl?: string;
  /** The instance's domain name, e.g. "contoso-dev" (first label of the Dataverse URL). */
  domainName?: string;
  tenantId?: string;
  securityGroupId?: string;
}

/** What we learned about one HTTP exchange, whatever its outcome. */
export interface ResponseFacts {
  /** HTTP status of the last attempt; absent when no response arrived (timeout, connection). */
  status?: number;
  /** The status description ("Forbidden"), from the response or the standard text. */
  statusText?: string;
  /** The `x-ms-correlation-id` response header, verbatim, when the API returned one. */
  correlationId?: string;
  /** The `x-ms-client-request-id` we sent (the same on every retry of one call). */
  clientRequestId: string;
  /** How many attempts were made. */
  attempts: number;
  /** Wall time of the whole call, retries included. */
  durationMs: number;
  /** The last response's `Retry-After`, in milliseconds (throttling: when to try again). */
  retryAfterMs?: number;
}

/**
 * Every reason an elevation does not happen that the user is told, whichever side found it: the
 * sign-in, before any call (a TokenRefusal), or the Power Platform API's answer (a FailureKind).
 * A problem both can find (a missing permission, no tenant admin role) is one word, explained once
 * (outcome-text.ts).
 */
export type Problem =
  /** The user must sign in (or consent) first; the bot asks Teams for the token. */
  | 'sign-in-required'
  /** The sign-in failed otherwise: misconfiguration, identity provider down. Never a consent prompt. */
  | 'error'
  /**
   * The bot's app lacks the delegated UserManagement.Users.Apply permission (admin consent missing):
   * seen in the token before any call, or a 403 InsufficientPrincipalPermissions /
   * InsufficientDelegatedPermissions from the API.
   */
  | 'permission-missing'
  /**
   * The user is not Global, Power Platform or Dynamics 365 admin: seen in the sign-in before any
   * call, or a 401/403 from the API saying so.
   */
  | 'not-tenant-admin'
  /** 2xx whose body carries a non-empty `errors[]` (e.g. userNotPartOfSecurityGroup). */
  | 'functional-error'
  /** 400 ApiVersionInvalid: an operator problem (configured api-version). */
  | 'api-version-invalid'
  /** Any other 400. */
  | 'bad-request'
  /** 401. */
  | 'unauthorized'
  /** Any other 403. */
  | 'forbidden'
  /** 404: the environment is unknown or deleted. */
  | 'environment-not-found'
  /** 429 (or 503 with Retry-After) still after the allowed retries. */
  | 'throttled'
  /** 5xx after the allowed retries. */
  | 'upstream-unavailable'
  /** No response within the time allowed. */
  | 'timeout'
  /** The connection failed (refused, reset, DNS). */
  | 'connection-failed'
  /** A response we cannot read: non-JSON, empty, or an unknown status. */
  | 'unexpected-response'
  /** The request was refused before any HTTP call (e.g. an environment id of the wrong shape). */
  | 'invalid-request'
  /** The bot stopped (crash, restart) while the call was in flight: the outcome is unknown. */
  | 'interrupted';

/** Why the bot holds no usable token for the user, found before any call. */
export type TokenRefusal = Extract<
  Problem,
  'sign-in-required' | 'error' | 'permission-missing' | 'not-tenant-admin'
>;

/** Why an upstream call failed: every problem but those only the sign-in finds. */
export type FailureKind = Exclude<Problem, 'sign-in-required' | 'error'>;

/** A failed upstream call, as a value. */
export interface Failure {
  ok: false;
  kind: FailureKind;
  /** The most specific error code the body gave (innererror.code, errors[0].Code, code). */
  errorCode?: string;
  /** A readable message built from the body (never containing tokens). */
  message: string;
  /** Further lines from the body (inner errors, the errors[] entries beyond the first). */
  details: string[];
  response: ResponseFacts;
  /** The response body as received, capped in size, token-free; kept for the audit. */
  rawBody?: string;
}

/** applyAdminRole answered with `Code: "UserExists"` and no errors. */
export interface AdminRoleGranted {
  ok: true;
  /** The information code, normally "UserExists". */
  code: string;
  /** Parsed from the success Description (a JSON array encoded inside a string). */
  instanceUrl?: string;
  systemUserId?: string;
  /** The Description's entries, as lines. */
  details: string[];
  response: ResponseFacts;
  rawBody?: string;
}

export type AdminRoleOutcome = AdminRoleGranted | Failure;

export type EnvironmentList = { ok: true; environments: Environment[]; pages: number } | Failure;

/**
 * What one attempt to remove the System Administrator role through an environment's Dataverse
 * Web API came to (time-boxed elevation). `requestId`: Dataverse's `x-ms-service-request-id` of
 * the last response, when one arrived; `status`: its HTTP status.
 */
export type RemovalResult =
  /** DELETE .../systemuserroles_association(<roleid>)/$ref answered 204. */
  | { kind: 'removed'; status: number; requestId?: string }
  /**
   * Nothing to remove: the user holds no System Administrator role (no association found, or the
   * DELETE answered 404). A success. `detail` says which.
   */
  | { kind: 'already-gone'; status: number; requestId?: string; detail: string }
  /** 401/403: Dataverse refused the caller; `message` is Dataverse's reason. Not retried soon. */
  | { kind: 'refused'; status: number; requestId?: string; message: string }
  /**
   * Throttled (429), 5xx, timeout or no connection: worth another attempt, after `retryAfterMs`
   * when Dataverse said (Retry-After).
   */
  | {
      kind: 'unavailable';
      status?: number;
      requestId?: string;
      retryAfterMs?: number;
      message: string;
    };

/**
 * Every way an elevation ends: one removal attempt's result, or what the bot found without one.
 * removed-by-microsoft: the role is gone and the user's sign-in no longer shows a tenant admin
 * role (their PIM activation ended). kept: the user held the role before the elevation.
 * token-unavailable: the bot could not get a token to act as the user (LaterTokenResult).
 */
export type RemovalEnding =
  | RemovalResult
  | { kind: 'removed-by-microsoft'; status?: number; requestId?: string }
  | { kind: 'kept' }
  | {
      kind: 'token-unavailable';
      reason: 'not-kept' | 'refused' | 'unavailable';
      message: string;
    };
