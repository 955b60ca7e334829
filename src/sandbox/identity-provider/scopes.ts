/**
 * Reading the `scope` parameter the way Entra's v2 endpoint does: one resource per request,
 * permissions written `<resource>/<permission>`, `<resource>/.default` meaning "everything granted",
 * OpenID scopes alongside.
 */
import { OIDC_SCOPES } from './well-known-ids';

export interface RequestedScopes {
  /** The one resource named, e.g. `https://api.powerplatform.com`; absent for OpenID scopes only. */
  resource?: string;
  /** Permissions named explicitly on that resource, short names (`UserManagement.Users.Apply`). */
  permissions: string[];
  /** True when `<resource>/.default` was asked. */
  wantsDefault: boolean;
  /** OpenID scopes asked (`openid`, `profile`, `email`, `offline_access`). */
  oidc: string[];
}

export type ScopeReading =
  | { ok: true; scopes: RequestedScopes }
  | { ok: false; error: 'invalid_scope'; code: number; text: string };

export function readScopes(scope: string): ScopeReading {
  const requested: RequestedScopes = { permissions: [], wantsDefault: false, oidc: [] };
  for (const item of scope.split(' ').filter((part) => part.length > 0)) {
    if (OIDC_SCOPES.includes(item.toLowerCase())) {
      requested.oidc.push(item.toLowerCase());
      continue;
    }
    const slash = item.lastIndexOf('/');
    const permission = item.slice(slash + 1);
    if (slash <= 0 || permission.length === 0) {
      // Entra would read a bare name as a Microsoft Graph permission; this provider has no Graph.
      return invalid(
        70011,
        `The scope '${item}' does not name a resource (write <resource>/<permission>).`,
      );
    }
    const resource = item.slice(0, slash);
    if (requested.resource !== undefined && requested.resource !== resource) {
      return invalid(
        28000,
        'The scope parameter names more than one resource; ask for one resource per request.',
      );
    }
    requested.resource = resource;
    if (permission === '.default') requested.wantsDefault = true;
    else if (!requested.permissions.includes(permission)) requested.permissions.push(permission);
  }
  if (requested.wantsDefault && requested.permissions.length > 0) {
    return invalid(
      70011,
      `The scope '${requested.resource}/.default' cannot be combined with other permissions of the same resource.`,
    );
  }
  if (requested.resource === undefined && requested.oidc.length === 0) {
    return invalid(70011, 'The scope parameter is empty.');
  }
  return { ok: true, scopes: requested };
}

/** Permissions granted that this request receives, or the ones it asks for that are not granted. */
export function grantedFor(
  requested: RequestedScopes,
  granted: readonly string[],
): { ok: true; permissions: string[] } | { ok: false; missing: string[] } {
  if (requested.wantsDefault) {
    return granted.length > 0
      ? { ok: true, permissions: [...granted] }
      : { ok: false, missing: ['.default'] };
  }
  const lower = granted.map((permission) => permission.toLowerCase());
  const missing = requested.permissions.filter((p) => !lower.includes(p.toLowerCase()));
  return missing.length > 0
    ? { ok: false, missing }
    : { ok: true, permissions: requested.permissions };
}

function invalid(code: number, text: string): ScopeReading {
  return { ok: false, error: 'invalid_scope', code, text };
}
