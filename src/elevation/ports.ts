/**
 * What the use cases need from the outside world. index.ts wires real implementations; tests wire
 * real local ones (sandbox servers, a SQLite file), not mocks.
 */
import type { AdminRoleOutcome, EnvironmentList } from '../powerplatform/model';
import type { ElevationRequest, Requester, RequestState } from './request';

export interface PowerPlatform {
  listEnvironments(token: string): Promise<EnvironmentList>;
  applyAdminRole(
    token: string,
    environmentId: string,
    clientRequestId?: string,
  ): Promise<AdminRoleOutcome>;
}

/** Why the bot holds no usable token for the user; each is told to the user differently. */
export type TokenRefusal =
  /** The user must sign in (or consent) first; the bot asks Teams for the token. */
  | 'sign-in-required'
  /** The token lacks the delegated UserManagement.Users.Apply permission (admin consent missing). */
  | 'permission-missing'
  /** The sign-in shows none of the tenant admin roles that self-elevation needs. */
  | 'not-tenant-admin'
  /** Anything else: misconfiguration, identity provider down. Never a consent prompt. */
  | 'error';

export type TokenResult =
  { ok: true; token: string } | { ok: false; reason: TokenRefusal; message: string };

/** Delegated tokens for the Power Platform API, always of the user who asks. */
export interface UserTokens {
  powerPlatformToken(user: Requester): Promise<TokenResult>;
  /** A delegated token of the user for another resource (e.g. an environment's Dataverse URL). */
  resourceToken?(user: Requester, resource: string): Promise<TokenResult>;
}

/** Whether a user holds System Administrator in an environment's Dataverse. */
export interface RoleLookup {
  holdsSystemAdministrator(
    token: string,
    instanceUrl: string,
  ): Promise<{ ok: true; holdsSystemAdministrator: boolean } | { ok: false; message: string }>;
}

/** What a Teams SSO token exchange came to. */
export type SignInResult =
  | { ok: true }
  /** Entra needs the user to consent or to interact (MFA, Conditional Access): Teams asks them. */
  | { ok: false; reason: 'consent-required' | 'interaction-required'; message: string }
  /** Anything else is told to the user as it is; asking for consent would loop forever. */
  | { ok: false; reason: 'invalid-token' | 'error'; message: string };

/** Turns a Teams SSO token into delegated tokens for that user (validation, then on-behalf-of). */
export interface SignIn {
  signIn(ssoToken: string, user: Requester): Promise<SignInResult>;
}

export interface Transition {
  from: readonly RequestState[];
  to: RequestState;
  at: Date;
  /** When set, the transition only happens if the request has not expired at this time. */
  unexpiredAt?: Date;
  /** Fields written together with the new state. */
  set?: Partial<
    Pick<
      ElevationRequest,
      'justification' | 'clientRequestId' | 'outcome' | 'cardMessageId' | 'roleCheck'
    >
  >;
}

export type AuditEventType =
  'requested' | 'confirmed' | 'cancelled' | 'expired' | 'executed' | 'refused';

export interface AuditEvent {
  type: AuditEventType;
  at: Date;
  requestId?: string;
  /** Entra object id of whoever caused the event. */
  actor?: string;
  tenantId?: string;
  environmentId?: string;
  details?: Record<string, unknown>;
}

export interface ElevationStore {
  /**
   * Records `key` unless it is already recorded and unexpired; true for the one caller that
   * recorded it. Atomic: concurrent callers (several instances included) get one true.
   */
  claimOnce(key: string, expiresAt: Date): Promise<boolean>;
  createRequest(request: ElevationRequest): Promise<void>;
  findRequest(id: string): Promise<ElevationRequest | undefined>;
  /** Moves a request to a new state if, and only if, it is in one of `from`; atomic. */
  transition(id: string, change: Transition): Promise<ElevationRequest | undefined>;
  /** Records where the confirmation card was posted (no state change). */
  setCardMessage(id: string, conversation: unknown, cardMessageId: string): Promise<void>;
  /** Requests still waiting for confirmation whose time is up. */
  findExpired(now: Date, limit: number): Promise<ElevationRequest[]>;
  appendAudit(event: AuditEvent): Promise<void>;
  close(): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
