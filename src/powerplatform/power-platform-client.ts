/**
 * The Power Platform API as the bot uses it: list the tenant's environments, and elevate the
 * signed-in user to System Administrator in one of them (`applyAdminRole`). Every answer, good or
 * bad, comes back as a value carrying the correlation id Microsoft support asks for.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';

import { HttpClient, HttpResponse, HttpResult, isClientRequestId } from '../http/http-client';
import { Logger, redactText, silentLogger } from '../log';
import { isEnvironmentId } from './environment-id';
import { parseErrorBody } from './error-body';
import type {
  AdminRoleOutcome,
  Environment,
  EnvironmentList,
  Failure,
  FailureKind,
  ResponseFacts,
} from '../elevation/vocabulary';
import { field, isRecord, parseResultDescription, readResultEnvelope } from './result-envelope';
import { withoutInvisibleControls } from '../elevation/visible-text';

export interface PowerPlatformClientOptions {
  /** API root from configuration, e.g. https://api.powerplatform.com; sovereign clouds differ. */
  baseUrl: string;
  /** The `api-version` sent with every call. */
  apiVersion?: string;
  /** The one outbound HTTP client (timeouts, retries, client request ids, attempt logs). */
  http: HttpClient;
  /** Where one line per operation outcome goes. */
  logger?: Logger;
  /** Most list pages followed before giving up (a guard against endless next links). */
  maxPages?: number;
  /** Longest raw body kept on an outcome for the audit, in characters. */
  maxRawBodyChars?: number;
}

const DEFAULTS = {
  apiVersion: '2024-10-01',
  maxPages: 10_000,
  maxRawBodyChars: 8 * 1024,
} as const;

/** Codes the gateway uses for an api-version it does not serve. */
const API_VERSION_CODES = ['apiversioninvalid', 'apiversionunsupported'];
/** Codes meaning the app lacks a delegated permission, or the user lacks the tenant role. */
const PERMISSION_CODES = ['insufficientprincipalpermissions', 'insufficientdelegatedpermissions'];

type Operation = 'listEnvironments' | 'applyAdminRole';

export class PowerPlatformClient {
  private readonly base: URL;
  private readonly apiVersion: string;
  private readonly http: HttpClient;
  private readonly logger: Logger;
  private readonly maxPages: number;
  private readonly maxRawBodyChars: number;

  constructor(options: PowerPlatformClientOptions) {
    this.base = parseBaseUrl(options.baseUrl);
    this.apiVersion = options.apiVersion ?? DEFAULTS.apiVersion;
    this.http = options.http;
    this.logger = options.logger ?? silentLogger;
    this.maxPages = options.maxPages ?? DEFAULTS.maxPages;
    this.maxRawBodyChars = options.maxRawBodyChars ?? DEFAULTS.maxRawBodyChars;
  }

  /**
   * Every environment the token may see, following `@odata.nextLink` (or `@odata.nextlink`, as the
   * docs spell it) until it is absent. Next links must stay on the configured API origin: the bearer
   * token is sent with each page.
   */
  async listEnvironments(token: string): Promise<EnvironmentList> {
    const environments: Environment[] = [];
    const seen = new Set<string>();
    let skipped = 0;
    let url = this.url('/environmentmanagement/environments');

    for (let pages = 1; ; pages++) {
      seen.add(url.href);
      const result = await this.http.request({
        method: 'GET',
        url: url.href,
        headers: this.headers(token),
      });
      if (result.kind !== 'response') return this.logFailure('listEnvironments', transport(result));
      if (!isSuccess(result.status)) {
        return this.logFailure('listEnvironments', this.statusFailure('listEnvironments', result));
      }
      const page = parseJson(result.bodyText);
      const items = isRecord(page) ? page['value'] : undefined;
      if (!isRecord(page) || !Array.isArray(items)) {
        return this.logFailure(
          'listEnvironments',
          this.failure('unexpected-response', result, {
            message: `${statusLine(result)}: the environment list had no "value" array`,
          }),
        );
      }
      for (const item of items) {
        const environment = toEnvironment(item);
        if (environment) environments.push(environment);
        else skipped++;
      }

      const next = nextLinkOf(page);
      if (next === undefined) {
        if (skipped > 0) {
          this.logger.warn('environments without a usable id were skipped', { skipped });
        }
        this.logger.info('listEnvironments outcome', {
          outcome: 'ok',
          count: environments.length,
          pages,
        });
        return { ok: true, environments, pages };
      }
      const nextUrl = this.followable(next, seen, pages);
      if (typeof nextUrl === 'string') {
        return this.logFailure(
          'listEnvironments',
          this.failure('unexpected-response', result, { message: nextUrl }),
        );
      }
      url = nextUrl;
    }
  }

  /**
   * Makes the token's user System Administrator of the environment. The API can only elevate the
   * caller, so the token must be the user's delegated token. An id that is neither a GUID nor
   * `Default-<GUID>` is refused before any HTTP call.
   */
  async applyAdminRole(
    token: string,
    environmentId: string,
    clientRequestId: string = randomUUID(),
  ): Promise<AdminRoleOutcome> {
    const refusal = refusalOf(token, environmentId, clientRequestId);
    if (refusal !== undefined) {
      const facts: ResponseFacts = {
        clientRequestId: isClientRequestId(clientRequestId) ? clientRequestId : randomUUID(),
        attempts: 0,
        durationMs: 0,
      };
      const failure: Failure = {
        ok: false,
        kind: 'invalid-request',
        message: refusal,
        details: [],
        response: facts,
      };
      return this.logOutcome(environmentId, failure);
    }

    const result = await this.http.request({
      method: 'POST',
      url: this.url(
        `/usermanagement/environments/${encodeURIComponent(environmentId)}/user/applyAdminRole`,
      ).href,
      headers: { ...this.headers(token), 'content-type': 'application/json' },
      clientRequestId,
    });
    return this.logOutcome(environmentId, this.adminRoleOutcome(result));
  }

  private adminRoleOutcome(result: HttpResult): AdminRoleOutcome {
    if (result.kind !== 'response') return transport(result);
    if (!isSuccess(result.status)) return this.statusFailure('applyAdminRole', result);

    const json = parseJson(result.bodyText);
    const envelope = readResultEnvelope(json);
    if (!envelope) {
      const body = parseErrorBody(result.bodyText);
      const why =
        json === undefined ? body.message : 'the body was not the errors/information envelope';
      return this.failure('unexpected-response', result, {
        message: `${statusLine(result)}: ${why}`,
        details: json === undefined ? [] : [body.message, ...body.details],
      });
    }
    // Quirk: functional failures come with a 2xx status; a non-empty errors[] is a failure.
    if (envelope.errors.length > 0) {
      const body = parseErrorBody(result.bodyText);
      return this.failure(
        body.notTenantAdmin ? 'not-tenant-admin' : 'functional-error',
        result,
        body,
      );
    }
    // "UserExists" is the documented evidence of success. It is also the answer when the caller
    // already was System Administrator: the response cannot tell "newly granted" from "had it".
    const evidence = envelope.information.find(
      (entry) => entry.code?.toLowerCase() === 'userexists',
    );
    if (!evidence) {
      const codes = envelope.information.map((entry) => entry.code ?? '?').join(', ');
      return this.failure('unexpected-response', result, {
        message: `${statusLine(result)} without errors and without UserExists (information codes: ${codes || 'none'})`,
      });
    }
    const description = parseResultDescription(evidence.description);
    return {
      ok: true,
      code: evidence.code ?? 'UserExists',
      instanceUrl: description.instanceUrl,
      systemUserId: description.systemUserId,
      details: description.lines.map((line) => redactText(line)),
      response: factsOf(result),
      rawBody: this.rawBody(result.bodyText),
    };
  }

  /** A non-2xx response as a failure whose kind the user-facing layer can explain. */
  private statusFailure(operation: Operation, result: HttpResponse): Failure {
    const body = parseErrorBody(result.bodyText);
    const codes = body.codes.map((code) => code.toLowerCase());
    const has = (known: string[]) => codes.some((code) => known.includes(code));
    const status = result.status;
    let kind: FailureKind;
    if (status === 400) kind = has(API_VERSION_CODES) ? 'api-version-invalid' : 'bad-request';
    // Which status and wrapper carry the not-tenant-admin refusal is unconfirmed: treat 401/403 alike.
    else if ((status === 401 || status === 403) && body.notTenantAdmin) kind = 'not-tenant-admin';
    else if (status === 401) kind = 'unauthorized';
    else if (status === 403) kind = has(PERMISSION_CODES) ? 'permission-missing' : 'forbidden';
    // A 404 on the list endpoint means a wrong base URL, not a missing environment.
    else if (status === 404)
      kind = operation === 'applyAdminRole' ? 'environment-not-found' : 'unexpected-response';
    else if (status === 429) kind = 'throttled';
    else if (status === 503 && result.retryAfterMs !== undefined) kind = 'throttled';
    else if (status >= 500 && status <= 599) kind = 'upstream-unavailable';
    else kind = 'unexpected-response';

    const unreadable = body.shape === 'empty' || body.shape === 'html' || body.shape === 'text';
    return this.failure(kind, result, {
      ...body,
      message: unreadable ? `${statusLine(result)}: ${body.message}` : body.message,
    });
  }

  private failure(
    kind: FailureKind,
    result: HttpResponse,
    body: { errorCode?: string; message: string; details?: string[] },
  ): Failure {
    return {
      ok: false,
      kind,
      errorCode: body.errorCode,
      message: body.message,
      details: body.details ?? [],
      response: factsOf(result),
      rawBody: this.rawBody(result.bodyText),
    };
  }

  /** The body for the audit: tokens removed first, so a cut cannot leave half a token behind. */
  private rawBody(bodyText: string): string {
    const clean = redactText(bodyText);
    if (clean.length <= this.maxRawBodyChars) return clean;
    return `${clean.slice(0, this.maxRawBodyChars)}…[truncated, ${clean.length} characters in all]`;
  }

  /** The next link as a URL to follow, or why it must not be followed. */
  private followable(link: string, seen: Set<string>, pagesRead: number): URL | string {
    let next: URL;
    try {
      next = new URL(link, this.base);
    } catch {
      return 'The next page link is not a URL';
    }
    // The bearer token goes with every page: never to another origin than the configured one.
    if (next.origin !== this.base.origin) {
      return `The next page link points to ${next.origin}, not ${this.base.origin}; it was not followed`;
    }
    if (!next.searchParams.has('api-version'))
      next.searchParams.set('api-version', this.apiVersion);
    if (seen.has(next.href)) return 'The next page link repeats a page already read';
    if (pagesRead >= this.maxPages)
      return `The environment list has more than ${this.maxPages} pages`;
    return next;
  }

  private url(path: string): URL {
    const url = new URL(this.base.href.replace(/\/+$/, '') + path);
    url.searchParams.set('api-version', this.apiVersion);
    return url;
  }

  private headers(token: string): Record<string, string> {
    return { authorization: `Bearer ${token}`, accept: 'application/json' };
  }

  private logOutcome(environmentId: string, outcome: AdminRoleOutcome): AdminRoleOutcome {
    const fields = {
      environmentId: isEnvironmentId(environmentId) ? environmentId : '[invalid]',
      outcome: outcome.ok ? 'granted' : outcome.kind,
      errorCode: outcome.ok ? undefined : outcome.errorCode,
      status: outcome.response.status,
      correlationId: outcome.response.correlationId,
      clientRequestId: outcome.response.clientRequestId,
      attempts: outcome.response.attempts,
      durationMs: outcome.response.durationMs,
    };
    if (outcome.ok) this.logger.info('applyAdminRole outcome', fields);
    else this.logger.warn('applyAdminRole outcome', fields);
    return outcome;
  }

  private logFailure(operation: Operation, failure: Failure): Failure {
    this.logger.warn(`${operation} outcome`, {
      outcome: failure.kind,
      errorCode: failure.errorCode,
      status: failure.response.status,
      correlationId: failure.response.correlationId,
      clientRequestId: failure.response.clientRequestId,
    });
    return failure;
  }
}

/** Why a call must not be made at all, or undefined when it may. */
function refusalOf(
  token: string,
  environmentId: string,
  clientRequestId: string,
): string | undefined {
  if (!isEnvironmentId(environmentId)) {
    const shown = clip(redactText(String(environmentId)), 80);
    return `"${shown}" is not an environment id (a GUID or Default-<GUID>)`;
  }
  if (!isClientRequestId(clientRequestId)) {
    return 'The client request id must be 1-128 letters, digits or ._:-';
  }
  if (token.trim().length === 0) return 'No access token was given';
  return undefined;
}

function parseBaseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`The Power Platform API base URL is not a URL: "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`The Power Platform API base URL must be http(s): "${value}"`);
  }
  url.search = '';
  url.hash = '';
  return url;
}

/** Maps one list item; undefined when it has no usable environment id. */
function toEnvironment(item: unknown): Environment | undefined {
  if (!isRecord(item)) return undefined;
  const id = environmentIdOf(item);
  if (id === undefined) return undefined;
  const dataverseUrl = text(item, 'url');
  // Echoed to people everywhere: without the characters that disguise what it says.
  const displayName = withoutInvisibleControls(text(item, 'displayName') ?? '');
  const environment: Environment = {
    id,
    displayName: displayName || id,
    type: text(item, 'type') ?? 'Unknown',
    state: text(item, 'state'),
    geo: text(item, 'geo'),
    azureRegion: text(item, 'azureRegion'),
    dataverseUrl,
    domainName: text(item, 'domainName') ?? firstLabel(dataverseUrl),
    tenantId: text(item, 'tenantId'),
    securityGroupId: text(item, 'securityGroupId'),
  };
  // Absent fields stay absent rather than present-but-undefined.
  for (const key of Object.keys(environment) as (keyof Environment)[]) {
    if (environment[key] === undefined) delete environment[key];
  }
  return environment;
}

/** `id` is the bare id here; tolerate a resource path ending in it, or a `name` holding it. */
function environmentIdOf(item: Record<string, unknown>): string | undefined {
  for (const candidate of [text(item, 'id'), text(item, 'name')]) {
    const last = candidate?.split('/').pop();
    if (isEnvironmentId(last)) return last;
  }
  return undefined;
}

function firstLabel(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url).hostname.split('.')[0] || undefined;
  } catch {
    return undefined;
  }
}

/** `@odata.nextLink`, or `@odata.nextlink` as the docs spell it. */
function nextLinkOf(page: Record<string, unknown>): string | undefined {
  const link = field(page, '@odata.nextLink');
  return typeof link === 'string' && link.length > 0 ? link : undefined;
}

function transport(result: Exclude<HttpResult, HttpResponse>): Failure {
  return {
    ok: false,
    kind: result.kind,
    message: result.message,
    details: [],
    response: {
      clientRequestId: result.clientRequestId,
      attempts: result.attempts,
      durationMs: result.durationMs,
    },
  };
}

function factsOf(result: HttpResponse): ResponseFacts {
  return {
    status: result.status,
    statusText: result.statusText || STATUS_CODES[result.status],
    correlationId: result.headers['x-ms-correlation-id'],
    clientRequestId: result.clientRequestId,
    attempts: result.attempts,
    durationMs: result.durationMs,
    retryAfterMs: result.retryAfterMs,
  };
}

function statusLine(result: HttpResponse): string {
  return `HTTP ${result.status} ${result.statusText || STATUS_CODES[result.status] || ''}`.trim();
}

function isSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function text(record: Record<string, unknown>, name: string): string | undefined {
  const value = field(record, name);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function clip(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}
