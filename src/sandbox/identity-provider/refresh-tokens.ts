/**
 * Refresh tokens, as Entra hands them to a confidential client that asks `offline_access`: opaque
 * random strings remembered here with whose they are (user, client) and until when. As with
 * Entra's refresh tokens for web apps (not SPAs), redeeming one does not end it: it stays valid
 * until it expires, beside the rotated one the answer carries, so two callers redeeming the same
 * token at once both succeed.
 */
import { randomBytes } from 'node:crypto';

import type { IdpUser } from './users';

export interface IssuedRefreshToken {
  clientId: string;
  /** The user as the grant that issued the first token of the chain saw them. */
  user: IdpUser;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export type RefreshTokenRedemption =
  { ok: true; token: IssuedRefreshToken } | { ok: false; reason: 'unknown' | 'expired' };

export class RefreshTokens {
  private readonly live = new Map<string, IssuedRefreshToken>();

  issue(token: Omit<IssuedRefreshToken, 'expiresAt'>, lifetimeSeconds: number): string {
    this.forgetOld();
    const value = `rt.${randomBytes(48).toString('base64url')}`;
    this.live.set(value, { ...token, expiresAt: Date.now() + lifetimeSeconds * 1000 });
    return value;
  }

  /** The token's grant; it stays redeemable (confidential clients' refresh tokens are not one-time). */
  redeem(value: string): RefreshTokenRedemption {
    const token = this.live.get(value);
    if (!token) return { ok: false, reason: 'unknown' };
    if (token.expiresAt <= Date.now()) return { ok: false, reason: 'expired' };
    return { ok: true, token };
  }

  private forgetOld(): void {
    const now = Date.now();
    // Kept a day past expiry, so that a late redemption is told "expired" rather than "unknown".
    for (const [value, token] of this.live)
      if (token.expiresAt + 24 * 3600_000 <= now) this.live.delete(value);
  }
}
