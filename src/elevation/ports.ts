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

export type TokenResult =
  | { ok: true; token: string }
  /** The user must sign in (or consent) before the bot can act for them. */
  | { ok: false; reason: 'sign-in-required'; message: string }
  /** Anything else: misconfiguration, identity provider down. Never a consent prompt. */
  | { ok: false; reason: 'error'; message: string };

/** Delegated tokens for the Power Platform API, always of the user who asks. */
export interface UserTokens {
  powerPlatformToken(user: Requester): Promise<TokenResult>;
}

export interface Transition {
  from: readonly RequestState[];
  to: RequestState;
  at: Date;
  /** When set, the transition only happens if the request has not expired at this time. */
  unexpiredAt?: Date;
  /** Fields written together with the new state. */
  set?: Partial<
    Pick<ElevationRequest, 'justification' | 'clientRequestId' | 'outcome' | 'cardMessageId'>
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
