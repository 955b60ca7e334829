/**
 * The bodies the simulator answers with, shaped as POWER-PLATFORM-API.md describes the real API:
 * flat gateway errors, wrapped errors, the errors/information envelope (also on failure, with a
 * 2xx), proxy HTML and empty bodies.
 */
import { guidFrom, SimulatedEnvironment } from './seed';

/** A status and body to send; `body` undefined means an empty body. */
export interface SimAnswer {
  status: number;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export const SUPPORTED_API_VERSIONS = ['2022-03-01-preview', '2024-10-01'] as const;

const JSON_TYPE = 'application/json; charset=utf-8';

/** The gateway's own form: not wrapped. */
export function flatError(
  status: number,
  code: string,
  message: string,
  inner?: { code: string; message?: string },
): SimAnswer {
  return json(status, { code, message, ...(inner && { innererror: inner }) });
}

export function wrappedError(status: number, code: string, message: string): SimAnswer {
  return json(status, { error: { code, message } });
}

export function envelope(
  status: number,
  errors: { Subject: string; Description: string; Code: string }[],
  information: { Subject: string; Description: string; Code: string }[],
): SimAnswer {
  return json(status, { errors, information });
}

export function proxyHtml(status: number, reason: string): SimAnswer {
  const body = [
    '<!DOCTYPE html>',
    `<html><head><title>${status} ${reason}</title></head>`,
    `<body><h1>${reason}</h1><p>The upstream server did not answer in time. (simulated edge proxy)</p></body>`,
    '</html>',
  ].join('\n');
  return { status, body, contentType: 'text/html; charset=utf-8' };
}

export function json(status: number, value: unknown): SimAnswer {
  return { status, body: JSON.stringify(value), contentType: JSON_TYPE };
}

export function apiVersionInvalid(version: string | null): SimAnswer {
  const supported = SUPPORTED_API_VERSIONS.join(', ');
  const message =
    version === null
      ? `The api-version query parameter is required. Supported API versions are: ${supported}.`
      : `API version '${version}' is not supported. Supported API versions are: ${supported}.`;
  return flatError(400, 'ApiVersionInvalid', message, { code: 'ApiVersionUnsupported' });
}

export function unauthorized(message: string): SimAnswer {
  return {
    ...flatError(401, 'Unauthorized', message),
    headers: { 'www-authenticate': 'Bearer realm="", error="invalid_token"' },
  };
}

export function missingDelegatedPermission(scope: string): SimAnswer {
  return flatError(403, 'Forbidden', 'The caller is not authorized to perform the request.', {
    code: 'InsufficientDelegatedPermissions',
    message: `Authorization denied: delegated permissions missing: [${scope}]`,
  });
}

export const NOT_TENANT_ADMIN_MESSAGE =
  'Unable to assign System Administrator security role as the user is not either a Global admin, ' +
  'Power Platform admin, or Dynamics 365 admin. (simulated) Assign one of these roles directly ' +
  'and retry.';

/** The stable systemuserid of a caller in an environment (same inputs, same id). */
export function systemUserIdFor(environmentId: string, oid: string): string {
  return guidFrom(`systemuser:${environmentId.toLowerCase()}:${oid.toLowerCase()}`);
}

/** The exact success envelope: Description is a JSON array encoded inside a string. */
export function granted(environment: SimulatedEnvironment, oid: string): SimAnswer {
  const instanceUrl = (environment.url ?? '').replace(/\/+$/, '');
  const lines = [
    'SyncMode: Default',
    `Instance ${environment.dataverseId ?? environment.id} exists`,
    `Instance Url found ${instanceUrl}`,
    'User found in AD tenant',
    `SystemUser with Id:${systemUserIdFor(environment.id, oid)}, objectId:${oid} exists in instance`,
  ];
  return envelope(
    200,
    [],
    [{ Subject: 'Result', Description: JSON.stringify(lines), Code: 'UserExists' }],
  );
}

/** How a seeded failure environment answers applyAdminRole. */
export function adminRoleFailure(
  behavior: Exclude<SimulatedEnvironment['adminRole'], 'grant'>,
  environment: { id: string; displayName: string; securityGroupId?: string },
  caller: { oid?: string; upn?: string },
): SimAnswer {
  const who = caller.upn ?? caller.oid ?? 'the caller';
  switch (behavior) {
    case 'no-dataverse':
      return flatError(
        400,
        'EnvironmentHasNoDataverse',
        `Environment '${environment.id}' has no Dataverse database, so no security role can be assigned.`,
      );
    case 'disabled':
      return flatError(400, 'EnvironmentDisabled', `Environment '${environment.id}' is disabled.`);
    case 'security-group':
      return envelope(
        200,
        [
          {
            Subject: 'Result',
            Description: `User ${who} is not part of security group ${environment.securityGroupId ?? 'unknown'}`,
            Code: 'userNotPartOfSecurityGroup',
          },
          {
            Subject: 'InnerException',
            Description: `Membership check failed for ${who} (simulated inner exception)`,
            Code: 'userNotPartOfSecurityGroup',
          },
        ],
        [],
      );
    case 'missing-permission':
      return flatError(403, 'Forbidden', 'The caller is not authorized to perform the request.', {
        code: 'InsufficientPrincipalPermissions',
        message:
          'Authorization denied: Principal missing required permissions: [UserManagement.Users.Apply, All.All.ReadWrite]',
      });
    case 'not-tenant-admin':
      return flatError(403, 'Forbidden', NOT_TENANT_ADMIN_MESSAGE);
    case 'server-error':
      return wrappedError(
        500,
        'InternalServerError',
        'An internal error occurred while assigning the role. (simulated)',
      );
    case 'proxy-error':
      return proxyHtml(502, 'Bad Gateway');
    case 'unavailable':
      return { status: 503 };
    case 'deleted':
      return notFound(environment.id);
    case 'throttled':
      return {
        ...flatError(429, 'TooManyRequests', 'Rate limit is exceeded. Try again in 1 seconds.'),
        headers: { 'retry-after': '1' },
      };
  }
}

export function notFound(environmentId: string): SimAnswer {
  return flatError(404, 'EnvironmentNotFound', `Environment '${environmentId}' was not found.`);
}

/** An answer for `status=`/`body=` overrides. */
export function shaped(status: number, shape: string | undefined): SimAnswer {
  const reason = `Simulated ${status}`;
  switch (shape ?? (status >= 400 ? 'flat' : 'neither')) {
    case 'flat':
      return flatError(status, `Simulated${status}`, reason);
    case 'wrapped':
      return wrappedError(status, `Simulated${status}`, reason);
    case 'envelope-error':
      return envelope(
        status,
        [{ Subject: 'Result', Description: reason, Code: `simulated${status}` }],
        [],
      );
    case 'html':
      return proxyHtml(status, reason);
    case 'text':
      return {
        status,
        body: `${reason}: plain text body`,
        contentType: 'text/plain; charset=utf-8',
      };
    case 'empty':
      return { status };
    default:
      return envelope(status, [], []);
  }
}
