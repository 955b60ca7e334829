/**
 * The msal-node confidential clients that perform on-behalf-of exchanges, one per user (so that
 * each user's token cache is its own partition, kept in the store when TOKEN_CACHE_KEY is set).
 * The same, with `stepUpCaches`, holds each user's step-up sign-ins (step-up MFA): apart, so that
 * an on-behalf-of answer's refresh token never replaces the stepped-up one (msal keeps one per
 * account), and refreshed silently with the claims (acquireTokenSilentFor).
 *
 * Creating a client costs no network call: for Entra's public and sovereign hosts msal-node uses
 * its built-in endpoint and instance metadata; given `authorityMetadata` (the sandbox's local
 * identity provider), msal is told the endpoints: msal refuses an http authority, so the authority
 * is a never-contacted https name and the metadata carries the provider's real endpoints. (Any
 * other authority host would be discovered by each new client on its first request.)
 */
import {
  type AuthenticationResult,
  ConfidentialClientApplication,
  type ICachePlugin,
  LogLevel,
} from '@azure/msal-node';
import type { Clock } from '../elevation/ports';
import type { Logger } from '../log';
import { BoundedMap } from '../support/bounded-map';
import type { ClientCertificate } from './client-certificate';
import type { OnBehalfOfClient, OnBehalfOfClients } from './delegated-tokens';
import { type SharedSecrets, stepUpCacheKey, tokenCacheKey, type UserKey } from './shared-secrets';
import type { SteppedUpClient } from './step-up-tokens';
import { holdsLiveToken, StoredTokenCache } from './token-cache';

export interface OnBehalfOfClientOptions {
  clientId: string;
  /** The app's credential: a client secret, or a certificate (preferred where possible). */
  credential: { secret: string } | { certificate: ClientCertificate };
  /** The app's tenant. */
  tenantId: string;
  /** e.g. https://login.microsoftonline.com (sovereign clouds differ). */
  authorityHost: string;
  /** Endpoints of a local identity provider (token_endpoint, issuer, jwks_uri, ...). */
  authorityMetadata?: Record<string, string>;
  logger: Logger;
  /** Where msal loads and saves its token cache (memory only without). */
  cachePlugin?: ICachePlugin;
}

/** The authority name used with explicit metadata; msal never resolves it. */
const LOCAL_AUTHORITY_HOST = 'login.local';

export function createOnBehalfOfClient(
  options: OnBehalfOfClientOptions,
): ConfidentialClientApplication {
  const authority = options.authorityMetadata
    ? `https://${LOCAL_AUTHORITY_HOST}/${options.tenantId}`
    : `${options.authorityHost.replace(/\/+$/, '')}/${options.tenantId}`;
  return new ConfidentialClientApplication({
    auth: {
      clientId: options.clientId,
      ...('secret' in options.credential
        ? { clientSecret: options.credential.secret }
        : {
            clientCertificate: {
              thumbprintSha256: options.credential.certificate.thumbprintSha256,
              privateKey: options.credential.certificate.privateKeyPem,
            },
          }),
      authority,
      ...(options.authorityMetadata
        ? {
            knownAuthorities: [LOCAL_AUTHORITY_HOST],
            authorityMetadata: JSON.stringify(options.authorityMetadata),
          }
        : {}),
    },
    ...(options.cachePlugin ? { cache: { cachePlugin: options.cachePlugin } } : {}),
    system: {
      loggerOptions: {
        // msal's own messages, without personal data, at warning and above.
        piiLoggingEnabled: false,
        logLevel: LogLevel.Warning,
        loggerCallback: (_level, message) => options.logger.warn('msal', { message }),
      },
    },
  });
}

export interface OnBehalfOfClientsOptions extends OnBehalfOfClientOptions {
  /** The store and key that share each user's token cache between instances; memory only without. */
  shared?: SharedSecrets;
  /** Users whose client (and in-memory token cache) is kept at once; the least recent goes first. */
  maxClients?: number;
  /** msal's time, for the stored caches' expiry. */
  clock?: Clock;
  /**
   * Another partition of the users' caches (the step-up sign-ins: `stepUpCacheKey`), whose
   * refresh tokens are kept in the store; the on-behalf-of cache (`tokenCacheKey`) without.
   */
  stepUpCaches?: boolean;
}

const DEFAULT_MAX_CLIENTS = 1_000;

/** One on-behalf-of client per user, kept in a bounded LRU. */
export function createOnBehalfOfClients(options: OnBehalfOfClientsOptions): OnBehalfOfClients {
  return new PerUserClients(options);
}

class PerUserClients implements OnBehalfOfClients {
  private readonly clients: BoundedMap<string, UserClient>;
  /** Token cache writes still under way behind the answers (a client may have left the map). */
  private readonly writesBehind = new Set<Promise<void>>();

  constructor(private readonly options: OnBehalfOfClientsOptions) {
    this.clients = new BoundedMap(options.maxClients ?? DEFAULT_MAX_CLIENTS);
  }

  async settled(): Promise<void> {
    while (this.writesBehind.size > 0) await Promise.all(this.writesBehind);
  }

  forUser(user: UserKey): OnBehalfOfClient {
    const key = this.options.stepUpCaches ? stepUpCacheKey(user) : tokenCacheKey(user);
    const known = this.clients.get(key);
    if (known) {
      // Written again: the most recently used goes last.
      this.clients.set(key, known);
      return known;
    }
    const {
      shared,
      maxClients: _notAnMsalOption,
      clock,
      stepUpCaches,
      ...clientOptions
    } = this.options;
    const cache = shared
      ? new StoredTokenCache({
          ...shared,
          key,
          logger: this.options.logger,
          clock,
          keepRefreshTokens: stepUpCaches,
          writeBehind: !stepUpCaches,
          onWriteBehind: (writing) => {
            this.writesBehind.add(writing);
            void writing.then(() => this.writesBehind.delete(writing));
          },
        })
      : undefined;
    const client = new UserClient(
      createOnBehalfOfClient({ ...clientOptions, cachePlugin: cache }),
      cache,
    );
    this.clients.set(key, client);
    return client;
  }
}

/**
 * One user's client. Concurrent requests of the same user need no lock: loading the stored cache
 * only adds to msal's memory (TokenCache.deserialize merges, it never removes), so a load cannot
 * undo a token another request is saving; between instances the last write wins, which can cost
 * an on-behalf-of call, never a wrong token (entries are keyed by the assertion's hash and scopes).
 * In a step-up cache kept in the store, msal's silent call replaces its memory with what is
 * stored (TokenCache.overwriteCache): a step-up adopted meanwhile by another request of the same
 * user is then found by the next call, never lost (it is in the store).
 */
class UserClient implements OnBehalfOfClient, SteppedUpClient {
  constructor(
    private readonly msal: ConfidentialClientApplication,
    private readonly cache: StoredTokenCache | undefined,
  ) {}

  async acquireTokenOnBehalfOf(request: {
    oboAssertion: string;
    scopes: string[];
    claims?: string;
  }): Promise<AuthenticationResult | null> {
    // msal's on-behalf-of lookup reads memory only: bring in what other instances stored, unless
    // memory already answers this request.
    const memory = this.msal.getTokenCache();
    if (this.cache && !holdsLiveToken(memory.serialize(), request, Date.now())) {
      await this.cache.load(memory);
    }
    return this.msal.acquireTokenOnBehalfOf(request);
  }

  async acquireTokenSilentFor(
    user: UserKey,
    request: { scopes: string[]; claims: string },
  ): Promise<AuthenticationResult | null> {
    if (this.cache) await this.cache.load(this.msal.getTokenCache());
    const account = (await this.msal.getTokenCache().getAllAccounts()).find(
      (a) =>
        a.localAccountId.toLowerCase() === user.aadObjectId.toLowerCase() &&
        a.tenantId.toLowerCase() === user.tenantId.toLowerCase(),
    );
    if (!account) return null;
    // msal's silent call empties its memory and reloads it through the plugin: that load must happen.
    this.cache?.reloadNextAccess();
    return this.msal.acquireTokenSilent({ account, ...request });
  }

  async adopt(serializedCache: string): Promise<void> {
    const tokenCache = this.msal.getTokenCache();
    if (this.cache) await this.cache.load(tokenCache);
    // Additive: msal merges what it deserializes into what it holds.
    tokenCache.deserialize(serializedCache);
    if (this.cache) await this.cache.save(tokenCache);
  }
}
