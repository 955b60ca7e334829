/**
 * Pre-flight reading of what a user's tokens say about their rights. Nothing here is a security
 * decision: the Power Platform API decides; these checks only let the bot explain a refusal early.
 */
import { decodeJwt } from 'jose';

export interface TenantAdminRole {
  name: string;
  /** Directory role template id, as it appears in the `wids` claim. */
  templateId: string;
}

/** The tenant roles that allow self-elevation to System Administrator (applyAdminRole). */
export const TENANT_ADMIN_ROLES: readonly TenantAdminRole[] = Object.freeze([
  { name: 'Global Administrator', templateId: '62e90394-69f5-4237-9190-012177145e10' },
  { name: 'Power Platform Administrator', templateId: '11648597-926c-4cf3-9c36-bcebb0ba8dcc' },
  { name: 'Dynamics 365 Administrator', templateId: '44367163-eba1-44c3-98af-f5787879f96a' },
]);

const ADMIN_TEMPLATE_IDS = new Set(TENANT_ADMIN_ROLES.map((role) => role.templateId));

export type TenantAdminCheck = 'admin' | 'not-admin' | 'unknown';

/** The tenant admin roles the `wids` claim names, by name; undefined when the claim is absent. */
export function tenantAdminRoleNames(wids: string[] | undefined): string[] | undefined {
  if (wids === undefined) return undefined;
  const held = new Set(wids.map((id) => id.toLowerCase()));
  return TENANT_ADMIN_ROLES.filter((role) => held.has(role.templateId)).map((role) => role.name);
}

/**
 * Whether the `wids` claim names a tenant admin role. An absent claim says nothing (Entra leaves
 * it out in some tokens), so it gives 'unknown' and the API decides.
 */
export function tenantAdminCheck(wids: string[] | undefined): TenantAdminCheck {
  if (wids === undefined) return 'unknown';
  return wids.some((id) => ADMIN_TEMPLATE_IDS.has(id.toLowerCase())) ? 'admin' : 'not-admin';
}

/**
 * Whether the access token's `scp` grants `scope`, read WITHOUT verifying the token: use it only
 * on a token the bot has just obtained itself (the on-behalf-of result), never on one it received.
 * Undefined when the token, or a `scp` it holds, cannot be read.
 */
export function hasDelegatedScope(accessToken: string, scope: string): boolean | undefined {
  let scp: unknown;
  try {
    scp = decodeJwt(accessToken).scp;
  } catch {
    return undefined;
  }
  // A readable token without `scp` grants no delegated scope at all.
  if (scp === undefined) return false;
  if (typeof scp !== 'string') return undefined;
  // Entra echoes scope names as the API declares them; case is not significant to it.
  const wanted = scope.toLowerCase();
  return scp.split(' ').some((granted) => granted.toLowerCase() === wanted);
}

/**
 * The `wids` claim of an access token, read WITHOUT verifying it (as hasDelegatedScope): only for
 * a token the bot has just obtained itself. Undefined when the token or the claim cannot be read.
 */
export function accessTokenWids(accessToken: string): string[] | undefined {
  let wids: unknown;
  try {
    wids = decodeJwt(accessToken).wids;
  } catch {
    return undefined;
  }
  return Array.isArray(wids) && wids.every((id) => typeof id === 'string') ? wids : undefined;
}
