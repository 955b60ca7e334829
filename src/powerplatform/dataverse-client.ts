/**
 * An environment's Dataverse Web API, as the user: whether they hold System Administrator (to tell
 * "newly granted" from "already had it", since applyAdminRole answers the same for both), and the
 * removal of that role when a time-boxed elevation ends. Roles are matched by the role template
 * id, constant across business units and languages, never by name.
 */
import type { RoleLookup, RoleLookupResult, RoleRemoval } from '../elevation/ports';
import type { RemovalResult } from '../elevation/vocabulary';
import type { HttpClient, HttpResponse, HttpResult } from '../http/http-client';
import type { Logger } from '../log';
import { redactText, silentLogger } from '../log';
import { parseErrorBody } from './error-body';

const SYSTEM_ADMINISTRATOR_TEMPLATE_ID = '627090ff-40a3-4053-8790-584edc5be201';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DataverseClientOptions {
  /**
   * Retries 429, 5xx, timeouts and connection failures itself, never sooner than a Retry-After
   * asks; a removal adds no retries of its own (the time box's backoff comes on top).
   */
  http: Pick<HttpClient, 'request'>;
  logger?: Logger;
  /** Where a real instance URL is served (the sandbox maps it to its simulator). */
  rewriteInstanceUrl?: (instanceUrl: string) => string;
}

/** Dataverse's answer when the user has no role in the instance: not an error, just "no". */
const NOT_A_MEMBER = /not a member of the organization|has not been assigned any roles/i;

/** Which of the two look-up calls an answer came from. */
type LookupStep = 'WhoAmI' | 'the role look-up';

/** What looking up the user's System Administrator roles came to. */
type RoleSearch =
  /** `roleIds`: one per business unit the user holds the role in; empty when none. */
  | { kind: 'found'; userId: string; roleIds: string[]; entries: number; response: HttpResponse }
  /** Dataverse says the user is not a member of the organization, or holds no role at all. */
  | { kind: 'no-roles'; step: LookupStep; response: HttpResponse }
  /** No usable answer: `result` is the last one, `message` says what went wrong. */
  | { kind: 'failed'; step: LookupStep; result: HttpResult; message: string };

export class DataverseClient implements RoleLookup, RoleRemoval {
  private readonly logger: Logger;

  constructor(private readonly options: DataverseClientOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  async holdsSystemAdministrator(token: string, instanceUrl: string): Promise<RoleLookupResult> {
    const search = await this.findSystemAdministratorRoles(token, this.baseOf(instanceUrl));
    switch (search.kind) {
      case 'found':
        return { ok: true, holdsSystemAdministrator: search.entries > 0 };
      case 'no-roles':
        return { ok: true, holdsSystemAdministrator: false };
      case 'failed':
        return { ok: false, message: search.message };
    }
  }

  /**
   * Removes every System Administrator role the user holds directly (one per business unit),
   * with their own token. Stops at the first failure: the next attempt looks the roles up again,
   * so what was already removed is not asked twice. `signal` abandons the call early.
   */
  async removeSystemAdministrator(
    token: string,
    instanceUrl: string,
    signal?: AbortSignal,
  ): Promise<RemovalResult> {
    let result: RemovalResult;
    try {
      result = await this.remove(token, instanceUrl, signal);
    } catch (error) {
      // Failures are values here: an abandoned call (or an unusable URL) is tried again later.
      result = {
        kind: 'unavailable',
        message: signal?.aborted
          ? 'The removal was abandoned before Dataverse answered'
          : `The removal could not be sent: ${redactText(error instanceof Error ? error.message : String(error))}`,
      };
    }
    const { kind, status, requestId } = result;
    const log = kind === 'removed' || kind === 'already-gone' ? 'info' : 'warn';
    this.logger[log]('dataverse role removal', { kind, status, requestId });
    return result;
  }

  private async remove(
    token: string,
    instanceUrl: string,
    signal: AbortSignal | undefined,
  ): Promise<RemovalResult> {
    const base = this.baseOf(instanceUrl);
    const search = await this.findSystemAdministratorRoles(token, base, signal);
    if (search.kind === 'no-roles') {
      return {
        kind: 'already-gone',
        status: search.response.status,
        requestId: requestIdOf(search.response),
        detail: `${search.step} says the user holds no role in this environment: ${parseErrorBody(search.response.bodyText).message}`,
      };
    }
    if (search.kind === 'failed') return failureOf(search.result, search.message);
    if (search.roleIds.length < search.entries) {
      // Held, but not removable as listed: never report that as gone.
      return failureOf(search.response, 'the role look-up listed a role without a readable id');
    }
    if (search.roleIds.length === 0) {
      return {
        kind: 'already-gone',
        status: search.response.status,
        requestId: requestIdOf(search.response),
        detail: 'the user holds no System Administrator role in this environment',
      };
    }

    let removed: HttpResponse | undefined;
    let last: HttpResponse | undefined;
    for (const roleId of search.roleIds) {
      const answer = await this.options.http.request({
        method: 'DELETE',
        url: `${base}/api/data/v9.2/systemusers(${search.userId})/systemuserroles_association(${roleId})/$ref`,
        headers: headersFor(token),
        signal,
      });
      if (answer.kind !== 'response') return failureOf(answer, answer.message);
      last = answer;
      if (answer.status >= 200 && answer.status < 300) removed = answer;
      // Gone between the look-up and the DELETE (another instance, an admin, PIM): nothing to do.
      else if (answer.status !== 404)
        return failureOf(answer, `the DELETE answered ${answer.status} ${answer.statusText}`);
    }
    if (removed) {
      return { kind: 'removed', status: removed.status, requestId: requestIdOf(removed) };
    }
    return {
      kind: 'already-gone',
      status: last!.status,
      requestId: requestIdOf(last!),
      detail: 'the DELETE answered 404: the role was removed meanwhile',
    };
  }

  /** WhoAmI, then the user's roles with the System Administrator template. */
  private async findSystemAdministratorRoles(
    token: string,
    base: string,
    signal?: AbortSignal,
  ): Promise<RoleSearch> {
    const headers = headersFor(token);
    const whoAmI = await this.options.http.request({
      method: 'GET',
      url: `${base}/api/data/v9.2/WhoAmI`,
      headers,
      signal,
    });
    if (whoAmI.kind !== 'response')
      return { kind: 'failed', step: 'WhoAmI', result: whoAmI, message: whoAmI.message };
    if (whoAmI.status !== 200) {
      if (NOT_A_MEMBER.test(whoAmI.bodyText))
        return { kind: 'no-roles', step: 'WhoAmI', response: whoAmI };
      return {
        kind: 'failed',
        step: 'WhoAmI',
        result: whoAmI,
        message: `WhoAmI answered ${whoAmI.status} ${whoAmI.statusText}`,
      };
    }
    const userId = readUserId(whoAmI.bodyText);
    if (!userId)
      return {
        kind: 'failed',
        step: 'WhoAmI',
        result: whoAmI,
        message: 'WhoAmI returned no UserId',
      };
    const filter = `_roletemplateid_value eq ${SYSTEM_ADMINISTRATOR_TEMPLATE_ID}`;
    const roles = await this.options.http.request({
      method: 'GET',
      url: `${base}/api/data/v9.2/systemusers(${userId})/systemuserroles_association?$select=roleid,name&$filter=${encodeURIComponent(filter)}`,
      headers,
      signal,
    });
    const step = 'the role look-up';
    if (roles.kind !== 'response')
      return { kind: 'failed', step, result: roles, message: roles.message };
    if (roles.status !== 200) {
      if (NOT_A_MEMBER.test(roles.bodyText)) return { kind: 'no-roles', step, response: roles };
      return {
        kind: 'failed',
        step,
        result: roles,
        message: `the role look-up answered ${roles.status} ${roles.statusText}`,
      };
    }
    const value = readValue(roles.bodyText);
    if (value === undefined) {
      this.logger.warn('unreadable role look-up', { status: roles.status });
      return { kind: 'failed', step, result: roles, message: 'the role look-up returned no JSON' };
    }
    const roleIds = value
      .map((entry) => (entry as { roleid?: unknown } | null)?.roleid)
      .filter((id): id is string => typeof id === 'string' && GUID.test(id));
    return { kind: 'found', userId, roleIds, entries: value.length, response: roles };
  }

  private baseOf(instanceUrl: string): string {
    return (this.options.rewriteInstanceUrl?.(instanceUrl) ?? instanceUrl).replace(/\/+$/, '');
  }
}

function headersFor(token: string): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    accept: 'application/json',
    'OData-Version': '4.0',
  };
}

/**
 * A failed step as a RemovalResult: 401/403 refused with Dataverse's own reason; 429, 5xx,
 * timeouts and connection failures unavailable (after the HTTP client's retries); any other
 * answer unavailable too, since nothing says the role is gone.
 */
function failureOf(result: HttpResult, message: string): RemovalResult {
  if (result.kind !== 'response') return { kind: 'unavailable', message };
  const { status } = result;
  const requestId = requestIdOf(result);
  const reason = status >= 400 ? parseErrorBody(result.bodyText).message : undefined;
  if (status === 401 || status === 403) {
    return { kind: 'refused', status, requestId, message: reason ?? message };
  }
  const retryAfterMs = status === 429 || status >= 500 ? result.retryAfterMs : undefined;
  return {
    kind: 'unavailable',
    status,
    requestId,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    message: reason ? `${message}: ${reason}` : message,
  };
}

/** Dataverse's own id of the request, which its support asks for. */
function requestIdOf(response: HttpResponse): string | undefined {
  return response.headers['x-ms-service-request-id'] || undefined;
}

function readUserId(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { UserId?: unknown }).UserId;
    return typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The `value` array of an OData collection; an empty one when the body has none. */
function readValue(body: string): unknown[] | undefined {
  try {
    const value = (JSON.parse(body) as { value?: unknown } | null)?.value;
    return Array.isArray(value) ? value : [];
  } catch {
    return undefined;
  }
}
