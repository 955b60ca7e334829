/**
 * Sign-in in the sandbox: the Agents Playground cannot do Teams SSO, so when the bot needs a
 * token the local identity provider mints the SSO token Teams would have sent for that user.
 * Everything after that (validation, on-behalf-of with msal-node, pre-flight checks, the refresh
 * token kept to remove a role later) is the production code, talking to the local provider over
 * HTTP.
 */
import { hkdfSync } from 'node:crypto';
import type {
  Clock,
  LaterTokenResult,
  LaterTokens,
  SecretStore,
  SignIn,
  SignInResult,
  StepUpRequired,
  TokenRequirements,
  TokenResult,
  UserTokens,
} from '../elevation/ports';
import type { Requester } from '../elevation/request';
import type { DelegatedTokens } from '../identity/delegated-tokens';
import {
  createDelegatedTokens,
  createLaterTokens,
  createStepUpTokens,
  type SignInOptions,
} from '../identity/sign-in';
import type { StepUpTokenSource } from '../identity/step-up-sign-in';
import type { Logger } from '../log';
import { SANDBOX_APP_ID, SANDBOX_TENANT_ID, SANDBOX_USERS } from './directory';
import { type IdentityProvider, type IdpUser, startIdentityProvider } from './identity-provider';

export class SandboxSignIn implements UserTokens, SignIn {
  constructor(
    private readonly delegated: DelegatedTokens,
    private readonly identityProvider: IdentityProvider,
    private readonly directory: (oid: string) => IdpUser | undefined,
  ) {}

  signIn(ssoToken: string, user: Requester): Promise<SignInResult> {
    return this.delegated.signIn(ssoToken, user);
  }

  settled(): Promise<void> {
    return this.delegated.settled();
  }

  async resourceToken(user: Requester, resource: string): Promise<TokenResult> {
    // Signs the user in silently first if needed, as for the Power Platform token.
    const signedIn = await this.powerPlatformToken(user);
    if (!signedIn.ok) return signedIn;
    return this.delegated.resourceToken(user, resource);
  }

  powerPlatformToken(user: Requester): Promise<TokenResult>;
  powerPlatformToken(
    user: Requester,
    requirements: TokenRequirements,
  ): Promise<TokenResult | StepUpRequired>;
  async powerPlatformToken(
    user: Requester,
    requirements: TokenRequirements = {},
  ): Promise<TokenResult | StepUpRequired> {
    const first = await this.delegated.powerPlatformToken(user, requirements);
    if (first.ok || first.reason !== 'sign-in-required') return first;
    const signedIn = await this.signInSilently(user);
    if (!signedIn.ok) return { ok: false, reason: 'error', message: signedIn.message };
    return this.delegated.powerPlatformToken(user, requirements);
  }

  /** Signs the user in silently unless they have a live sign-in. */
  async ensureSignedIn(user: Requester): Promise<SignInResult> {
    if (await this.delegated.assertionOf(user)) return { ok: true };
    return this.signInSilently(user);
  }

  /** What Teams does silently: hand the bot the user's SSO token. */
  private async signInSilently(user: Requester): Promise<SignInResult> {
    const known = this.directory(user.aadObjectId.toLowerCase());
    const person = known ?? { oid: user.aadObjectId, tid: user.tenantId, name: user.name };
    // Whoever Teams signs in exists in the directory: a step-up sign-in finds them by name.
    if (!known) this.identityProvider.addUser(person);
    const ssoToken = await this.identityProvider.mintSsoToken(person);
    return this.delegated.signIn(ssoToken, user);
  }
}

/** The production LaterTokens, keeping from a sign-in made silently first when there is none. */
export class SandboxLaterTokens implements LaterTokens {
  constructor(
    private readonly later: LaterTokens,
    private readonly signIn: SandboxSignIn,
  ) {}

  async keep(user: Requester, until: Date): Promise<{ ok: true } | { ok: false; message: string }> {
    const signedIn = await this.signIn.ensureSignedIn(user);
    if (!signedIn.ok) return { ok: false, message: signedIn.message };
    return this.later.keep(user, until);
  }

  tokenFor(user: Requester, resource: string): Promise<LaterTokenResult> {
    return this.later.tokenFor(user, resource);
  }

  forget(user: Requester): Promise<void> {
    return this.later.forget(user);
  }
}

export interface SandboxIdentityOptions {
  /** Base URL of the Power Platform API the tokens are for. */
  powerPlatformApiUrl: string;
  allowedTenantIds: string[];
  logger: Logger;
  /** Time source of sign-in sessions (tests move it forward). */
  clock?: Clock;
  /** The bot's store; with `tokenCacheKey`, sign-ins are shared through it as in production. */
  store?: SecretStore;
  /** TOKEN_CACHE_KEY; without it, sign-ins stay in memory. */
  tokenCacheKey?: Buffer;
  /**
   * Another instance's identity: this one trusts the same identity provider (as every instance
   * trusts Entra) instead of starting its own, and leaves stopping it to that instance.
   */
  shareProviderWith?: SandboxIdentity;
}

export interface SandboxIdentity {
  identityProvider: IdentityProvider;
  /** The sign-in app's secret at the identity provider. */
  clientSecret: string;
  /** Both the token source and the SSO sign-in of the bot, signing in silently when needed. */
  signIn: SandboxSignIn;
  /** The production sign-in alone: without a Teams token exchange it has no token. */
  delegated: DelegatedTokens;
  /** What removes a role at the end of an elevation as the user (signing in silently to keep). */
  laterTokens: SandboxLaterTokens;
  /**
   * Step-up MFA sign-ins, redeemed into the users' token caches; the bot's callback must be
   * registered at the provider once its address is known (addRedirectUri).
   */
  stepUp: StepUpTokenSource;
  stop(): Promise<void>;
}

/** The local identity provider and the production sign-in code pointed at it. */
export async function startSandboxIdentity(
  options: SandboxIdentityOptions,
): Promise<SandboxIdentity> {
  const shared = options.shareProviderWith;
  const clientSecret = shared?.clientSecret ?? `sandbox-${Math.random().toString(36).slice(2)}`;
  const users: IdpUser[] = SANDBOX_USERS.map((u) => ({
    oid: u.oid,
    tid: SANDBOX_TENANT_ID,
    name: u.name,
    upn: u.upn,
    wids: u.wids,
  }));
  const identityProvider =
    shared?.identityProvider ??
    (await startIdentityProvider({
      clients: [{ clientId: SANDBOX_APP_ID, clientSecret }],
      ssoAudiences: [SANDBOX_APP_ID, `api://botid-${SANDBOX_APP_ID}`],
      users,
      logger: options.logger.child({ component: 'identity-provider' }),
      refreshTokenKey: options.tokenCacheKey && refreshTokenKeyOf(options.tokenCacheKey),
    }));
  const signInOptions: SignInOptions = {
    clientId: SANDBOX_APP_ID,
    credential: { secret: clientSecret },
    tenantId: SANDBOX_TENANT_ID,
    authorityHost: identityProvider.url,
    authorityMetadata: { ...identityProvider.metadata(SANDBOX_TENANT_ID) },
    audiences: [SANDBOX_APP_ID, `api://botid-${SANDBOX_APP_ID}`],
    allowedTenantIds: options.allowedTenantIds,
    powerPlatformApiUrl: options.powerPlatformApiUrl,
    logger: options.logger,
    clock: options.clock,
    store: options.store,
    tokenCacheKey: options.tokenCacheKey,
  };
  const delegated = createDelegatedTokens(signInOptions);
  const byOid = new Map(users.map((u) => [u.oid.toLowerCase(), u]));
  const signIn = new SandboxSignIn(delegated, identityProvider, (oid) => byOid.get(oid));
  return {
    identityProvider,
    clientSecret,
    signIn,
    delegated,
    laterTokens: new SandboxLaterTokens(createLaterTokens(signInOptions, delegated), signIn),
    stepUp: createStepUpTokens(signInOptions, delegated),
    stop: () => (shared ? Promise.resolve() : identityProvider.stop()),
  };
}

/**
 * Instances that share TOKEN_CACHE_KEY share sign-ins through the store, the refresh tokens kept
 * for later among them; each sandbox instance runs its own identity provider, so they seal refresh
 * tokens with a key derived from it and redeem each other's, as instances of one bot do at Entra.
 */
function refreshTokenKeyOf(tokenCacheKey: Buffer): Buffer {
  return Buffer.from(
    hkdfSync(
      'sha256',
      tokenCacheKey,
      Buffer.alloc(0),
      'elevation-bot/sandbox-refresh-tokens/v1',
      32,
    ),
  );
}
