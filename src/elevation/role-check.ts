/**
 * The optional Dataverse role check around an elevation: asked before and after applyAdminRole,
 * it tells "newly granted" from "already held" (the API answers the same for both).
 */
import type { RoleLookup, RoleLookupResult, UserTokens } from './ports';
import type { ElevationRequest, RoleCheck } from './request';

export interface RoleCheckOptions {
  /** Absent: the role check is off. */
  roleLookup?: RoleLookup;
  tokens: UserTokens;
}

/**
 * What Dataverse said before the elevation, with the token it was asked with (asked again after
 * with the same one: one token exchange, not two, before the user sees the outcome).
 */
export type RoleBefore = RoleLookupResult & { token?: string };

/** Whether Dataverse shows the role now; undefined when the role check is off. */
export async function lookUpRole(
  options: RoleCheckOptions,
  request: ElevationRequest,
  knownToken?: string,
): Promise<RoleBefore | undefined> {
  const lookup = options.roleLookup;
  if (!lookup) return undefined;
  const instanceUrl = request.environment.dataverseUrl;
  if (!instanceUrl) return { ok: false, message: 'the environment has no Dataverse URL' };
  let token = knownToken;
  if (!token) {
    if (!options.tokens.resourceToken) return { ok: false, message: 'no Dataverse token source' };
    const got = await options.tokens.resourceToken(request.requester, instanceUrl);
    if (!got.ok) return { ok: false, message: got.message };
    token = got.token;
  }
  try {
    return { ...(await lookup.holdsSystemAdministrator(token, instanceUrl)), token };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error), token };
  }
}

/** Before and after, told in the user's words; never blocks or undoes the elevation. */
export async function compareRole(
  options: RoleCheckOptions,
  request: ElevationRequest,
  before: RoleBefore,
): Promise<RoleCheck> {
  if (!before.ok) return { result: 'not-checked', reason: before.message };
  if (before.holdsSystemAdministrator) return { result: 'already-admin' };
  const after = await lookUpRole(options, request, before.token);
  if (!after?.ok) return { result: 'not-checked', reason: after?.message ?? 'no answer' };
  return { result: after.holdsSystemAdministrator ? 'newly-granted' : 'not-visible-yet' };
}
