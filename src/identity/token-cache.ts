/**
 * One user's msal token cache kept in the store, sealed, so that an on-behalf-of result obtained by
 * one instance is found by the others: an msal `ICachePlugin` bound to that user's store key.
 *
 * msal-node 7 calls the plugin only around writes (beforeCacheAccess, save, afterCacheAccess); its
 * on-behalf-of cache lookup reads memory alone. So the per-user client calls `load` itself before
 * each on-behalf-of request that memory cannot answer (see msal-client.ts and holdsLiveToken); the
 * plugin's `beforeCacheAccess` then merges what other instances wrote in the meantime before msal
 * adds its new tokens.
 *
 * What is written: msal's serialized cache minus refresh tokens (msal-node never uses them for
 * on-behalf-of: a new exchange needs the assertion anyway) and minus expired access tokens, sealed
 * for the user's key; expiry = the latest access token expiry in it (a day when msal gave none).
 * The step-up cache keeps its refresh token (`keepRefreshTokens`): the silent refresh with the
 * claims redeems it, on whichever instance (step-up-tokens.ts).
 * If the sealed value would exceed MAX_SEALED_CHARS, the soonest-expiring access tokens are left
 * out. Store failures are logged and never fail a sign-in: this instance still has its memory.
 *
 * With `writeBehind` (the on-behalf-of cache), msal's write is not waited for: the token goes to
 * the user's turn at once and the store write follows, one at a time per user (a change made
 * while one is under way is written by one more write after it). Nothing is lost by that: what is
 * written is a copy of memory, which this instance keeps, and another instance that reads the
 * store before the write lands makes its own exchange. `settled()` waits for the write (a stop).
 * The step-up cache waits for its writes: another instance redeems its refresh token at once.
 */
import { createHash } from 'node:crypto';
import type { ICachePlugin, ISerializableTokenCache, TokenCacheContext } from '@azure/msal-node';
import type { Clock } from '../elevation/ports';
import { systemClock } from '../elevation/ports';
import type { Logger } from '../log';
import type { SharedSecrets } from './shared-secrets';

/**
 * Largest sealed value written (characters). An Azure Table string property holds 64 KiB, which
 * is 32 Ki UTF-16 characters; this leaves room for the other properties' overhead.
 */
const MAX_SEALED_CHARS = 30_000;
/** Expiry of a cache whose access tokens carry no usable expiry. */
const FALLBACK_TTL_MS = 24 * 3600_000;

export interface StoredTokenCacheOptions extends SharedSecrets {
  /** The user's store key (`msal/<tenant>/<oid>`), also the sealed value's purpose. */
  key: string;
  /** Keep refresh tokens in what is written (the step-up cache); left out otherwise. */
  keepRefreshTokens?: boolean;
  /** msal's writes go to the store after msal answers (told to `onWriteBehind`, for a stop). */
  writeBehind?: boolean;
  onWriteBehind?: (writing: Promise<void>) => void;
  logger: Logger;
  /** msal's own time (token expiries are computed from the system clock). */
  clock?: Clock;
  maxSealedChars?: number;
}

/**
 * A load this recent is not repeated by msal's `beforeCacheAccess` (msal asks before its lookup
 * and again before its write, right after the client's own load): each would be one more
 * sequential store request before the user's answer. What another instance writes in between is
 * at worst overwritten, which costs that instance an on-behalf-of call, never a wrong token.
 */
const FRESH_LOAD_MS = 1_000;

export class StoredTokenCache implements ICachePlugin {
  private readonly clock: Clock;
  /** When this process last read the stored cache (performance.now()). */
  private loadedAt = -Infinity;
  /** The write behind msal's answer under way, if any. */
  private writing: Promise<void> | undefined;
  /** Changed again while a write was under way: written once more after it (as it is then). */
  private changedSinceWrite: ISerializableTokenCache | undefined;

  constructor(private readonly options: StoredTokenCacheOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Merges the stored cache into msal's memory (additive: nothing in memory is removed). */
  async load(cache: ISerializableTokenCache): Promise<void> {
    let json: string | undefined;
    try {
      const sealed = await this.options.store.readSecret(this.options.key, this.clock.now());
      this.loadedAt = performance.now();
      if (sealed === undefined) return;
      json = this.options.box.open(sealed, this.options.key);
    } catch (error) {
      this.warn('token cache could not be read from the store', error);
      return;
    }
    if (json === undefined) return;
    try {
      cache.deserialize(json);
    } catch (error) {
      this.warn('stored token cache is not an msal cache; ignored', error);
    }
  }

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    if (performance.now() - this.loadedAt < FRESH_LOAD_MS) return;
    await this.load(context.tokenCache);
  }

  /**
   * The next `beforeCacheAccess` loads even after a recent load: msal's silent call empties its
   * memory first (TokenCache.overwriteCache) and refills it from that load alone.
   */
  reloadNextAccess(): void {
    this.loadedAt = -Infinity;
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    if (!context.cacheHasChanged) return;
    if (this.options.writeBehind) this.saveBehind(context.tokenCache);
    else await this.save(context.tokenCache);
  }

  /** Resolves once no write behind is under way. */
  settled(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  private saveBehind(tokenCache: ISerializableTokenCache): void {
    if (this.writing) {
      this.changedSinceWrite = tokenCache;
      return;
    }
    const writing = (async () => {
      let next: ISerializableTokenCache | undefined = tokenCache;
      while (next) {
        this.changedSinceWrite = undefined;
        await this.save(next); // never rejects: failures are logged
        next = this.changedSinceWrite;
      }
      this.writing = undefined;
    })();
    this.writing = writing;
    this.options.onWriteBehind?.(writing);
  }

  /** Writes msal's cache as it is now to the store (afterCacheAccess, and tokens adopted). */
  async save(tokenCache: ISerializableTokenCache): Promise<void> {
    try {
      const now = this.clock.now();
      const keepRefreshTokens = this.options.keepRefreshTokens ?? false;
      const kept = persistableCache(tokenCache.serialize(), now.getTime(), 0, keepRefreshTokens);
      if (!kept) {
        // Nothing another instance could use: no live access token.
        await this.options.store.deleteSecret(this.options.key);
        return;
      }
      const max = this.options.maxSealedChars ?? MAX_SEALED_CHARS;
      let sealed = this.options.box.seal(kept.json, this.options.key);
      let expiresAt = kept.expiresAt;
      let dropped = 0;
      while (sealed.length > max) {
        const smaller = persistableCache(kept.json, now.getTime(), ++dropped, keepRefreshTokens);
        if (!smaller) {
          this.options.logger.warn('token cache too large for the store; kept in memory only', {
            storeKey: this.options.key,
            sealedChars: sealed.length,
          });
          return;
        }
        sealed = this.options.box.seal(smaller.json, this.options.key);
        expiresAt = smaller.expiresAt;
      }
      if (dropped > 0) {
        this.options.logger.info('token cache trimmed to fit the store', {
          storeKey: this.options.key,
          droppedAccessTokens: dropped,
        });
      }
      await this.options.store.writeSecret(this.options.key, sealed, new Date(expiresAt));
    } catch (error) {
      this.warn('token cache could not be written to the store', error);
    }
  }

  private warn(message: string, error: unknown): void {
    // The error's name only: messages of parse errors can quote the input.
    this.options.logger.warn(message, {
      storeKey: this.options.key,
      error: error instanceof Error ? error.name : typeof error,
    });
  }
}

type CacheSection = Record<string, Record<string, unknown>>;

/**
 * msal's serialized cache, trimmed for the store: without refresh tokens (unless
 * `keepRefreshTokens`), expired access tokens, and the `dropSoonest` access tokens that expire
 * first; with the latest expiry left in it (ms). Undefined when no live access token remains.
 */
export function persistableCache(
  serialized: string,
  nowMs: number,
  dropSoonest = 0,
  keepRefreshTokens = false,
): { json: string; expiresAt: number } | undefined {
  const cache = JSON.parse(serialized) as Record<string, unknown>;
  const accessTokens = (cache.AccessToken ?? {}) as CacheSection;
  const live = Object.entries(accessTokens)
    .map(([key, entry]) => ({ key, entry, expiresAt: expiryOf(entry) }))
    .filter((t) => t.expiresAt === undefined || t.expiresAt > nowMs)
    .sort((a, b) => (a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity))
    .slice(dropSoonest);
  if (live.length === 0) return undefined;
  const trimmed = {
    ...cache,
    AccessToken: Object.fromEntries(live.map((t) => [t.key, t.entry])),
    ...(!keepRefreshTokens && { RefreshToken: {} }),
  };
  const known = live.map((t) => t.expiresAt).filter((e): e is number => e !== undefined);
  const expiresAt =
    known.length === live.length ? Math.max(...known) : Math.max(nowMs + FALLBACK_TTL_MS, ...known);
  return { json: JSON.stringify(trimmed), expiresAt };
}

/** An access token entry's `expires_on` (seconds, as a string in msal's format), in ms. */
function expiryOf(entry: Record<string, unknown>): number | undefined {
  const seconds = Number(entry.expires_on);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/** msal refreshes an access token this close to its expiry (its default offset, 300 s). */
const REFRESH_OFFSET_MS = 300_000;
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

/**
 * Whether msal's memory (`serialized`) already holds a live access token for this on-behalf-of
 * request: one obtained with the same assertion (msal keys them by its SHA-256), for the resource
 * of every scope asked, and not about to expire. msal's lookup then answers from memory, and the
 * stored cache need not be read first: one round trip less before the user's answer. Anything
 * else (another assertion, another resource, claims, which make msal skip its cache) reads it.
 */
export function holdsLiveToken(
  serialized: string,
  request: { oboAssertion: string; scopes: string[]; claims?: string },
  nowMs: number,
): boolean {
  if (request.claims) return false;
  const wanted = request.scopes
    .filter((scope) => !OIDC_SCOPES.has(scope.toLowerCase()))
    .map(resourceOf);
  if (wanted.length === 0) return false;
  const hash = createHash('sha256').update(request.oboAssertion).digest('base64url');
  let cache: Record<string, unknown>;
  try {
    cache = JSON.parse(serialized) as Record<string, unknown>;
  } catch {
    return false;
  }
  return Object.values((cache.AccessToken ?? {}) as CacheSection).some((entry) => {
    const expiresAt = expiryOf(entry);
    if (entry.userAssertionHash !== hash || !expiresAt) return false;
    if (expiresAt - REFRESH_OFFSET_MS <= nowMs) return false;
    const held = String(entry.target ?? '')
      .split(' ')
      .map(resourceOf);
    return wanted.every((resource) => held.includes(resource));
  });
}

/** `https://host/scope` -> `https://host` (lower case); a bare scope stands for itself. */
function resourceOf(scope: string): string {
  const slash = scope.lastIndexOf('/');
  return (slash > 'https://'.length ? scope.slice(0, slash) : scope).toLowerCase();
}
