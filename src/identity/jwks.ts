/**
 * The identity provider's signing keys for one authority host, fetched per tenant through the one
 * HttpClient and cached. An unknown key id causes at most one refetch per cooldown, so a flood of
 * tokens with made-up key ids cannot turn the bot into a flood against the keys endpoint.
 */
import { KeyObject } from 'node:crypto';

import { importJWK, type KeyLike } from 'jose';

import type { Clock } from '../elevation/ports';
import { systemClock } from '../elevation/ports';
import type { HttpClient } from '../http/http-client';
import { Logger, silentLogger } from '../log';
import { BoundedMap } from '../support/bounded-map';

export interface JwksSourceOptions {
  /** Where keys are published, e.g. `https://login.microsoftonline.com` (a trailing slash is ignored). */
  authorityHost: string;
  /** The one outbound HTTP client. */
  http: Pick<HttpClient, 'request'>;
  /** Where fetches, failures and suppressed refetches are logged. */
  logger?: Logger;
  /** Least time between two refetches of one tenant's keys caused by unknown key ids. */
  cooldownMs?: number;
  /** Age after which cached keys are fetched again before use; older keys are never trusted. */
  maxAgeMs?: number;
  /** Least time between a failed fetch of one tenant's keys and the next attempt. */
  failureBackoffMs?: number;
  /** Tenants whose keys are kept at most; the least recently fetched one is dropped first. */
  maxTenants?: number;
  /** Time source; tests move it forward to get past the cooldown or the maximum age. */
  clock?: Clock;
}

const DEFAULTS = {
  cooldownMs: 5 * 60_000,
  // Entra rotates keys with weeks of overlap and advises refreshing them about once a day.
  maxAgeMs: 24 * 60 * 60_000,
  failureBackoffMs: 10_000,
  maxTenants: 500,
} as const;

/** What RS256 needs (RFC 7518); Entra publishes 2048-bit keys. */
const MIN_RSA_BITS = 2048;
/** Entra tenant ids are GUIDs; anything else never reaches a URL. */
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type KeyRefusal =
  /** No published key of the tenant has this id (after the one refetch the cooldown allows). */
  | 'unknown-key'
  /** The keys could not be fetched or read, so no key can be trusted right now. */
  | 'keys-unavailable';

export type KeyLookup =
  { ok: true; key: KeyLike } | { ok: false; reason: KeyRefusal; message: string };

export interface JwksSource {
  /** The public key `kid` of the tenant, usable with `alg`, or why there is none. */
  getKey(tenantId: string, kid: string, alg: string): Promise<KeyLookup>;
}

/** The members of a published RSA signing key that we use; the rest (x5c, issuer...) is ignored. */
interface PublishedKey {
  n: string;
  e: string;
  alg?: string;
}

interface TenantKeys {
  /** Signing keys by key id, from the last successful fetch. */
  keys?: Map<string, PublishedKey>;
  fetchedAt?: number;
  /** When an unknown key id last caused a refetch (the cooldown counts from here). */
  refetchedAt?: number;
  failedAt?: number;
  /** The fetch under way, shared by every caller that needs it. */
  inFlight?: Promise<FetchOutcome>;
  /** Keys already imported, by key id; emptied on every successful fetch. */
  imported: Map<string, KeyLike>;
}

type FetchOutcome = { ok: true } | { ok: false; message: string };
type FetchCause = 'first' | 'expired' | 'unknown-kid';

export function createJwksSource(options: JwksSourceOptions): JwksSource {
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  const host = options.authorityHost.replace(/\/+$/, '');
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const tenants = new BoundedMap<string, TenantKeys>(settings.maxTenants);
  const now = () => clock.now().getTime();

  function tenantKeys(tenantId: string): TenantKeys {
    const existing = tenants.get(tenantId);
    if (existing) return existing;
    const created: TenantKeys = { imported: new Map() };
    tenants.set(tenantId, created);
    return created;
  }

  function isCurrent(tenant: TenantKeys): boolean {
    return tenant.fetchedAt !== undefined && now() - tenant.fetchedAt < settings.maxAgeMs;
  }

  /** Starts a fetch, or joins the one under way; failures are not retried before the backoff. */
  function fetchKeys(tenantId: string, tenant: TenantKeys, cause: FetchCause) {
    if (tenant.inFlight) return tenant.inFlight;
    if (tenant.failedAt !== undefined && now() - tenant.failedAt < settings.failureBackoffMs) {
      return Promise.resolve<FetchOutcome>({
        ok: false,
        message: 'The last attempt to fetch the signing keys failed moments ago.',
      });
    }
    tenant.inFlight = download(tenantId, tenant, cause).finally(() => {
      tenant.inFlight = undefined;
    });
    return tenant.inFlight;
  }

  async function download(
    tenantId: string,
    tenant: TenantKeys,
    cause: FetchCause,
  ): Promise<FetchOutcome> {
    const url = `${host}/${tenantId}/discovery/v2.0/keys`;
    const result = await options.http.request({ method: 'GET', url });
    const failure =
      result.kind !== 'response'
        ? `${result.kind}: ${result.message}`
        : result.status !== 200
          ? `status ${result.status}`
          : undefined;
    const keys =
      failure === undefined && result.kind === 'response' ? readKeySet(result.bodyText) : undefined;
    if (keys === undefined) {
      tenant.failedAt = now();
      const problem = failure ?? 'the answer is not a JSON Web Key Set';
      logger.warn('jwks fetch failed', { tenantId, cause, problem });
      return { ok: false, message: `The signing keys could not be fetched (${problem}).` };
    }
    tenant.keys = keys;
    tenant.fetchedAt = now();
    tenant.failedAt = undefined;
    tenant.imported.clear();
    // Written again, so that the least recently fetched tenant is the first to go.
    tenants.set(tenantId, tenant);
    logger.info('jwks fetched', { tenantId, cause, keyCount: keys.size });
    return { ok: true };
  }

  async function importKey(
    tenant: TenantKeys,
    kid: string,
    published: PublishedKey,
    alg: string,
  ): Promise<KeyLookup> {
    const cached = tenant.imported.get(kid);
    if (cached) return { ok: true, key: cached };
    try {
      const key = await importJWK({ kty: 'RSA', n: published.n, e: published.e }, alg);
      if (!isStrongRsaPublicKey(key)) throw new TypeError('not an RSA public key of 2048+ bits');
      tenant.imported.set(kid, key);
      return { ok: true, key };
    } catch {
      return {
        ok: false,
        reason: 'keys-unavailable',
        message: `The published signing key ${kid} could not be read.`,
      };
    }
  }

  async function getKey(tenantId: string, kid: string, alg: string): Promise<KeyLookup> {
    if (!TENANT_ID.test(tenantId)) {
      return { ok: false, reason: 'unknown-key', message: 'The tenant id is not a GUID.' };
    }
    const id = tenantId.toLowerCase();
    const tenant = tenantKeys(id);
    // True once this call has seen keys as fresh as they can be: refetching again would not help.
    let fresh = false;

    if (!isCurrent(tenant)) {
      const outcome = await fetchKeys(id, tenant, tenant.keys ? 'expired' : 'first');
      if (!outcome.ok) return { ok: false, reason: 'keys-unavailable', message: outcome.message };
      fresh = true;
    }

    let published = findKey(tenant, kid, alg);
    if (!published && !fresh) {
      if (tenant.inFlight) {
        const outcome = await tenant.inFlight;
        if (!outcome.ok) return { ok: false, reason: 'keys-unavailable', message: outcome.message };
      } else if (
        tenant.refetchedAt === undefined ||
        now() - tenant.refetchedAt >= settings.cooldownMs
      ) {
        // The key may be new (rotation): refetch once, then not again before the cooldown ends.
        tenant.refetchedAt = now();
        const outcome = await fetchKeys(id, tenant, 'unknown-kid');
        if (!outcome.ok) return { ok: false, reason: 'keys-unavailable', message: outcome.message };
      } else {
        logger.debug('jwks refetch suppressed', { tenantId: id, kid: kid.slice(0, 64) });
      }
      published = isCurrent(tenant) ? findKey(tenant, kid, alg) : undefined;
    }

    if (!published) {
      return {
        ok: false,
        reason: 'unknown-key',
        message: `No published signing key of tenant ${id} has the id the token names.`,
      };
    }
    return importKey(tenant, kid, published, alg);
  }

  return { getKey };
}

function findKey(tenant: TenantKeys, kid: string, alg: string): PublishedKey | undefined {
  const published = tenant.keys?.get(kid);
  // A key published for another algorithm is not a key for this one.
  return published && (published.alg === undefined || published.alg === alg)
    ? published
    : undefined;
}

/** Node imports even an empty modulus without complaint; such a key must not count as published. */
function isStrongRsaPublicKey(key: KeyLike | Uint8Array): key is KeyLike {
  if (!(key instanceof KeyObject)) return false;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  return key.type === 'public' && key.asymmetricKeyType === 'rsa' && bits >= MIN_RSA_BITS;
}

/** The RSA signing keys of a JSON Web Key Set, by key id; undefined when the text is not one. */
function readKeySet(text: string): Map<string, PublishedKey> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const entries = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(entries)) return undefined;
  const keys = new Map<string, PublishedKey>();
  for (const entry of entries as unknown[]) {
    if (entry === null || typeof entry !== 'object') continue;
    const { kid, kty, use, n, e, alg } = entry as Record<string, unknown>;
    if (typeof kid !== 'string' || kid === '' || keys.has(kid)) continue;
    if (kty !== 'RSA' || typeof n !== 'string' || typeof e !== 'string') continue;
    if (use !== undefined && use !== 'sig') continue;
    keys.set(kid, { n, e, alg: typeof alg === 'string' ? alg : undefined });
  }
  return keys;
}

/** Drops undefined fields so they do not overwrite defaults. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, item]) => item !== undefined),
  ) as Partial<T>;
}
