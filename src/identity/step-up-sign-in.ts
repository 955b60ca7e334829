/**
 * Step-up MFA, the sign-in: a single-use link per request (StepUpLinks) takes the requester
 * through Entra's authorize endpoint with the claims challenge (authorization code with PKCE,
 * msal-node's getAuthCodeUrl), and the callback redeems the code (acquireTokenByCode) in a fresh
 * client. Only when the signed-in user is the requester (oid and tid) and the token satisfies the
 * authentication context do the tokens join the requester's own msal cache, where
 * `powerPlatformToken` finds them; then the request carries on (`onSteppedUp`).
 *
 * Tickets and sign-in flows live in the store's secrets (shared by instances), under the SHA-256
 * of their random values; the ticket's single use is the store's once-key (claimOnce).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  type AuthenticationResult,
  type AuthorizationCodeRequest,
  type AuthorizationUrlRequest,
  CryptoProvider,
} from '@azure/msal-node';
import type {
  AuditEvent,
  Clock,
  ElevationStore,
  SecretStore,
  StepUpLinks,
} from '../elevation/ports';
import type { ElevationRequest } from '../elevation/request';
import { redactText, type Logger } from '../log';
import type { UserKey } from './shared-secrets';
import { satisfiesContext } from './step-up-tokens';

/** The msal-node calls of the code flow; a ConfidentialClientApplication has them. */
export interface CodeFlowClient {
  getAuthCodeUrl(request: AuthorizationUrlRequest): Promise<string>;
  acquireTokenByCode(request: AuthorizationCodeRequest): Promise<AuthenticationResult | null>;
  getTokenCache(): { serialize(): string };
}

/** Where step-up sign-ins get their clients and leave their tokens (sign-in.ts). */
export interface StepUpTokenSource {
  /** A new msal client with an empty cache of its own: one per sign-in. */
  newClient(): CodeFlowClient;
  /** Brings a sign-in's tokens into the user's own msal cache. */
  adopt(user: UserKey, serializedCache: string): Promise<void>;
  /** The scope the stepped-up token is for (the Power Platform API's `.default`). */
  scope: string;
}

export interface StepUpSignInOptions {
  store: Pick<ElevationStore, 'claimOnce' | 'appendAudit'> & SecretStore;
  tokens: StepUpTokenSource;
  /** The bot's public base URL (https://<BOT_DOMAIN>, or where it listens). */
  baseUrl: () => string;
  clock: Clock;
  logger: Logger;
  /** Told once a requester is back, stepped up: the request carries on. */
  onSteppedUp?: (requestId: string) => void;
  /** How long a link stays usable (10 minutes). */
  ticketMinutes?: number;
}

/** What a ticket stands for. */
interface Ticket {
  requestId: string;
  environmentId: string;
  oid: string;
  tid: string;
  upn?: string;
  context: string;
  claims: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** One sign-in under way: its ticket and PKCE verifier, found by the `state` sent to Entra. */
interface Flow {
  ticket: string;
  verifier: string;
}

/** What a route answers: a redirect, or a page with a title and a sentence. */
export type StepUpAnswer =
  | { kind: 'redirect'; location: string }
  | { kind: 'page'; status: number; title: string; message: string };

export const STEP_UP_PATH = '/step-up';
export const STEP_UP_CALLBACK_PATH = '/step-up/callback';

const DEFAULT_TICKET_MINUTES = 10;
/** A ticket is kept this long past its end, so that a late click is told "expired". */
const KEEP_EXPIRED_MS = 60 * 60_000;

const PAGES = {
  unknown: page(
    404,
    'Link not valid',
    'This sign-in link is unknown or was already used. Press Elevate again in Teams for a new one.',
  ),
  expired: page(
    410,
    'Link expired',
    'This sign-in link has expired. Press Elevate again in Teams for a new one.',
  ),
  anotherUser: page(
    403,
    'Signed in as someone else',
    'You signed in as another person than the one who asked for this elevation, so it was refused. Nothing was elevated.',
  ),
  noContext: page(
    403,
    'Sign-in not strong enough',
    'The sign-in did not satisfy the authentication context this elevation needs, so it was refused. Nothing was elevated.',
  ),
  done: page(
    200,
    'Verified',
    'Your sign-in is verified. The elevation carries on by itself in Teams; you can close this window.',
  ),
};

export class StepUpSignIn implements StepUpLinks {
  constructor(private readonly options: StepUpSignInOptions) {}

  get linkMinutes(): number {
    return this.options.ticketMinutes ?? DEFAULT_TICKET_MINUTES;
  }

  async signInUrl(
    request: ElevationRequest,
    authenticationContext: string,
    claims: string,
  ): Promise<string> {
    const ticket = randomBytes(32).toString('base64url');
    const expiresAt = this.options.clock.now().getTime() + this.linkMinutes * 60_000;
    const value: Ticket = {
      requestId: request.id,
      environmentId: request.environment.id,
      oid: request.requester.aadObjectId,
      tid: request.requester.tenantId,
      upn: request.requester.upn,
      context: authenticationContext,
      claims,
      expiresAt,
    };
    await this.options.store.writeSecret(
      ticketKey(ticket),
      JSON.stringify(value),
      new Date(expiresAt + KEEP_EXPIRED_MS),
    );
    return `${this.callbackBase()}${STEP_UP_PATH}?ticket=${encodeURIComponent(ticket)}`;
  }

  /** GET /step-up?ticket=: off to the authorize endpoint with the claims, or why not. */
  async start(ticket: string | undefined): Promise<StepUpAnswer> {
    // An unknown ticket is not audited here: anyone can open this address, it changes nothing.
    const found = ticket ? await this.readTicket(ticket) : undefined;
    if (!found || !ticket) return PAGES.unknown;
    const refused = await this.refusedTicket(found);
    if (refused) return refused;
    const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
    const state = randomBytes(24).toString('base64url');
    const flow: Flow = { ticket, verifier };
    await this.options.store.writeSecret(
      flowKey(state),
      JSON.stringify(flow),
      new Date(found.expiresAt + KEEP_EXPIRED_MS),
    );
    const location = await this.options.tokens.newClient().getAuthCodeUrl({
      scopes: [this.options.tokens.scope],
      redirectUri: this.redirectUri(),
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      state,
      claims: found.claims,
      ...(found.upn && { loginHint: found.upn }),
    });
    return { kind: 'redirect', location };
  }

  /** GET /step-up/callback: the code redeemed, checked, and the request carried on. */
  async callback(query: URLSearchParams): Promise<StepUpAnswer> {
    const state = query.get('state') ?? '';
    const flow = state ? await this.read<Flow>(flowKey(state)) : undefined;
    const found = flow ? await this.readTicket(flow.ticket) : undefined;
    const refusedTicket = await this.refusedTicket(found);
    if (refusedTicket || !found || !flow) return refusedTicket ?? PAGES.unknown;

    const error = query.get('error');
    const code = query.get('code');
    if (error || !code) {
      await this.refuse(found, 'step-up-sign-in-failed', undefined, { error: error ?? 'no code' });
      return page(
        400,
        'Sign-in not completed',
        `The sign-in did not complete (${redactText(query.get('error_description') ?? error ?? 'no code').slice(0, 200)}). Press Elevate again in Teams to retry.`,
      );
    }
    const client = this.options.tokens.newClient();
    let result: AuthenticationResult | null;
    try {
      result = await client.acquireTokenByCode({
        code,
        scopes: [this.options.tokens.scope],
        redirectUri: this.redirectUri(),
        codeVerifier: flow.verifier,
        claims: found.claims,
      });
    } catch (failure) {
      this.options.logger.warn('step-up code redemption failed', {
        requestId: found.requestId,
        error: failure instanceof Error ? failure.name : typeof failure,
      });
      result = null;
    }
    if (!result?.accessToken) {
      await this.refuse(found, 'step-up-code-refused');
      return page(
        400,
        'Sign-in not completed',
        'The identity provider did not accept this sign-in. Press Elevate again in Teams to retry.',
      );
    }
    const signedIn = { oid: result.account?.localAccountId, tid: result.account?.tenantId };
    if (!sameId(signedIn.oid, found.oid) || !sameId(signedIn.tid, found.tid)) {
      await this.refuse(found, 'step-up-another-user', signedIn.oid, {
        signedInTenant: signedIn.tid,
      });
      return PAGES.anotherUser;
    }
    if (!satisfiesContext(result.accessToken, found.context)) {
      await this.refuse(found, 'step-up-context-missing', signedIn.oid);
      return PAGES.noContext;
    }
    const expiresAt = new Date(found.expiresAt + KEEP_EXPIRED_MS);
    if (!(await this.options.store.claimOnce(usedKey(flow.ticket), expiresAt))) {
      await this.refuse(found, 'step-up-ticket-used', signedIn.oid);
      return PAGES.unknown;
    }
    await Promise.all([
      this.options.store.deleteSecret(ticketKey(flow.ticket)),
      this.options.store.deleteSecret(flowKey(state)),
    ]);
    await this.options.tokens.adopt(
      { aadObjectId: found.oid, tenantId: found.tid },
      client.getTokenCache().serialize(),
    );
    await this.options.store.appendAudit(
      this.event('stepped-up', found, found.oid, { context: found.context }),
    );
    this.options.logger.info('stepped up', { requestId: found.requestId, context: found.context });
    this.options.onSteppedUp?.(found.requestId);
    return PAGES.done;
  }

  /** Why a ticket cannot be used (audited), or undefined when it can. */
  private async refusedTicket(ticket: Ticket | undefined): Promise<StepUpAnswer | undefined> {
    if (!ticket) {
      await this.options.store.appendAudit({
        type: 'refused',
        at: this.options.clock.now(),
        details: { reason: 'step-up-ticket-unknown' },
      });
      return PAGES.unknown;
    }
    if (ticket.expiresAt <= this.options.clock.now().getTime()) {
      await this.refuse(ticket, 'step-up-ticket-expired');
      return PAGES.expired;
    }
    return undefined;
  }

  private async refuse(
    ticket: Ticket,
    reason: string,
    actor?: string,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    this.options.logger.warn('step-up refused', { requestId: ticket.requestId, reason });
    await this.options.store.appendAudit(
      this.event('refused', ticket, actor ?? ticket.oid, { reason, ...details }),
    );
  }

  private event(
    type: 'refused' | 'stepped-up',
    ticket: Ticket,
    actor: string,
    details: Record<string, unknown>,
  ): AuditEvent {
    return {
      type,
      at: this.options.clock.now(),
      requestId: ticket.requestId,
      actor,
      tenantId: ticket.tid,
      environmentId: ticket.environmentId,
      details,
    };
  }

  private readTicket(ticket: string): Promise<Ticket | undefined> {
    return this.read<Ticket>(ticketKey(ticket));
  }

  private async read<T>(key: string): Promise<T | undefined> {
    const value = await this.options.store.readSecret(key, this.options.clock.now());
    if (value === undefined) return undefined;
    try {
      return JSON.parse(value) as T;
    } catch {
      return undefined;
    }
  }

  private callbackBase(): string {
    return this.options.baseUrl().replace(/\/+$/, '');
  }

  private redirectUri(): string {
    return `${this.callbackBase()}${STEP_UP_CALLBACK_PATH}`;
  }
}

function page(status: number, title: string, message: string): StepUpAnswer {
  return { kind: 'page', status, title, message };
}

function sameId(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function ticketKey(ticket: string): string {
  return `step-up/ticket/${digest(ticket)}`;
}

function usedKey(ticket: string): string {
  return `step-up/used/${digest(ticket)}`;
}

function flowKey(state: string): string {
  return `step-up/flow/${digest(state)}`;
}
