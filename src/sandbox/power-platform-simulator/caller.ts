/**
 * Who is calling the simulator. By default the bearer JWT's payload is read WITHOUT verifying the
 * signature (the sandbox identity provider mints the tokens); a real check can be plugged in
 * through `authenticate`.
 */

/** The claims the simulator looks at; any others are kept. */
export interface CallerClaims {
  /** The user's object id: elevation is always for the caller. */
  oid?: string;
  tid?: string;
  upn?: string;
  name?: string;
  /** Delegated permissions, space separated. When present, the simulator enforces them. */
  scp?: string;
  /** Directory role template ids. When present, applyAdminRole requires a tenant admin role. */
  wids?: string[];
  /** Expiry, seconds since the epoch. When present and past, the token is refused. */
  exp?: number;
  [claim: string]: unknown;
}

/** Turns a bearer token into the caller's claims, or undefined to refuse it with a 401. */
export type Authenticate = (
  token: string,
) => CallerClaims | undefined | Promise<CallerClaims | undefined>;

/** Global Administrator, Power Platform Administrator, Dynamics 365 Administrator. */
export const TENANT_ADMIN_ROLE_IDS = [
  '62e90394-69f5-4237-9190-012177145e10',
  '11648597-926c-4cf3-9c36-bcebb0ba8dcc',
  '44367163-eba1-44c3-98af-f5787879f96a',
] as const;

/** The default `authenticate`: the JWT payload, decoded, not verified. */
export function decodeJwtClaims(token: string): CallerClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
    return payload as CallerClaims;
  } catch {
    return undefined;
  }
}

/** The `Bearer` credential of an Authorization header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** True when the token names no scopes (nothing to enforce) or names this one. */
export function hasScope(claims: CallerClaims, scope: string): boolean {
  if (typeof claims.scp !== 'string') return true;
  const wanted = scope.toLowerCase();
  return claims.scp.split(' ').some((granted) => granted.toLowerCase() === wanted);
}

/** True when the token names no directory roles (nothing to enforce) or a tenant admin role. */
export function isTenantAdmin(claims: CallerClaims): boolean {
  if (!Array.isArray(claims.wids)) return true;
  return claims.wids.some((role) =>
    (TENANT_ADMIN_ROLE_IDS as readonly string[]).includes(String(role).toLowerCase()),
  );
}

/** True when the token carries an `exp` that has passed. */
export function isExpired(claims: CallerClaims, now = Date.now()): boolean {
  return typeof claims.exp === 'number' && claims.exp * 1000 <= now;
}
