/**
 * Refresh tokens, as Entra hands them to a confidential client that asks `offline_access`: opaque
 * to the client, and for this provider a sealed record of whose they are (user, client) and until
 * when, so that it keeps nothing per token: providers given the same key redeem each other's
 * tokens, as every instance of a bot redeems its tokens at the one Entra (the sandbox derives the
 * key from TOKEN_CACHE_KEY, shared by instances that share sign-ins). As with Entra's refresh
 * tokens for web apps (not SPAs), redeeming one does not end it: it stays valid until it expires,
 * beside the rotated one the answer carries, so two callers redeeming the same token at once both
 * succeed.
 */
import { randomBytes } from 'node:crypto';

import { SecretBox } from '../../identity/secret-box';
import type { StepUp } from './step-up';
import type { IdpUser } from './users';

export interface IssuedRefreshToken {
  clientId: string;
  /** The user as the grant that issued the first token of the chain saw them. */
  user: IdpUser;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** The interactive step-up the chain started from, carried by every rotated token. */
  stepUp?: StepUp;
}

export type RefreshTokenRedemption =
  { ok: true; token: IssuedRefreshToken } | { ok: false; reason: 'unknown' | 'expired' };

const PREFIX = 'rt.';
/** What the sealed value is for (the box binds it), apart from anything else sealed with the key. */
const PURPOSE = 'sandbox-identity-provider/refresh-token';

export class RefreshTokens {
  private readonly box: SecretBox;

  /** `key`: 32 bytes shared by the providers that redeem each other's tokens; random without. */
  constructor(key: Buffer = randomBytes(32)) {
    this.box = new SecretBox(key);
  }

  issue(token: Omit<IssuedRefreshToken, 'expiresAt'>, lifetimeSeconds: number): string {
    const issued: IssuedRefreshToken = { ...token, expiresAt: Date.now() + lifetimeSeconds * 1000 };
    return PREFIX + this.box.seal(JSON.stringify(issued), PURPOSE);
  }

  /** The token's grant; it stays redeemable (confidential clients' refresh tokens are not one-time). */
  redeem(value: string): RefreshTokenRedemption {
    const json = value.startsWith(PREFIX)
      ? this.box.open(value.slice(PREFIX.length), PURPOSE)
      : undefined;
    const token = json === undefined ? undefined : parseIssued(json);
    if (!token) return { ok: false, reason: 'unknown' };
    if (token.expiresAt <= Date.now()) return { ok: false, reason: 'expired' };
    return { ok: true, token };
  }
}

function parseIssued(json: string): IssuedRefreshToken | undefined {
  try {
    const value = JSON.parse(json) as Partial<IssuedRefreshToken> | null;
    if (
      typeof value?.clientId === 'string' &&
      typeof value.expiresAt === 'number' &&
      typeof value.user?.oid === 'string'
    ) {
      return value as IssuedRefreshToken;
    }
  } catch {
    // Not JSON: an unknown token.
  }
  return undefined;
}
