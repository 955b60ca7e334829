/**
 * Acting as the user later, while they are not in the chat: at the end of a time-boxed elevation
 * the bot removes the role with the user's own delegated Dataverse token. What makes that possible
 * is a refresh token, kept at the grant and redeemed at the end.
 *
 * What msal-node 7 does here (verified in its source): every request gets `openid profile
 * offline_access` added (ClientApplication.initializeBaseRequest), so an on-behalf-of answer
 * carries a refresh token; msal caches it but its on-behalf-of path never redeems it (a new
 * exchange needs a fresh assertion), and no AuthenticationResult exposes it. So `keep` makes its
 * own on-behalf-of exchange in a fresh client whose cache holds nothing else, and reads the one
 * refresh token out of `getTokenCache().serialize()`; `tokenFor` redeems it with
 * `acquireTokenByRefreshToken` (a confidential client: the app's secret or certificate goes with
 * it) in another fresh client, `forceCache` set so that msal caches the rotated refresh token
 * (without it msal drops the answer's tokens when its account is not cached already), and keeps
 * that one from then on.
 *
 * Where it is kept: with TOKEN_CACHE_KEY, its own store entry `later/<tenant>/<oid>`, sealed for
 * that key, expiring at the elevation's end plus a margin (the msal token cache written for other
 * instances still leaves refresh tokens out, token-cache.ts). Without it, this process's memory
 * only: a restart loses it, and the removal then falls back to asking the user.
 *
 * Two instances may redeem the same refresh token at once: Entra's refresh tokens for confidential
 * clients stay valid after rotation (unlike a SPA's), so both succeed and the last write wins.
 */
import {
  type AuthenticationResult,
  AuthError,
  InteractionRequiredAuthError,
} from '@azure/msal-node';
import type { Clock, LaterTokenResult, LaterTokens } from '../elevation/ports';
import { systemClock } from '../elevation/ports';
import type { Requester } from '../elevation/request';
import { redactText, type Logger } from '../log';
import { BoundedMap } from '../support/bounded-map';
import { accessTokenWids, tenantAdminRoleNames } from './admin-roles';
import { laterTokenKey, type SharedSecrets, type UserKey } from './shared-secrets';

/** The msal-node calls used here; a ConfidentialClientApplication has them. */
export interface RefreshingClient {
  acquireTokenOnBehalfOf(request: {
    oboAssertion: string;
    scopes: string[];
    skipCache?: boolean;
  }): Promise<AuthenticationResult | null>;
  acquireTokenByRefreshToken(request: {
    refreshToken: string;
    scopes: string[];
    forceCache?: boolean;
  }): Promise<AuthenticationResult | null>;
  getTokenCache(): { serialize(): string };
}

export interface LaterTokensOptions {
  /** The users' live sign-ins (DelegatedTokens): the assertion of the exchange that keeps. */
  signIns: { assertionOf(user: UserKey): Promise<string | undefined> };
  /** A new msal client with an empty cache of its own: one per exchange. */
  newClient: () => RefreshingClient;
  /** The scope of `keep`'s exchange (the Power Platform API's `.default`, already consented). */
  keepScope: string;
  logger: Logger;
  clock?: Clock;
  /** The store and key that keep refresh tokens for every instance; this process's memory without. */
  shared?: SharedSecrets;
  /** How long past `until` a kept token stays (removal retries after the end need it). */
  keepMarginMs?: number;
  /** Users kept in memory at once without a store. */
  maxKeptInMemory?: number;
}

/** What is sealed under the user's key. */
interface Kept {
  refreshToken: string;
  /** ms since the epoch. */
  expiresAt: number;
}

const DEFAULTS = { keepMarginMs: 24 * 3600_000, maxKeptInMemory: 100_000 };

const NOT_KEPT: LaterTokenResult = {
  ok: false,
  reason: 'not-kept',
  message: 'Nothing was kept to act for you after you left (or it ran out).',
};

/** Entra's refusals that only the user can resolve, each with the cause told to them. */
const REFUSALS: Array<{ pattern: RegExp; cause: string }> = [
  {
    pattern: /AADSTS65001|AADSTS65004|consent_required/i,
    cause: 'your consent is needed for this resource',
  },
  {
    pattern: /AADSTS50173|AADSTS50133/i,
    cause: 'your sessions were revoked or your password changed since',
  },
  { pattern: /AADSTS700082|AADSTS70008\b|AADSTS700084/i, cause: 'what was kept has expired' },
  {
    pattern: /AADSTS70043|AADSTS70044/i,
    cause: "your organisation's sign-in frequency policy requires you to sign in again",
  },
  {
    pattern: /AADSTS50076|AADSTS50079|AADSTS50078|AADSTS50158|AADSTS53003|interaction_required/i,
    cause: 'multi-factor authentication or Conditional Access requires you to sign in again',
  },
  { pattern: /invalid_grant/i, cause: 'Entra no longer accepts what was kept' },
];

export class KeptRefreshTokens implements LaterTokens {
  private readonly clock: Clock;
  private readonly memory: BoundedMap<string, Kept>;

  constructor(private readonly options: LaterTokensOptions) {
    this.clock = options.clock ?? systemClock;
    this.memory = new BoundedMap(options.maxKeptInMemory ?? DEFAULTS.maxKeptInMemory);
  }

  async keep(user: Requester, until: Date): Promise<{ ok: true } | { ok: false; message: string }> {
    const assertion = await this.options.signIns.assertionOf(user);
    if (!assertion) {
      return {
        ok: false,
        message:
          'You are not signed in, so I cannot keep what I need to remove the role for you later.',
      };
    }
    const client = this.options.newClient();
    try {
      // skipCache: a fresh client has nothing cached, but the network call must happen regardless.
      const result = await client.acquireTokenOnBehalfOf({
        oboAssertion: assertion,
        scopes: [this.options.keepScope],
        skipCache: true,
      });
      if (!result?.accessToken) throw new Error('no token in the answer');
    } catch (error) {
      const { text, code } = this.describe('on-behalf-of exchange for later failed', error);
      const cause = causeOf(text, error);
      return {
        ok: false,
        message: `Entra did not let me keep what I need to act for you later${cause ? `: ${cause}` : ''}${code ? ` (${code})` : ''}.`,
      };
    }
    const refreshToken = refreshTokenIn(client);
    if (!refreshToken) {
      this.options.logger.warn('the on-behalf-of answer carried no refresh token', {
        user: user.aadObjectId,
      });
      return { ok: false, message: 'Entra gave me nothing to act for you later with.' };
    }
    const key = laterTokenKey(user);
    // One entry per user, for all their elevations: a sooner end never shortens what is kept.
    const before = await this.read(key);
    const kept: Kept = {
      refreshToken,
      expiresAt: Math.max(
        until.getTime() + (this.options.keepMarginMs ?? DEFAULTS.keepMarginMs),
        before?.expiresAt ?? 0,
      ),
    };
    if (!(await this.save(key, kept))) {
      return { ok: false, message: 'I could not store what I need to act for you later.' };
    }
    this.options.logger.info('kept for later', {
      user: user.aadObjectId,
      tenantId: user.tenantId,
      until: until.toISOString(),
      where: this.options.shared ? 'store' : 'memory',
    });
    return { ok: true };
  }

  async tokenFor(user: Requester, resource: string): Promise<LaterTokenResult> {
    const key = laterTokenKey(user);
    const kept = await this.read(key);
    if (!kept) return NOT_KEPT;
    const client = this.options.newClient();
    let result: AuthenticationResult | null;
    try {
      result = await client.acquireTokenByRefreshToken({
        refreshToken: kept.refreshToken,
        scopes: [`${resource.replace(/\/+$/, '')}/.default`],
        forceCache: true,
      });
    } catch (error) {
      return this.refusal(error);
    }
    if (!result?.accessToken) {
      return { ok: false, reason: 'unavailable', message: 'Entra returned no token.' };
    }
    const rotated = refreshTokenIn(client);
    // A failed write leaves the previous token, which stays valid (see the header).
    if (rotated && rotated !== kept.refreshToken) {
      await this.save(key, { refreshToken: rotated, expiresAt: kept.expiresAt });
    }
    return {
      ok: true,
      token: result.accessToken,
      adminRoles: tenantAdminRoleNames(accessTokenWids(result.accessToken)),
    };
  }

  async forget(user: Requester): Promise<void> {
    const key = laterTokenKey(user);
    this.memory.delete(key);
    const shared = this.options.shared;
    if (!shared) return;
    try {
      await shared.store.deleteSecret(key);
    } catch (error) {
      this.warn('a kept refresh token could not be removed from the store', key, error);
    }
  }

  private refusal(error: unknown): LaterTokenResult {
    const { text, code } = this.describe('refresh for later failed', error);
    const suffix = code ? ` (${code})` : '';
    const cause = causeOf(text, error);
    if (cause) {
      return {
        ok: false,
        reason: 'refused',
        message: `Entra refused to renew your sign-in: ${cause}${suffix}.`,
      };
    }
    // Outages, throttling, network errors, and anything unknown: worth trying again later.
    return {
      ok: false,
      reason: 'unavailable',
      message: `Entra could not renew your sign-in right now${suffix}.`,
    };
  }

  /** Logs a failed exchange without tokens; the text to classify and the AADSTS code if any. */
  private describe(message: string, error: unknown): { text: string; code?: string } {
    const text =
      error instanceof AuthError
        ? `${error.errorCode} ${error.errorMessage} ${error.subError}`
        : String(error);
    const code = /AADSTS\d+/.exec(text)?.[0];
    this.options.logger.warn(message, {
      errorCode: error instanceof AuthError ? error.errorCode : undefined,
      subError: error instanceof AuthError ? error.subError || undefined : undefined,
      aadsts: code,
      message: redactText(
        error instanceof AuthError ? error.errorMessage || error.errorCode : String(error),
      ).slice(0, 300),
    });
    return { text, code };
  }

  private async save(key: string, kept: Kept): Promise<boolean> {
    const shared = this.options.shared;
    if (!shared) {
      this.memory.set(key, kept);
      return true;
    }
    try {
      await shared.store.writeSecret(
        key,
        shared.box.seal(JSON.stringify(kept), key),
        new Date(kept.expiresAt),
      );
      return true;
    } catch (error) {
      this.warn('a refresh token could not be kept in the store', key, error);
      return false;
    }
  }

  private async read(key: string): Promise<Kept | undefined> {
    const now = this.clock.now();
    const shared = this.options.shared;
    if (!shared) {
      const kept = this.memory.get(key);
      if (kept && kept.expiresAt > now.getTime()) return kept;
      this.memory.delete(key);
      return undefined;
    }
    let json: string | undefined;
    try {
      const sealed = await shared.store.readSecret(key, now);
      json = sealed === undefined ? undefined : shared.box.open(sealed, key);
    } catch (error) {
      this.warn('a kept refresh token could not be read from the store', key, error);
      return undefined;
    }
    if (json === undefined) return undefined;
    const kept = parseKept(json);
    if (!kept)
      this.options.logger.warn('a kept refresh token is malformed; ignored', { storeKey: key });
    return kept && kept.expiresAt > now.getTime() ? kept : undefined;
  }

  private warn(message: string, key: string, error: unknown): void {
    // The error's name only: messages can quote what was being written.
    this.options.logger.warn(message, {
      storeKey: key,
      error: error instanceof Error ? error.name : typeof error,
    });
  }
}

/** Why Entra refused, when only the user can resolve it; undefined for anything else. */
function causeOf(text: string, error: unknown): string | undefined {
  const refused = REFUSALS.find((r) => r.pattern.test(text));
  if (refused) return refused.cause;
  return error instanceof InteractionRequiredAuthError ? 'you must sign in again' : undefined;
}

/** The refresh token in a fresh client's cache (the only one it holds); undefined without. */
export function refreshTokenIn(
  client: Pick<RefreshingClient, 'getTokenCache'>,
): string | undefined {
  const cache = JSON.parse(client.getTokenCache().serialize()) as {
    RefreshToken?: Record<string, { secret?: unknown }>;
  };
  const secrets = Object.values(cache.RefreshToken ?? {})
    .map((entry) => entry.secret)
    .filter((secret): secret is string => typeof secret === 'string' && secret.length > 0);
  return secrets.at(-1);
}

function parseKept(json: string): Kept | undefined {
  try {
    const value = JSON.parse(json) as Partial<Kept> | null;
    if (typeof value?.refreshToken === 'string' && typeof value.expiresAt === 'number') {
      return { refreshToken: value.refreshToken, expiresAt: value.expiresAt };
    }
  } catch {
    // Not JSON: treated as absent below.
  }
  return undefined;
}
