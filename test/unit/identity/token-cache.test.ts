import { randomBytes } from 'node:crypto';
import type { TokenCacheContext } from '@azure/msal-node';
import type { SecretStore } from '../../../src/elevation/ports';
import { SecretBox } from '../../../src/identity/secret-box';
import { persistableCache, StoredTokenCache } from '../../../src/identity/token-cache';
import { createLogger } from '../../../src/log';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const KEY = 'msal/3a4cfec5-a51a-4112-a8bf-15cd69dbdba8/8a2f0c5e-6d1b-4c3e-9f7a-1b2c3d4e5f60';
const clock = { now: () => new Date(NOW) };

function accessToken(name: string, expiresInSeconds: number, secret = `at-${name}`) {
  return {
    credential_type: 'AccessToken',
    secret,
    target: `https://${name}/.default`,
    cached_at: String(NOW / 1000 - 60),
    expires_on: String(NOW / 1000 + expiresInSeconds),
  };
}

function msalCache(tokens: Record<string, ReturnType<typeof accessToken>>) {
  return JSON.stringify({
    Account: { account: { home_account_id: 'u.t' } },
    IdToken: {},
    AccessToken: tokens,
    RefreshToken: { rt: { credential_type: 'RefreshToken', secret: 'long-lived-refresh-token' } },
    AppMetadata: {},
  });
}

class MemoryStore implements SecretStore {
  readonly values = new Map<string, { value: string; expiresAt: Date }>();
  failing = false;
  async readSecret(key: string, now: Date) {
    if (this.failing) throw new Error('store down');
    const entry = this.values.get(key);
    return entry && entry.expiresAt > now ? entry.value : undefined;
  }
  async writeSecret(key: string, value: string, expiresAt: Date) {
    if (this.failing) throw new Error('store down');
    this.values.set(key, { value, expiresAt });
  }
  async deleteSecret(key: string) {
    this.values.delete(key);
  }
}

/** Stands in for msal's TokenCache in a TokenCacheContext. */
function context(serialized: string, hasChanged = true) {
  const deserialized: string[] = [];
  const tokenCache = {
    serialize: () => serialized,
    deserialize: (json: string) => void deserialized.push(json),
  };
  return {
    deserialized,
    context: { cacheHasChanged: hasChanged, tokenCache } as unknown as TokenCacheContext,
  };
}

/** A store whose writes wait until `release()` (a slow storage account), counting them. */
class SlowStore extends MemoryStore {
  writes = 0;
  private waiting: Array<() => void> = [];
  override async writeSecret(key: string, value: string, expiresAt: Date) {
    this.writes += 1;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    await super.writeSecret(key, value, expiresAt);
  }
  release(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

function plugin(
  store: SecretStore,
  box: SecretBox,
  maxSealedChars?: number,
  onWriteBehind?: (writing: Promise<void>) => void,
) {
  const logs: string[] = [];
  const cache = new StoredTokenCache({
    store,
    box,
    key: KEY,
    clock,
    maxSealedChars,
    writeBehind: onWriteBehind !== undefined,
    onWriteBehind,
    logger: createLogger({ sink: (line) => logs.push(line) }),
  });
  return { cache, logs };
}

describe('persistableCache', () => {
  it('keeps live access tokens, drops refresh tokens and expired access tokens, and expires with the latest token', () => {
    const kept = persistableCache(
      msalCache({
        a: accessToken('api.powerplatform.com', 3600),
        b: accessToken('contoso.crm.dynamics.com', 1800),
        c: accessToken('old.crm.dynamics.com', -10),
      }),
      NOW,
    )!;
    const cache = JSON.parse(kept.json) as Record<string, Record<string, unknown>>;
    expect(Object.keys(cache.AccessToken!)).toEqual(['b', 'a']);
    expect(cache.RefreshToken).toEqual({});
    expect(cache.Account).toEqual({ account: { home_account_id: 'u.t' } });
    expect(kept.expiresAt).toBe(NOW + 3600_000);
  });

  it('keeps the refresh token when asked (the step-up cache, refreshed with the claims)', () => {
    const kept = persistableCache(
      msalCache({ a: accessToken('api.powerplatform.com', 3600) }),
      NOW,
      0,
      true,
    )!;
    const cache = JSON.parse(kept.json) as Record<string, Record<string, unknown>>;
    expect(cache.RefreshToken).toEqual({
      rt: { credential_type: 'RefreshToken', secret: 'long-lived-refresh-token' },
    });
  });

  it('drops the soonest-expiring tokens first when asked; nothing live left gives undefined', () => {
    const serialized = msalCache({
      a: accessToken('api.powerplatform.com', 3600),
      b: accessToken('contoso.crm.dynamics.com', 1800),
    });
    const kept = persistableCache(serialized, NOW, 1)!;
    expect(Object.keys((JSON.parse(kept.json) as { AccessToken: object }).AccessToken)).toEqual([
      'a',
    ]);
    expect(persistableCache(serialized, NOW, 2)).toBeUndefined();
    expect(
      persistableCache(msalCache({ c: accessToken('old.crm.dynamics.com', -10) }), NOW),
    ).toBeUndefined();
  });

  it('a token without a usable expiry keeps the cache for a day', () => {
    const token = { ...accessToken('api.powerplatform.com', 0), expires_on: 'soon' };
    expect(persistableCache(msalCache({ a: token }), NOW)!.expiresAt).toBe(NOW + 24 * 3600_000);
  });
});

describe('StoredTokenCache (msal ICachePlugin)', () => {
  const box = new SecretBox(randomBytes(32));

  it('saves a changed cache sealed under the user key, and loads it back', async () => {
    const store = new MemoryStore();
    const { cache } = plugin(store, box);
    const serialized = msalCache({ a: accessToken('api.powerplatform.com', 3600) });
    await cache.afterCacheAccess(context(serialized).context);
    const stored = store.values.get(KEY)!;
    expect(stored.value).not.toContain('at-api.powerplatform.com');
    expect(stored.value).not.toContain('long-lived-refresh-token');
    expect(stored.expiresAt.getTime()).toBe(NOW + 3600_000);

    const { context: before, deserialized } = context('');
    await cache.beforeCacheAccess(before);
    expect(deserialized).toHaveLength(1);
    expect(JSON.parse(deserialized[0]!)).toMatchObject({
      AccessToken: { a: { secret: 'at-api.powerplatform.com' } },
    });
  });

  it('an unchanged cache is not written; a cache with nothing live removes the stored one', async () => {
    const store = new MemoryStore();
    const { cache } = plugin(store, box);
    await cache.afterCacheAccess(
      context(msalCache({ a: accessToken('api.powerplatform.com', 3600) }), false).context,
    );
    expect(store.values.size).toBe(0);
    await cache.afterCacheAccess(
      context(msalCache({ a: accessToken('api.powerplatform.com', 3600) })).context,
    );
    expect(store.values.size).toBe(1);
    await cache.afterCacheAccess(
      context(msalCache({ a: accessToken('api.powerplatform.com', -1) })).context,
    );
    expect(store.values.size).toBe(0);
  });

  it('too large for the store: the soonest-expiring tokens are left out until it fits', async () => {
    const store = new MemoryStore();
    const { cache, logs } = plugin(store, box, 6_000);
    const big = (n: number) => 'x'.repeat(n);
    await cache.afterCacheAccess(
      context(
        msalCache({
          a: accessToken('api.powerplatform.com', 3600, big(2_000)),
          b: accessToken('one.crm.dynamics.com', 600, big(2_000)),
          c: accessToken('two.crm.dynamics.com', 1200, big(2_000)),
        }),
      ).context,
    );
    const sealed = store.values.get(KEY)!.value;
    expect(sealed.length).toBeLessThanOrEqual(6_000);
    const opened = JSON.parse(box.open(sealed, KEY)!) as { AccessToken: object };
    expect(Object.keys(opened.AccessToken).sort()).toEqual(['a', 'c']);
    expect(logs.join('\n')).toContain('trimmed');
  });

  it('store failures and foreign values are logged and swallowed: msal carries on with its memory', async () => {
    const store = new MemoryStore();
    const { cache, logs } = plugin(store, box);
    store.failing = true;
    await expect(
      cache.afterCacheAccess(
        context(msalCache({ a: accessToken('api.powerplatform.com', 3600) })).context,
      ),
    ).resolves.toBeUndefined();
    const { context: before, deserialized } = context('');
    await expect(cache.beforeCacheAccess(before)).resolves.toBeUndefined();
    store.failing = false;
    store.values.set(KEY, {
      value: new SecretBox(randomBytes(32)).seal('{}', KEY),
      expiresAt: new Date(NOW + 60_000),
    });
    await cache.beforeCacheAccess(before);
    expect(deserialized).toHaveLength(0);
    expect(logs.length).toBe(2); // the foreign value is reported by the SecretBox's own logger
    for (const line of logs) {
      expect(JSON.parse(line)).toMatchObject({ level: 'warn', storeKey: KEY });
      expect(line).not.toContain('at-api.powerplatform.com');
    }
  });

  it('written behind: msal gets its answer before the store write ends, and settled() waits for it', async () => {
    const store = new SlowStore();
    const told: Array<Promise<void>> = [];
    const { cache } = plugin(store, box, undefined, (writing) => told.push(writing));
    await cache.afterCacheAccess(
      context(msalCache({ a: accessToken('api.powerplatform.com', 3600) })).context,
    );
    // afterCacheAccess returned while the write is still held by the store.
    expect(store.writes).toBe(1);
    expect(store.values.size).toBe(0);
    expect(told).toHaveLength(1);
    let settled = false;
    const settling = cache.settled().then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    store.release();
    await settling;
    expect(store.values.get(KEY)?.expiresAt.getTime()).toBe(NOW + 3600_000);
  });

  it('written behind: changes made during a write are written by one more write, with the latest cache', async () => {
    const store = new SlowStore();
    const { cache } = plugin(store, box, undefined, () => undefined);
    await cache.afterCacheAccess(
      context(msalCache({ a: accessToken('api.powerplatform.com', 3600) })).context,
    );
    await cache.afterCacheAccess(
      context(msalCache({ b: accessToken('one.crm.dynamics.com', 1800) })).context,
    );
    const latest = msalCache({
      b: accessToken('one.crm.dynamics.com', 1800),
      c: accessToken('two.crm.dynamics.com', 7200),
    });
    await cache.afterCacheAccess(context(latest).context);
    expect(store.writes).toBe(1); // one at a time
    store.release();
    // The first write ends, then exactly one more starts (for the two changes during it).
    while (store.writes < 2) await new Promise((resolve) => setImmediate(resolve));
    store.release();
    await cache.settled();
    expect(store.writes).toBe(2);
    const opened = JSON.parse(box.open(store.values.get(KEY)!.value, KEY)!) as {
      AccessToken: object;
    };
    expect(Object.keys(opened.AccessToken).sort()).toEqual(['b', 'c']);
  });

  it('not written behind (the step-up cache): msal waits for the store write', async () => {
    const store = new SlowStore();
    const { cache } = plugin(store, box);
    let returned = false;
    const access = cache
      .afterCacheAccess(
        context(msalCache({ a: accessToken('api.powerplatform.com', 3600) })).context,
      )
      .then(() => (returned = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(returned).toBe(false);
    store.release();
    await access;
    expect(store.values.size).toBe(1);
  });
});
