import { randomUUID } from 'node:crypto';

import {
  accessTokenWids,
  hasDelegatedScope,
  TENANT_ADMIN_ROLES,
  tenantAdminCheck,
} from '../../../src/identity/admin-roles';

const GLOBAL_ADMINISTRATOR = '62e90394-69f5-4237-9190-012177145e10';
const POWER_PLATFORM_ADMINISTRATOR = '11648597-926c-4cf3-9c36-bcebb0ba8dcc';
const DYNAMICS_365_ADMINISTRATOR = '44367163-eba1-44c3-98af-f5787879f96a';
/** A directory role that does not allow self-elevation. */
const USER_ADMINISTRATOR = 'fe930be7-5e62-47db-91af-98c3a49a38b1';

/** An unsigned token shaped like an Entra access token: hasDelegatedScope must not care. */
function accessToken(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT', kid: 'k' })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe('tenant admin roles', () => {
  it('are the three roles that allow self-elevation, by template id', () => {
    expect(TENANT_ADMIN_ROLES.map((role) => role.templateId).sort()).toEqual(
      [GLOBAL_ADMINISTRATOR, POWER_PLATFORM_ADMINISTRATOR, DYNAMICS_365_ADMINISTRATOR].sort(),
    );
    expect(TENANT_ADMIN_ROLES.map((role) => role.name)).toEqual([
      'Global Administrator',
      'Power Platform Administrator',
      'Dynamics 365 Administrator',
    ]);
  });

  it('each of the three makes a user an admin, alone or among other roles', () => {
    for (const role of TENANT_ADMIN_ROLES) {
      expect(tenantAdminCheck([role.templateId])).toBe('admin');
      expect(tenantAdminCheck([USER_ADMINISTRATOR, role.templateId])).toBe('admin');
    }
  });

  it('template ids match whatever their case', () => {
    expect(tenantAdminCheck([POWER_PLATFORM_ADMINISTRATOR.toUpperCase()])).toBe('admin');
  });

  it('other roles, or an empty list, mean not an admin', () => {
    expect(tenantAdminCheck([USER_ADMINISTRATOR, randomUUID()])).toBe('not-admin');
    expect(tenantAdminCheck([])).toBe('not-admin');
  });

  it('an absent wids claim says nothing: unknown, so the API decides', () => {
    expect(tenantAdminCheck(undefined)).toBe('unknown');
  });
});

describe('reading a delegated scope from our own access token', () => {
  const token = accessToken({
    aud: 'https://api.powerplatform.com',
    scp: 'UserManagement.Users.Apply EnvironmentManagement.Environments.Read',
  });

  it('finds a granted scope, whatever its case', () => {
    expect(hasDelegatedScope(token, 'UserManagement.Users.Apply')).toBe(true);
    expect(hasDelegatedScope(token, 'usermanagement.users.apply')).toBe(true);
  });

  it('does not find a scope that is not granted, nor a part of one', () => {
    expect(hasDelegatedScope(token, 'UserManagement.Users')).toBe(false);
    expect(hasDelegatedScope(token, 'All.All.ReadWrite')).toBe(false);
  });

  it('a readable token without scp (app-only) grants no delegated scope', () => {
    expect(hasDelegatedScope(accessToken({ roles: ['x'] }), 'UserManagement.Users.Apply')).toBe(
      false,
    );
  });

  it('is undefined when the token or its scp cannot be read', () => {
    expect(hasDelegatedScope('not-a-jwt', 'UserManagement.Users.Apply')).toBeUndefined();
    expect(hasDelegatedScope('', 'UserManagement.Users.Apply')).toBeUndefined();
    expect(hasDelegatedScope(accessToken({ scp: ['a'] }), 'a')).toBeUndefined();
  });
});

describe('reading `wids` from our own access token (roles at the end of an elevation)', () => {
  it('gives the ids the token lists', () => {
    const wids = [POWER_PLATFORM_ADMINISTRATOR, USER_ADMINISTRATOR];
    expect(accessTokenWids(accessToken({ wids }))).toEqual(wids);
    expect(accessTokenWids(accessToken({ wids: [] }))).toEqual([]);
  });

  it('is undefined when the claim is absent or malformed, or the token unreadable', () => {
    expect(accessTokenWids(accessToken({ scp: 'x' }))).toBeUndefined();
    expect(accessTokenWids(accessToken({ wids: 'not-a-list' }))).toBeUndefined();
    expect(accessTokenWids(accessToken({ wids: [1, 2] }))).toBeUndefined();
    expect(accessTokenWids('not.a-token')).toBeUndefined();
  });
});
