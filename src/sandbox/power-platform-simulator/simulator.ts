/**
 * A simulated Power Platform API on node:http, for the sandbox and for tests: the two endpoints the
 * bot calls, with the real API's habits (bearer token required, api-version checked, a fresh
 * `x-ms-correlation-id` on every answer, the client request id echoed, paged lists with both
 * next-link spellings, 2xx functional failures) and every failure shape reachable from the seed.
 */
import { listenLocally } from '../listen';
import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';

import { Logger, silentLogger } from '../../log';
import { parseSimBehavior, SimBehavior } from './behavior';
import {
  Authenticate,
  bearerToken,
  CallerClaims,
  decodeJwtClaims,
  hasScope,
  isExpired,
  isTenantAdmin,
} from './caller';
import {
  adminRoleFailure,
  apiVersionInvalid,
  flatError,
  granted,
  json,
  missingDelegatedPermission,
  NOT_TENANT_ADMIN_MESSAGE,
  notFound,
  shaped,
  SimAnswer,
  SUPPORTED_API_VERSIONS,
  systemUserIdFor,
  unauthorized,
} from './responses';
import { defaultSeed, SimulatedEnvironment } from './seed';

export interface PowerPlatformSimulatorOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; loopback only, the simulator must never be reachable from outside. */
  host?: '127.0.0.1' | '::1' | 'localhost';
  /** The environments served, in list order; the sample tenant (`defaultSeed()`) by default. */
  seed?: SimulatedEnvironment[];
  /** Environments per list page. */
  pageSize?: number;
  /** api-version values accepted; any other answers 400 ApiVersionInvalid. */
  apiVersions?: readonly string[];
  /** Identifies the caller from the bearer token; by default the JWT payload, unverified. */
  authenticate?: Authenticate;
  /** Where one line per simulated request goes. */
  logger?: Logger;
}

const DEFAULTS = {
  port: 0,
  host: '127.0.0.1',
  pageSize: 10,
  apiVersions: SUPPORTED_API_VERSIONS,
} as const;

export type SimOperation = 'listEnvironments' | 'applyAdminRole' | 'other';

/** One request the simulator received. */
export interface RecordedCall {
  method: string;
  /** Path and query as received. */
  path: string;
  operation: SimOperation;
  /** For applyAdminRole, the id as it appeared in the path (decoded). */
  environmentId?: string;
  /** Request headers, names in lower case, Authorization left out. */
  headers: Record<string, string>;
  /** When the request arrived (ISO 8601). */
  time: string;
  /** The status answered; absent while pending or when the connection was reset. */
  status?: number;
  /** When the answer was sent (ISO 8601). */
  answeredAt?: string;
  /** The `x-ms-correlation-id` answered. */
  correlationId?: string;
}

/** A successful applyAdminRole. */
export interface RecordedGrant {
  environmentId: string;
  /** The environment's Dataverse instance URL. */
  instanceUrl?: string;
  oid: string;
  systemUserId: string;
  time: string;
  /** The authentication contexts the caller's token carried (`acrs`, step-up MFA), if any. */
  acrs?: string[];
}

export interface OverrideMatch {
  operation?: SimOperation;
  /** Compared without regard to letter case. */
  environmentId?: string;
}

export interface PowerPlatformSimulator {
  /** Base URL, e.g. http://127.0.0.1:53117 (use it as the Power Platform API base URL). */
  url: string;
  /** Every request received, oldest first (a live array; `calls.length = 0` clears it). */
  calls: RecordedCall[];
  /** Every granted elevation, oldest first. */
  grants: RecordedGrant[];
  /** Answers matching requests as `spec` (x-sim-behavior syntax, see behavior.ts) until cleared. */
  override(spec: string, match?: OverrideMatch): void;
  clearOverrides(): void;
  stop(): Promise<void>;
}

const LIST_PATH = /^\/environmentmanagement\/environments\/?$/i;
const APPLY_PATH = /^\/usermanagement\/environments\/([^/]+)\/user\/applyAdminRole\/?$/i;

/** Starts the simulator; `stop()` closes it and every open connection. */
export async function startPowerPlatformSimulator(
  options: PowerPlatformSimulatorOptions = {},
): Promise<PowerPlatformSimulator> {
  const host = options.host ?? DEFAULTS.host;
  if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
    throw new Error(`The Power Platform simulator listens on loopback only, not "${host}"`);
  }
  const seed = options.seed ?? defaultSeed();
  const pageSize = Math.max(1, options.pageSize ?? DEFAULTS.pageSize);
  const apiVersions = options.apiVersions ?? DEFAULTS.apiVersions;
  const authenticate = options.authenticate ?? decodeJwtClaims;
  const logger = options.logger ?? silentLogger;
  const byId = new Map(seed.map((environment) => [environment.id.toLowerCase(), environment]));

  const calls: RecordedCall[] = [];
  const grants: RecordedGrant[] = [];
  const overrides: { behavior: SimBehavior; match: OverrideMatch; used: number }[] = [];
  const headerUses = new Map<string, number>();
  const pendingDelays = new Set<() => void>();
  let baseUrl = '';
  let stopped = false;

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error('simulator failure', { error });
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'x-ms-correlation-id': randomUUID() });
        res.end();
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume(); // no endpoint reads a body; drain it so the connection can be reused
    const target = new URL(req.url ?? '/', 'http://simulator');
    const applyMatch = APPLY_PATH.exec(target.pathname);
    const call: RecordedCall = {
      method: req.method ?? 'GET',
      path: `${target.pathname}${target.search}`,
      operation: LIST_PATH.test(target.pathname)
        ? 'listEnvironments'
        : applyMatch
          ? 'applyAdminRole'
          : 'other',
      environmentId: applyMatch?.[1] === undefined ? undefined : safeDecode(applyMatch[1]),
      headers: recordedHeaders(req),
      time: new Date().toISOString(),
    };
    calls.push(call);

    const behavior = behaviorFor(call);
    if (behavior && 'error' in behavior) {
      return send(req, res, call, flatError(400, 'SimulatorBehaviorInvalid', behavior.error));
    }
    const extraHeaders: Record<string, string> =
      behavior?.retryAfter !== undefined ? { 'retry-after': behavior.retryAfter } : {};
    if (behavior?.delayMs) {
      await delay(behavior.delayMs);
      if (stopped || res.destroyed) return;
    }
    if (behavior?.reset) {
      req.socket.destroy();
      logger.info('simulated request', { ...summary(call), outcome: 'connection reset' });
      return;
    }
    if (behavior?.status !== undefined || behavior?.body !== undefined) {
      return send(
        req,
        res,
        call,
        shaped(behavior.status ?? 200, behavior.body),
        extraHeaders,
        behavior.noCorrelationId,
      );
    }

    const answer = await answerFor(req, target, call, behavior);
    send(req, res, call, answer, extraHeaders, behavior?.noCorrelationId);
  }

  async function answerFor(
    req: IncomingMessage,
    target: URL,
    call: RecordedCall,
    behavior: SimBehavior | undefined,
  ): Promise<SimAnswer> {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) return unauthorized('The request has no bearer token.');
    const claims = await authenticate(token);
    if (!claims) return unauthorized('The bearer token was not accepted.');
    if (isExpired(claims)) return unauthorized('The bearer token has expired.');
    if (typeof claims.oid !== 'string') {
      return unauthorized('The bearer token names no user (oid); this API acts for a user.');
    }

    const version = target.searchParams.get('api-version');
    if (version === null || !apiVersions.includes(version)) return apiVersionInvalid(version);

    if (call.operation === 'listEnvironments') {
      if (call.method !== 'GET') return methodNotAllowed(call.method);
      if (!hasScope(claims, 'EnvironmentManagement.Environments.Read')) {
        return missingDelegatedPermission('EnvironmentManagement.Environments.Read');
      }
      return listPage(target, version);
    }
    if (call.operation === 'applyAdminRole') {
      if (call.method !== 'POST') return methodNotAllowed(call.method);
      return applyAdminRole(call.environmentId ?? '', { ...claims, oid: claims.oid }, behavior);
    }
    return flatError(404, 'ResourceNotFound', `No route matches '${target.pathname}'.`);
  }

  function listPage(target: URL, version: string): SimAnswer {
    const skipToken = target.searchParams.get('$skiptoken');
    const offset = skipToken === null ? 0 : decodeSkipToken(skipToken);
    if (offset === undefined)
      return flatError(400, 'InvalidSkipToken', 'The $skiptoken is not valid.');
    const page = seed.slice(offset, offset + pageSize).map(listed);
    const body: Record<string, unknown> = { value: page };
    const nextOffset = offset + pageSize;
    if (nextOffset < seed.length) {
      const next = new URL('/environmentmanagement/environments', baseUrl);
      next.searchParams.set('api-version', version);
      next.searchParams.set('$skiptoken', Buffer.from(String(nextOffset)).toString('base64url'));
      // The API is seen sending `@odata.nextLink` while its docs spell `@odata.nextlink`: use both.
      const spelling = (offset / pageSize) % 2 === 0 ? '@odata.nextLink' : '@odata.nextlink';
      body[spelling] = next.href;
    }
    return json(200, body);
  }

  function applyAdminRole(
    environmentId: string,
    claims: CallerClaims & { oid: string },
    behavior: SimBehavior | undefined,
  ): SimAnswer {
    if (!hasScope(claims, 'UserManagement.Users.Apply')) {
      return missingDelegatedPermission('UserManagement.Users.Apply');
    }
    if (!isTenantAdmin(claims)) return flatError(403, 'Forbidden', NOT_TENANT_ADMIN_MESSAGE);
    const environment = byId.get(environmentId.toLowerCase());
    if (!environment) return notFound(environmentId);
    const answer = behavior?.as ?? environment.adminRole;
    if (answer !== 'grant') return adminRoleFailure(answer, environment, claims);
    grants.push({
      environmentId: environment.id,
      instanceUrl: environment.url,
      oid: claims.oid,
      systemUserId: systemUserIdFor(environment.id, claims.oid),
      time: new Date().toISOString(),
      ...(Array.isArray(claims.acrs) && { acrs: claims.acrs.map(String) }),
    });
    return granted(environment, claims.oid);
  }

  /** The override for this request: the x-sim-behavior header first, then registered ones. */
  function behaviorFor(call: RecordedCall): SimBehavior | { error: string } | undefined {
    const spec = call.headers['x-sim-behavior'];
    if (spec !== undefined) {
      const parsed = parseSimBehavior(spec);
      if ('error' in parsed || parsed.times === undefined) return parsed;
      // Counted per client request id: "the first n attempts of this call".
      const key = `${call.headers['x-ms-client-request-id'] ?? ''}\n${spec}`;
      const used = headerUses.get(key) ?? 0;
      headerUses.set(key, used + 1);
      return used < parsed.times ? parsed : undefined;
    }
    for (const entry of overrides) {
      const { operation, environmentId } = entry.match;
      if (operation !== undefined && operation !== call.operation) continue;
      if (
        environmentId !== undefined &&
        environmentId.toLowerCase() !== call.environmentId?.toLowerCase()
      ) {
        continue;
      }
      if (entry.behavior.times !== undefined && entry.used >= entry.behavior.times) continue;
      entry.used++;
      return entry.behavior;
    }
    return undefined;
  }

  function send(
    req: IncomingMessage,
    res: ServerResponse,
    call: RecordedCall,
    answer: SimAnswer,
    extraHeaders: Record<string, string> = {},
    omitCorrelationId = false,
  ): void {
    if (res.destroyed || res.headersSent) return;
    const correlationId = omitCorrelationId ? undefined : randomUUID();
    const headers: Record<string, string> = {
      ...answer.headers,
      ...extraHeaders,
      ...(correlationId ? { 'x-ms-correlation-id': correlationId } : {}),
    };
    const clientRequestId = req.headers['x-ms-client-request-id'];
    if (typeof clientRequestId === 'string') headers['x-ms-client-request-id'] = clientRequestId;
    if (answer.body !== undefined && answer.contentType)
      headers['content-type'] = answer.contentType;
    res.writeHead(answer.status, headers);
    res.end(answer.body);
    call.status = answer.status;
    call.answeredAt = new Date().toISOString();
    call.correlationId = correlationId;
    logger.info('simulated request', summary(call));
  }

  function delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pendingDelays.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      pendingDelays.add(done);
    });
  }

  baseUrl = await listenLocally(server, host, options.port ?? DEFAULTS.port);

  return {
    url: baseUrl,
    calls,
    grants,
    override(spec, match = {}) {
      const parsed = parseSimBehavior(spec);
      if ('error' in parsed) throw new Error(parsed.error);
      overrides.push({ behavior: parsed, match, used: 0 });
    },
    clearOverrides() {
      overrides.length = 0;
    },
    async stop() {
      stopped = true;
      for (const release of [...pendingDelays]) release();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** What the list endpoint shows of an environment (everything but the simulator's own field). */
function listed(environment: SimulatedEnvironment): Omit<SimulatedEnvironment, 'adminRole'> {
  const { adminRole: _adminRole, ...visible } = environment;
  return visible;
}

function decodeSkipToken(token: string): number | undefined {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  return /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

function methodNotAllowed(method: string): SimAnswer {
  return flatError(405, 'MethodNotAllowed', `The method '${method}' is not allowed here.`);
}

function recordedHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'authorization' || value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function summary(call: RecordedCall): Record<string, unknown> {
  return {
    method: call.method,
    operation: call.operation,
    environmentId: call.environmentId,
    status: call.status,
    correlationId: call.correlationId,
    clientRequestId: call.headers['x-ms-client-request-id'],
  };
}
