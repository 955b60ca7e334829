/**
 * A local stand-in for Entra ID, on node:http, that real msal-node talks to: discovery, JWKS (with
 * key rotation), the on-behalf-of grant the bot uses to trade a Teams SSO token for a Power Platform
 * token, the refresh-token grant it uses to act for the user later (the end of a time-boxed
 * elevation), and authorization code with PKCE for the consent page. Paths mirror Entra's, so code that
 * builds URLs from an authority host works unchanged; per-user behaviors produce each failure the
 * bot must tell apart.
 */
import { listenLocally } from '../listen';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { JWK } from 'jose';

import { Logger, silentLogger } from '../../log';
import { authorize } from './authorization-code';
import { AuthorizationCodes } from './authorization-codes';
import type { ClientRegistration } from './client-auth';
import { authorityMetadata, openIdConfiguration, type AuthorityMetadata } from './discovery';
import { entraError } from './entra-errors';
import { errorPage, json, preflight, redirect, send, type Answer } from './http-answers';
import type { ProviderState } from './provider-state';
import { RefreshTokens } from './refresh-tokens';
import { SigningKeys } from './signing-keys';
import { mintSsoToken, type MintOptions } from './sso-token';
import { tokenEndpoint, type RecordedTokenRequest } from './token-endpoint';
import { OBO_FAILURES, UserBehaviors, type UserBehavior, type UserGrant } from './user-behavior';
import { UserDirectory, type IdpUser } from './users';
import { DEFAULT_GRANTED_PERMISSIONS } from './well-known-ids';

export interface IdentityProviderOptions {
  /** Interface to bind; loopback only: the provider must never be reachable from outside. */
  host?: '127.0.0.1' | '::1' | 'localhost';
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  /** Apps allowed at the token endpoint (the bot's SSO app with its secret). */
  clients: ClientRegistration[];
  /** Audiences accepted in on-behalf-of assertions; the first is mintSsoToken's default `aud`. */
  ssoAudiences: string[];
  /** Redirect URIs the authorize endpoint accepts, compared exactly. */
  redirectUris?: string[];
  /** Users the authorize endpoint finds by `login_hint` (oid or upn); addUser adds more. */
  users?: IdpUser[];
  /** Who the authorize endpoint signs in when no `login_hint` is given. */
  defaultUser?: IdpUser;
  /** Lifetime of issued access tokens (`expires_in`). */
  accessTokenLifetimeSeconds?: number;
  /** Lifetime of authorization codes. */
  codeLifetimeSeconds?: number;
  /** Lifetime of refresh tokens (90 days, as Entra's inactivity limit). */
  refreshTokenLifetimeSeconds?: number;
  /**
   * 32 bytes that seal refresh tokens: providers given the same key redeem each other's, as
   * instances of one bot all redeem theirs at Entra. Random (this provider's own) without.
   */
  refreshTokenKey?: Buffer;
  /** Previous signing keys still published after rotateKeys(). */
  keptPreviousKeys?: number;
  /** Delegated permissions every user holds on any resource unless setUserGrant says otherwise. */
  grantedPermissions?: string[];
  /** Shape of on-behalf-of answers; change it only to show what msal-node depends on. */
  oboResponse?: {
    /** Send id_token and client_info when msal asks (Entra does; msal builds `account` from them). */
    accountTokens?: boolean;
    /** Put `<resource>/.default` back in `scope` (msal's cache lookup finds the token by it). */
    echoDefaultScope?: boolean;
    /** Send a refresh token when `offline_access` is asked (Entra does). */
    refreshTokens?: boolean;
  };
  /**
   * How long a step-up to an authentication context (`claims` at the authorize endpoint) holds
   * for refreshes asking the same claims: a Conditional Access sign-in frequency (60 minutes).
   */
  stepUpLifetimeSeconds?: number;
  /** The time step-ups are judged by (ms since the epoch); tests move it past the lifetime. */
  now?: () => number;
  /** Where one line per request goes (never a token, secret, code or query string). */
  logger?: Logger;
}

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  redirectUris: [] as string[],
  accessTokenLifetimeSeconds: 3600,
  codeLifetimeSeconds: 300,
  refreshTokenLifetimeSeconds: 90 * 24 * 3600,
  keptPreviousKeys: 2,
  accountTokens: true,
  echoDefaultScope: true,
  refreshTokens: true,
  stepUpLifetimeSeconds: 3600,
} as const;

const LOOPBACK = ['127.0.0.1', '::1', 'localhost'];

export interface IdentityProvider {
  /** The authority host, e.g. http://127.0.0.1:53117; the tenant is the first path segment. */
  url: string;
  /** Endpoints of a tenant, for msal-node's `authorityMetadata` (JSON.stringify it). */
  metadata(tenantId: string): AuthorityMetadata;
  /** The issuer of a tenant's tokens: `${url}/${tenantId}/v2.0`. */
  issuer(tenantId: string): string;
  /** The published keys (the JWKS document), for verifying without HTTP. */
  jwks(): { keys: JWK[] };
  /** kid of the key that signs now. */
  readonly currentKeyId: string;
  /** The SSO token Teams would give the bot for this user; options build bad variants. */
  mintSsoToken(user: IdpUser, options?: MintOptions): Promise<string>;
  /** Makes a user known to the authorize endpoint's `login_hint`. */
  addUser(user: IdpUser): void;
  /** Registers one more redirect URI (an app whose address is known only once it listens). */
  addRedirectUri(uri: string): void;
  /**
   * How on-behalf-of and refresh-token requests for this user are answered (`grant` aims it at
   * one of them); undefined restores success.
   */
  setUserBehavior(oid: string, behavior: UserBehavior | undefined): void;
  /** The permissions (`scp`) and roles (`wids`) of tokens issued for this user; undefined resets. */
  setUserGrant(oid: string, grant: UserGrant | undefined): void;
  /** Signs with a new key from now on and returns its kid; previous keys stay published a while. */
  rotateKeys(): Promise<string>;
  /** Every token endpoint call, oldest first (a live array; `length = 0` clears it). */
  tokenRequests: RecordedTokenRequest[];
  stop(): Promise<void>;
}

/** Entra's paths after the tenant segment. */
const ENDPOINTS = {
  'v2.0/.well-known/openid-configuration': 'configuration',
  'discovery/v2.0/keys': 'keys',
  'oauth2/v2.0/authorize': 'authorize',
  'oauth2/v2.0/token': 'token',
  'oauth2/v2.0/logout': 'logout',
} as const;

type Endpoint = (typeof ENDPOINTS)[keyof typeof ENDPOINTS];

const TENANT_PATH = /^\/([A-Za-z0-9._-]{1,100})\/(.+)$/;

/** Starts the provider; `stop()` closes it and every open connection. */
export async function startIdentityProvider(
  options: IdentityProviderOptions,
): Promise<IdentityProvider> {
  const host = options.host ?? DEFAULTS.host;
  if (!LOOPBACK.includes(host)) {
    throw new Error(`The identity provider listens on loopback only, not "${host}"`);
  }
  if (options.ssoAudiences.length === 0) {
    throw new Error(
      'The identity provider needs at least one SSO audience (the SSO app client id)',
    );
  }
  const logger = (options.logger ?? silentLogger).child({ component: 'identity-provider' });
  const users = new UserDirectory();
  for (const user of options.users ?? []) users.add(user);
  if (options.defaultUser) users.add(options.defaultUser);

  let baseUrl = '';
  const redirectUris = [...(options.redirectUris ?? DEFAULTS.redirectUris)];
  const state: ProviderState = {
    keys: await SigningKeys.create({
      keptPreviousKeys: options.keptPreviousKeys ?? DEFAULTS.keptPreviousKeys,
    }),
    clients: new Map(
      options.clients.map((client) => [client.clientId.toLowerCase(), { ...client }]),
    ),
    ssoAudiences: [...options.ssoAudiences],
    users,
    behaviors: new UserBehaviors(),
    codes: new AuthorizationCodes(),
    refreshTokens: new RefreshTokens(options.refreshTokenKey),
    redirectUris,
    defaultUser: options.defaultUser,
    settings: {
      accessTokenLifetimeSeconds:
        options.accessTokenLifetimeSeconds ?? DEFAULTS.accessTokenLifetimeSeconds,
      codeLifetimeSeconds: options.codeLifetimeSeconds ?? DEFAULTS.codeLifetimeSeconds,
      refreshTokenLifetimeSeconds:
        options.refreshTokenLifetimeSeconds ?? DEFAULTS.refreshTokenLifetimeSeconds,
      oboAccountTokens: options.oboResponse?.accountTokens ?? DEFAULTS.accountTokens,
      echoDefaultScope: options.oboResponse?.echoDefaultScope ?? DEFAULTS.echoDefaultScope,
      oboRefreshTokens: options.oboResponse?.refreshTokens ?? DEFAULTS.refreshTokens,
      defaultGrantedPermissions: options.grantedPermissions ?? DEFAULT_GRANTED_PERMISSIONS,
      stepUpLifetimeSeconds: options.stepUpLifetimeSeconds ?? DEFAULTS.stepUpLifetimeSeconds,
    },
    issuer: (tenantId) => `${baseUrl}/${tenantId}/v2.0`,
    now: options.now ?? Date.now,
  };
  const tokenRequests: RecordedTokenRequest[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error('identity provider failure', { error });
      if (!res.headersSent && !res.destroyed) {
        send(
          res,
          entraError(500, {
            error: 'server_error',
            code: 50000,
            text: 'Internal error in the sandbox identity provider.',
          }),
        );
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = new URL(req.url ?? '/', 'http://identity-provider');
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') return finish(req, res, preflight());
    const [, tenant, rest] = TENANT_PATH.exec(target.pathname) ?? [];
    const endpoint = rest === undefined ? undefined : ENDPOINTS[rest as keyof typeof ENDPOINTS];
    if (tenant === undefined || endpoint === undefined) {
      return finish(
        req,
        res,
        json(404, { error: 'not_found', error_description: 'No such endpoint.' }),
      );
    }
    const wanted = endpoint === 'token' ? 'POST' : 'GET';
    if (method !== wanted) {
      const answer = json(
        405,
        { error: 'invalid_request', error_description: `Use ${wanted}.` },
        { allow: wanted },
      );
      return finish(req, res, answer, endpoint, tenant);
    }
    switch (endpoint) {
      case 'configuration':
        return finish(req, res, json(200, openIdConfiguration(baseUrl, tenant)), endpoint, tenant);
      case 'keys':
        return finish(
          req,
          res,
          json(200, state.keys.jwks(), { 'cache-control': 'max-age=60' }),
          endpoint,
          tenant,
        );
      case 'authorize':
        return finish(req, res, authorize(state, target.searchParams), endpoint, tenant);
      case 'logout':
        return finish(req, res, logout(target.searchParams), endpoint, tenant);
      case 'token': {
        const { answer, record } = await tokenEndpoint(state, req, target, tenant);
        tokenRequests.push(record);
        send(res, answer);
        const { grantType, status, oid, error, errorCode, correlationId } = record;
        logger.info('token request', {
          grantType,
          tenant,
          status,
          oid,
          error,
          errorCode,
          correlationId,
        });
        return;
      }
    }
  }

  function logout(query: URLSearchParams): Answer {
    const next = query.get('post_logout_redirect_uri');
    if (next && state.redirectUris.includes(next)) return redirect(next);
    return errorPage(
      200,
      'Signed out',
      'You have signed out. (Nothing is remembered here, so this changes nothing.)',
    );
  }

  function finish(
    req: IncomingMessage,
    res: ServerResponse,
    answer: Answer,
    endpoint?: Endpoint,
    tenant?: string,
  ): void {
    req.resume(); // these endpoints read no body; drain it so the connection can be reused
    send(res, answer);
    logger.debug('request', {
      method: req.method,
      endpoint: endpoint ?? 'unknown',
      tenant,
      status: answer.status,
    });
  }

  baseUrl = await listenLocally(server, host, options.port ?? DEFAULTS.port);
  logger.info('identity provider started', { url: baseUrl });

  return {
    url: baseUrl,
    metadata: (tenantId) => authorityMetadata(baseUrl, tenantId),
    issuer: (tenantId) => state.issuer(tenantId),
    jwks: () => state.keys.jwks(),
    get currentKeyId() {
      return state.keys.current.kid;
    },
    mintSsoToken: (user, mintOptions) =>
      mintSsoToken(
        { keys: state.keys, issuer: state.issuer, audience: state.ssoAudiences[0] ?? '' },
        user,
        mintOptions,
      ),
    addUser: (user) => users.add(user),
    addRedirectUri: (uri) => {
      if (!redirectUris.includes(uri)) redirectUris.push(uri);
    },
    setUserBehavior: (oid, behavior) => {
      const kind = typeof behavior === 'string' ? behavior : behavior?.kind;
      if (kind !== undefined && !OBO_FAILURES.includes(kind)) {
        throw new Error(`Unknown identity provider behavior "${kind}"`);
      }
      state.behaviors.set(oid, behavior);
    },
    setUserGrant: (oid, grant) => state.behaviors.setGrant(oid, grant),
    rotateKeys: async () => {
      const kid = await state.keys.rotate();
      logger.info('signing key rotated', { kid });
      return kid;
    },
    tokenRequests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
