/**
 * A small simulated Dataverse Web API for the role check around applyAdminRole: WhoAmI and the
 * user's roles filtered by the System Administrator role template. Each environment's instance
 * (`https://<org>.crm.dynamics.com`) is served under `/<org>` here; who holds the role follows
 * the simulated Power Platform API's grants, optionally with a replication lag.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '../log';
import { silentLogger } from '../log';
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
  /** Whether the user holds System Administrator in the instance of this org label. */
  isSystemAdministrator: (org: string, oid: string) => boolean;
  /** The user's systemuserid in that instance. */
  systemUserId: (org: string, oid: string) => string;
  logger?: Logger;
}

export interface DataverseSimulator {
  url: string;
  /** Where the simulator serves a real instance URL (`https://<org>.crm4.dynamics.com/`). */
  instanceUrlFor(realInstanceUrl: string): string;
  /** The next `checks` role look-ups for this user report no role, as if Dataverse lagged. */
  setVisibilityLag(org: string, oid: string, checks: number): void;
  calls: Array<{ path: string; org: string; status: number }>;
  stop(): Promise<void>;
}

const SYSTEM_ADMINISTRATOR_TEMPLATE = '627090ff-40a3-4053-8790-584edc5be201';

/** The org label of an instance URL: `contoso-dev` of `https://contoso-dev.crm.dynamics.com`. */
export function orgOf(instanceUrl: string): string {
  return new URL(instanceUrl).hostname.split('.')[0]!.toLowerCase();
}

export async function startDataverseSimulator(
  options: DataverseSimulatorOptions,
): Promise<DataverseSimulator> {
  const logger = options.logger ?? silentLogger;
  const lag = new Map<string, number>();
  const calls: DataverseSimulator['calls'] = [];

  const answer = (
    res: ServerResponse,
    org: string,
    path: string,
    status: number,
    body: unknown,
  ) => {
    calls.push({ path, org, status });
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-ms-service-request-id': randomUUID(),
    });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dataverse.local');
    const match = /^\/([a-z0-9-]+)\/api\/data\/v9\.2\/(.+)$/i.exec(url.pathname);
    if (!match)
      return answer(res, '', url.pathname, 404, {
        error: { code: '0x80060888', message: 'Resource not found' },
      });
    const org = match[1]!.toLowerCase();
    const resource = decodeURIComponent(match[2]!);
    const claims = decodeJwtClaims(bearerToken(req.headers.authorization) ?? '');
    // The token must be for this instance, as a real Dataverse checks its audience.
    if (!claims?.oid || typeof claims.aud !== 'string' || orgOf(claims.aud) !== org) {
      return answer(res, org, resource, 401, {
        error: { code: '0x80072560', message: 'The token is not for this organization.' },
      });
    }
    const oid = claims.oid.toLowerCase();
    const userId = options.systemUserId(org, oid);
    const lagKey = `${org}/${oid}`;
    const lagging = (lag.get(lagKey) ?? 0) > 0;
    const holds = !lagging && options.isSystemAdministrator(org, oid);
    if (resource === 'WhoAmI') {
      // Before any elevation the caller is unknown to the organization, as the real API says.
      if (!holds && !lagging && !options.isSystemAdministrator(org, oid)) {
        return answer(res, org, resource, 403, {
          error: { code: '0x80072560', message: 'The user is not a member of the organization.' },
        });
      }
      return answer(res, org, resource, 200, {
        UserId: userId,
        BusinessUnitId: randomUUID(),
        OrganizationId: randomUUID(),
      });
    }
    if (resource.toLowerCase() === `systemusers(${userId})/systemuserroles_association`) {
      const filter = url.searchParams.get('$filter') ?? '';
      if (!filter.includes(SYSTEM_ADMINISTRATOR_TEMPLATE)) {
        return answer(res, org, resource, 400, {
          error: { code: '0x80040203', message: 'Unexpected filter' },
        });
      }
      if (lagging) lag.set(lagKey, (lag.get(lagKey) ?? 1) - 1);
      return answer(res, org, resource, 200, {
        value: holds
          ? [{ roleid: options.systemUserId(org, 'role'), name: 'System Administrator' }]
          : [],
      });
    }
    return answer(res, org, resource, 404, {
      error: { code: '0x80060888', message: 'Resource not found' },
    });
  });

  const url = await listenLocally(server, options.host ?? '127.0.0.1', options.port ?? 0);
  logger.info('dataverse simulator started', { url });
  return {
    url,
    instanceUrlFor: (real) => `${url}/${orgOf(real)}`,
    setVisibilityLag: (org, oid, checks) =>
      lag.set(`${org.toLowerCase()}/${oid.toLowerCase()}`, checks),
    calls,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A Dataverse simulator whose System Administrators are the users the Power Platform simulator elevated. */
export function startDataverseSimulatorFor(
  powerPlatform: Pick<PowerPlatformSimulator, 'grants'>,
  logger?: Logger,
): Promise<DataverseSimulator> {
  return startDataverseSimulator({
    isSystemAdministrator: (org, oid) =>
      powerPlatform.grants.some(
        (g) =>
          g.instanceUrl !== undefined &&
          orgOf(g.instanceUrl) === org &&
          g.oid.toLowerCase() === oid,
      ),
    systemUserId: (org, oid) => guidFrom(`systemuser:${org}:${oid}`),
    logger,
  });
}
