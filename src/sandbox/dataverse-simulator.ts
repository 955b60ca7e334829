/**
 * A small simulated Dataverse Web API for the role check around applyAdminRole and the removal at
 * the end of a time-boxed elevation: WhoAmI, the user's roles filtered by the System
 * Administrator role template, and the DELETE of one such role. Each environment's instance
 * (`https://<org>.crm.dynamics.com`) is served under `/<org>` here. Who holds the role follows the
 * simulated Power Platform API's grants (optionally with a replication lag), minus what was
 * removed since, plus roles held before any elevation.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '../log';
import { silentLogger } from '../log';
import {
  type RemovalBehavior,
  RemovalBehaviors,
  removalFailureAnswer,
} from './dataverse-removal-behavior';
import { listenLocally } from './listen';
import {
  bearerToken,
  decodeJwtClaims,
  guidFrom,
  type PowerPlatformSimulator,
} from './power-platform-simulator';

export interface DataverseSimulatorOptions {
  host?: '127.0.0.1';
  port?: number;
  /**
   * How many times the user was granted System Administrator in the instance of this org label
   * (applyAdminRole). A removal takes the role away until this number grows again.
   */
  grantCount: (org: string, oid: string) => number;
  /** The user's systemuserid in that instance. */
  systemUserId: (org: string, oid: string) => string;
  logger?: Logger;
}

/** One request the simulator received. */
export interface DataverseCall {
  method: string;
  /** The resource below `/api/data/v9.2/`, decoded, without the query. */
  path: string;
  org: string;
  /** The caller's Entra object id, when the token named one. */
  oid?: string;
  /** Absent while unanswered (a `timeout` behavior never answers). */
  status?: number;
  /** The `x-ms-service-request-id` answered. */
  requestId?: string;
  /** When it arrived (epoch ms). */
  at: number;
}

export interface DataverseSimulator {
  url: string;
  /** Where the simulator serves a real instance URL (`https://<org>.crm4.dynamics.com/`). */
  instanceUrlFor(realInstanceUrl: string): string;
  /** The next `checks` role look-ups for this user report no role, as if Dataverse lagged. */
  setVisibilityLag(org: string, oid: string, checks: number): void;
  /**
   * The user holds System Administrator in this org whatever the grants say (before any
   * elevation), in `businessUnits` business units: one role, and one association, each.
   */
  holdRole(org: string, oid: string, businessUnits?: number): void;
  /** Whether the user holds System Administrator in this org now, as a role look-up would say. */
  holdsRole(org: string, oid: string): boolean;
  /** How the user's next DELETEs in this org (`*`: any org) fail; undefined clears it. */
  setRemovalBehavior(org: string, oid: string, behavior: RemovalBehavior | undefined): void;
  /** The DELETEs received, of one user or of everyone. */
  deleteCalls(oid?: string): DataverseCall[];
  /** Every request received, oldest first (a live array). */
  calls: DataverseCall[];
  /** Closes the server and every open connection, unanswered ones included. */
  stop(): Promise<void>;
}

const SYSTEM_ADMINISTRATOR_TEMPLATE = '627090ff-40a3-4053-8790-584edc5be201';
const ROLES_OF_USER = /^systemusers\(([0-9a-f-]{36})\)\/systemuserroles_association$/i;
const ROLE_REF =
  /^systemusers\(([0-9a-f-]{36})\)\/systemuserroles_association\(([0-9a-f-]{36})\)\/\$ref$/i;

/** The org label of an instance URL: `contoso-dev` of `https://contoso-dev.crm.dynamics.com`. */
export function orgOf(instanceUrl: string): string {
  return new URL(instanceUrl).hostname.split('.')[0]!.toLowerCase();
}

/**
 * Where a server standing in for every Dataverse instance, at `base`, serves a real instance URL:
 * `https://<org>.crm.dynamics.com` becomes `<base>/<org>` (the simulator's own layout).
 */
export function dataverseUrlAt(base: string): (realInstanceUrl: string) => string {
  const root = base.replace(/\/+$/, '');
  return (real) => `${root}/${orgOf(real)}`;
}

/**
 * The System Administrator role of a business unit of the instance (roles are copied per
 * business unit; 0 is the root one, where applyAdminRole assigns it).
 */
export function systemAdministratorRoleId(org: string, businessUnit = 0): string {
  return guidFrom(`role:system-administrator:${org.toLowerCase()}:${businessUnit}`);
}

export async function startDataverseSimulator(
  options: DataverseSimulatorOptions,
): Promise<DataverseSimulator> {
  const logger = options.logger ?? silentLogger;
  const lag = new Map<string, number>();
  /** Roles held whatever the grants say, by org/oid. */
  const held = new Map<string, Set<string>>();
  /** The grant count when the granted role was last removed, by org/oid. */
  const removedAtGrant = new Map<string, number>();
  const behaviors = new RemovalBehaviors();
  const calls: DataverseCall[] = [];

  const rolesOf = (org: string, oid: string): string[] => {
    const key = keyOf(org, oid);
    const roles = new Set(held.get(key));
    if (options.grantCount(org, oid) > (removedAtGrant.get(key) ?? 0)) {
      roles.add(systemAdministratorRoleId(org));
    }
    return [...roles];
  };
  const removeRole = (org: string, oid: string, roleId: string) => {
    const key = keyOf(org, oid);
    held.get(key)?.delete(roleId);
    if (roleId === systemAdministratorRoleId(org)) {
      removedAtGrant.set(key, options.grantCount(org, oid));
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dataverse.local');
    const call: DataverseCall = {
      method: req.method ?? 'GET',
      path: url.pathname,
      org: '',
      at: Date.now(),
    };
    calls.push(call);
    req.resume();
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      call.requestId = randomUUID();
      res.writeHead(status, {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        'x-ms-service-request-id': call.requestId,
        ...headers,
      });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const notFound = () =>
      answer(404, { error: { code: '0x80060888', message: 'Resource not found' } });

    const match = /^\/([a-z0-9-]+)\/api\/data\/v9\.2\/(.+)$/i.exec(url.pathname);
    if (!match) return notFound();
    const org = match[1]!.toLowerCase();
    const resource = decodeURIComponent(match[2]!);
    call.org = org;
    call.path = resource;
    const claims = decodeJwtClaims(bearerToken(req.headers.authorization) ?? '');
    // The token must be for this instance, as a real Dataverse checks its audience.
    if (!claims?.oid || typeof claims.aud !== 'string' || orgOf(claims.aud) !== org) {
      return answer(401, {
        error: { code: '0x80072560', message: 'The token is not for this organization.' },
      });
    }
    const oid = claims.oid.toLowerCase();
    call.oid = oid;
    const userId = options.systemUserId(org, oid).toLowerCase();
    const lagKey = keyOf(org, oid);
    const lagging = (lag.get(lagKey) ?? 0) > 0;
    const roles = rolesOf(org, oid);
    // Elevated once (or holding a role from before): a member, even after the role went.
    const member = roles.length > 0 || options.grantCount(org, oid) > 0 || held.has(lagKey);

    if (resource === 'WhoAmI') {
      // Before any elevation the caller is unknown to the organization, as the real API says.
      if (!member && !lagging) {
        return answer(403, {
          error: { code: '0x80072560', message: 'The user is not a member of the organization.' },
        });
      }
      return answer(200, {
        UserId: userId,
        BusinessUnitId: randomUUID(),
        OrganizationId: randomUUID(),
      });
    }

    const list = ROLES_OF_USER.exec(resource);
    if (list && list[1]!.toLowerCase() === userId) {
      const filter = url.searchParams.get('$filter') ?? '';
      if (!filter.includes(SYSTEM_ADMINISTRATOR_TEMPLATE)) {
        return answer(400, { error: { code: '0x80040203', message: 'Unexpected filter' } });
      }
      if (lagging) lag.set(lagKey, (lag.get(lagKey) ?? 1) - 1);
      return answer(200, {
        value: lagging ? [] : roles.map((roleid) => ({ roleid, name: 'System Administrator' })),
      });
    }

    const ref = ROLE_REF.exec(resource);
    if (ref && ref[1]!.toLowerCase() === userId) {
      if (call.method !== 'DELETE') {
        return answer(405, {
          error: {
            code: '0x80060888',
            message: `The method '${call.method}' is not allowed here.`,
          },
        });
      }
      const roleId = ref[2]!.toLowerCase();
      const behavior = behaviors.take(org, oid);
      // Never answered: the client's timeout ends it, stop() closes the socket.
      if (behavior?.kind === 'timeout') return;
      // Someone else removed it just before this DELETE arrived.
      if (behavior?.kind === 'not-found') removeRole(org, oid, roleId);
      const failure = behavior && removalFailureAnswer(behavior, userId);
      if (failure) return answer(failure.status, failure.body, failure.headers);
      if (!rolesOf(org, oid).includes(roleId)) {
        return answer(404, {
          error: {
            code: '0x80040217',
            message: `The association between systemuser(${userId}) and role(${roleId}) does not exist.`,
          },
        });
      }
      removeRole(org, oid, roleId);
      return answer(204, undefined);
    }
    return notFound();
  });

  const url = await listenLocally(server, options.host ?? '127.0.0.1', options.port ?? 0);
  logger.info('dataverse simulator started', { url });
  return {
    url,
    instanceUrlFor: dataverseUrlAt(url),
    setVisibilityLag: (org, oid, checks) => lag.set(keyOf(org, oid), checks),
    holdRole(org, oid, businessUnits = 1) {
      const roles = held.get(keyOf(org, oid)) ?? new Set<string>();
      for (let unit = 0; unit < businessUnits; unit++)
        roles.add(systemAdministratorRoleId(org, unit));
      held.set(keyOf(org, oid), roles);
    },
    holdsRole: (org, oid) => rolesOf(org.toLowerCase(), oid.toLowerCase()).length > 0,
    setRemovalBehavior: (org, oid, behavior) => behaviors.set(org, oid, behavior),
    deleteCalls: (oid) =>
      calls.filter(
        (call) => call.method === 'DELETE' && (oid === undefined || call.oid === oid.toLowerCase()),
      ),
    calls,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Unanswered requests (a `timeout` behavior) would keep close() waiting otherwise.
        server.closeAllConnections();
      }),
  };
}

/** Who holds System Administrator before any elevation: an org label and a user. */
export interface HeldRole {
  org: string;
  oid: string;
  businessUnits?: number;
}

/**
 * A Dataverse simulator whose System Administrators are the users the Power Platform simulator
 * elevated (until removed), and those of `heldBefore`.
 */
export async function startDataverseSimulatorFor(
  powerPlatform: Pick<PowerPlatformSimulator, 'grants'>,
  logger?: Logger,
  heldBefore: readonly HeldRole[] = [],
): Promise<DataverseSimulator> {
  const simulator = await startDataverseSimulator({
    grantCount: (org, oid) =>
      powerPlatform.grants.filter(
        (g) =>
          g.instanceUrl !== undefined &&
          orgOf(g.instanceUrl) === org &&
          g.oid.toLowerCase() === oid,
      ).length,
    systemUserId: (org, oid) => guidFrom(`systemuser:${org}:${oid}`),
    logger,
  });
  for (const role of heldBefore) simulator.holdRole(role.org, role.oid, role.businessUnits);
  return simulator;
}

function keyOf(org: string, oid: string): string {
  return `${org.toLowerCase()}/${oid.toLowerCase()}`;
}
