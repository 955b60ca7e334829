/** The people the provider knows: who signs in at the authorize endpoint and whose tokens it mints. */
import { POWER_PLATFORM_ADMINISTRATOR_ROLE_ID } from './well-known-ids';

export interface IdpUser {
  /** Object id: the user's identity in every token (`oid`). */
  oid: string;
  /** Tenant id (`tid`). */
  tid: string;
  /** Display name (`name`). */
  name?: string;
  /** User principal name (`upn` and `preferred_username`). */
  upn?: string;
  /** Directory role template ids (`wids`); Power Platform Administrator when absent. */
  wids?: string[];
}

/** A user with every claim filled in. */
export type ResolvedUser = Required<IdpUser>;

export function resolveUser(user: IdpUser): ResolvedUser {
  return {
    oid: user.oid,
    tid: user.tid,
    name: user.name ?? 'Sandbox User',
    upn: user.upn ?? `user-${user.oid.slice(0, 8).toLowerCase()}@sandbox.example`,
    wids: user.wids ?? [POWER_PLATFORM_ADMINISTRATOR_ROLE_ID],
  };
}

/** Known users, found by object id or by user principal name (the usual `login_hint`). */
export class UserDirectory {
  private readonly byOid = new Map<string, IdpUser>();

  add(user: IdpUser): void {
    this.byOid.set(user.oid.toLowerCase(), user);
  }

  find(hint: string): IdpUser | undefined {
    const wanted = hint.trim().toLowerCase();
    const byOid = this.byOid.get(wanted);
    if (byOid) return byOid;
    // The principal name its tokens carry, the default one included.
    return [...this.byOid.values()].find((user) => resolveUser(user).upn.toLowerCase() === wanted);
  }
}
