/**
 * Users' sign-in sessions: a bounded in-memory map, in front of the store when sessions are shared
 * (TOKEN_CACHE_KEY set). A shared session is written sealed under `session/<tenant>/<oid>` and
 * expires with its SSO token, so a click that lands on another instance finds it there. Store
 * failures and values that do not open (another key, altered) count as "no session" and are
 * logged without the value: the user is asked to sign in, never shown an error.
 */
import type { Clock } from '../elevation/ports';
import type { Logger } from '../log';
import { BoundedMap } from '../support/bounded-map';
import { sessionKey, type SharedSecrets, type UserKey } from './shared-secrets';

export interface Session {
  /** The validated Teams SSO token, the on-behalf-of assertion. */
  assertion: string;
  /** When the SSO token expires (ms since the epoch). */
  expiresAt: number;
  wids?: string[];
  /** From the validated SSO token (Teams' activities carry no UPN). */
  upn?: string;
}

export interface SessionsOptions {
  /** Sessions kept in memory at once (one per user). */
  maxSessions: number;
  /** A session this close to its expiry is not used. */
  expiryMarginMs: number;
  clock: Clock;
  logger: Logger;
  shared?: SharedSecrets;
}

export class Sessions {
  private readonly memory: BoundedMap<string, Session>;

  constructor(private readonly options: SessionsOptions) {
    this.memory = new BoundedMap(options.maxSessions);
  }

  /** The user's live session: from memory, else from the store (then kept in memory). */
  async get(user: UserKey): Promise<Session | undefined> {
    const key = sessionKey(user);
    const known = this.memory.get(key);
    if (known && this.isLive(known)) return known;
    this.memory.delete(key);
    const stored = await this.read(key);
    if (!stored || !this.isLive(stored)) return undefined;
    this.keep(key, stored);
    return stored;
  }

  async save(user: UserKey, session: Session): Promise<void> {
    const key = sessionKey(user);
    this.keep(key, session);
    const shared = this.options.shared;
    if (!shared) return;
    try {
      await shared.store.writeSecret(
        key,
        shared.box.seal(JSON.stringify(session), key),
        new Date(session.expiresAt),
      );
    } catch (error) {
      // This instance still has it; others will ask the user to sign in.
      this.options.logger.warn('sign-in session could not be shared through the store', {
        storeKey: key,
        error: error instanceof Error ? error.name : typeof error,
      });
    }
  }

  /** Forgets the session that used `assertion` (not a newer one another instance stored). */
  async forget(user: UserKey, assertion: string): Promise<void> {
    const key = sessionKey(user);
    if (this.memory.get(key)?.assertion === assertion) this.memory.delete(key);
    const shared = this.options.shared;
    if (!shared) return;
    const stored = await this.read(key);
    if (stored?.assertion !== assertion) return;
    try {
      await shared.store.deleteSecret(key);
    } catch (error) {
      this.options.logger.warn('sign-in session could not be removed from the store', {
        storeKey: key,
        error: error instanceof Error ? error.name : typeof error,
      });
    }
  }

  private isLive(session: Session): boolean {
    return session.expiresAt - this.options.expiryMarginMs > this.options.clock.now().getTime();
  }

  private keep(key: string, session: Session): void {
    this.memory.set(key, session);
  }

  private async read(key: string): Promise<Session | undefined> {
    const shared = this.options.shared;
    if (!shared) return undefined;
    let json: string | undefined;
    try {
      const sealed = await shared.store.readSecret(key, this.options.clock.now());
      json = sealed === undefined ? undefined : shared.box.open(sealed, key);
    } catch (error) {
      this.options.logger.warn('sign-in session could not be read from the store', {
        storeKey: key,
        error: error instanceof Error ? error.name : typeof error,
      });
      return undefined;
    }
    if (json === undefined) return undefined;
    const session = parseSession(json);
    if (!session) {
      this.options.logger.warn('stored sign-in session is malformed; ignored', { storeKey: key });
    }
    return session;
  }
}

function parseSession(json: string): Session | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { assertion, expiresAt, wids, upn } = value as Record<string, unknown>;
  if (typeof assertion !== 'string' || !assertion || typeof expiresAt !== 'number')
    return undefined;
  if (wids !== undefined && !(Array.isArray(wids) && wids.every((w) => typeof w === 'string')))
    return undefined;
  if (upn !== undefined && typeof upn !== 'string') return undefined;
  return { assertion, expiresAt, wids: wids as string[] | undefined, upn };
}
