/**
 * Authorization codes: random, single use, short lived, and bound to the client, redirect URI and
 * PKCE challenge they were issued for. A redeemed code is remembered until it would have expired,
 * so a second attempt is told "already redeemed" rather than "unknown".
 */
import { randomBytes } from 'node:crypto';

import type { RequestedScopes } from './scopes';
import type { StepUp } from './step-up';
import type { IdpUser } from './users';

export interface IssuedCode {
  clientId: string;
  redirectUri: string;
  /** S256 challenge: base64url(sha256(code_verifier)). */
  codeChallenge: string;
  user: IdpUser;
  requested: RequestedScopes;
  nonce?: string;
  /** The authentication contexts the user stepped up to at this sign-in (`claims`). */
  stepUp?: StepUp;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export type CodeRedemption =
  { ok: true; code: IssuedCode } | { ok: false; reason: 'unknown' | 'expired' | 'redeemed' };

export class AuthorizationCodes {
  private readonly live = new Map<string, IssuedCode>();
  private readonly redeemed = new Map<string, number>();

  issue(code: Omit<IssuedCode, 'expiresAt'>, lifetimeSeconds: number): string {
    this.forgetOld();
    const value = randomBytes(32).toString('base64url');
    this.live.set(value, { ...code, expiresAt: Date.now() + lifetimeSeconds * 1000 });
    return value;
  }

  /** Takes the code out whatever happens next: one attempt per code, even a failed one. */
  redeem(value: string): CodeRedemption {
    this.forgetOld();
    if (this.redeemed.has(value)) return { ok: false, reason: 'redeemed' };
    const code = this.live.get(value);
    if (!code) return { ok: false, reason: 'unknown' };
    this.live.delete(value);
    this.redeemed.set(value, code.expiresAt);
    if (code.expiresAt <= Date.now()) return { ok: false, reason: 'expired' };
    return { ok: true, code };
  }

  private forgetOld(): void {
    const now = Date.now();
    for (const [value, expiresAt] of this.redeemed)
      if (expiresAt <= now) this.redeemed.delete(value);
    for (const [value, code] of this.live) {
      // Keep expired codes a moment longer than their lifetime would need: "expired" beats "unknown".
      if (code.expiresAt + 60_000 <= now) this.live.delete(value);
    }
  }
}
