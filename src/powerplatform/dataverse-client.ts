/**
 * Asks an environment's Dataverse Web API whether the user holds System Administrator, to tell
 * "newly granted" from "already had it" (applyAdminRole answers the same for both). Roles are
 * matched by the role template id, constant across business units and languages, never by name.
 */
import type { RoleLookup, RoleLookupResult } from '../elevation/ports';
import type { HttpClient } from '../http/http-client';
import type { Logger } from '../log';
import { silentLogger } from '../log';

const SYSTEM_ADMINISTRATOR_TEMPLATE_ID = '627090ff-40a3-4053-8790-584edc5be201';

export interface DataverseClientOptions {
  http: Pick<HttpClient, 'request'>;
  logger?: Logger;
  /** Where a real instance URL is served (the sandbox maps it to its simulator). */
  rewriteInstanceUrl?: (instanceUrl: string) => string;
}

/** Dataverse's answer before a user has any role in the instance: not an error, just "no". */
const NOT_A_MEMBER = /not a member of the organization|has not been assigned any roles/i;

export class DataverseClient implements RoleLookup {
  constructor(private readonly options: DataverseClientOptions) {}

  async holdsSystemAdministrator(token: string, instanceUrl: string): Promise<RoleLookupResult> {
    const base = (this.options.rewriteInstanceUrl?.(instanceUrl) ?? instanceUrl).replace(
      /\/+$/,
      '',
    );
    const headers = {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      'OData-Version': '4.0',
    };
    const whoAmI = await this.options.http.request({
      method: 'GET',
      url: `${base}/api/data/v9.2/WhoAmI`,
      headers,
    });
    if (whoAmI.kind !== 'response') return { ok: false, message: whoAmI.message };
    if (whoAmI.status !== 200) {
      if (NOT_A_MEMBER.test(whoAmI.bodyText)) return { ok: true, holdsSystemAdministrator: false };
      return { ok: false, message: `WhoAmI answered ${whoAmI.status} ${whoAmI.statusText}` };
    }
    const userId = readUserId(whoAmI.bodyText);
    if (!userId) return { ok: false, message: 'WhoAmI returned no UserId' };
    const filter = `_roletemplateid_value eq ${SYSTEM_ADMINISTRATOR_TEMPLATE_ID}`;
    const roles = await this.options.http.request({
      method: 'GET',
      url: `${base}/api/data/v9.2/systemusers(${userId})/systemuserroles_association?$select=roleid,name&$filter=${encodeURIComponent(filter)}`,
      headers,
    });
    if (roles.kind !== 'response') return { ok: false, message: roles.message };
    if (roles.status !== 200) {
      if (NOT_A_MEMBER.test(roles.bodyText)) return { ok: true, holdsSystemAdministrator: false };
      return {
        ok: false,
        message: `the role look-up answered ${roles.status} ${roles.statusText}`,
      };
    }
    try {
      const value = (JSON.parse(roles.bodyText) as { value?: unknown[] }).value;
      return { ok: true, holdsSystemAdministrator: Array.isArray(value) && value.length > 0 };
    } catch {
      (this.options.logger ?? silentLogger).warn('unreadable role look-up', {
        status: roles.status,
      });
      return { ok: false, message: 'the role look-up returned no JSON' };
    }
  }
}

function readUserId(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { UserId?: unknown }).UserId;
    return typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
