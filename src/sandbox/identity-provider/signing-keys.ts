/**
 * The provider's RS256 signing keys. The newest signs; a few previous ones stay in the JWKS after a
 * rotation so tokens signed just before it still verify, as Entra does when it rolls its keys.
 * Also signs the deliberately bad variants (foreign key, `alg: none`, HS256) validator tests need.
 */
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type JWK,
  type JWTPayload,
  type KeyLike,
} from 'jose';

/** How a token is signed. All but `current-key` produce tokens a correct validator refuses. */
export type SigningVariant =
  /** RS256 with the provider's current key (a good token). */
  | 'current-key'
  /** RS256 with a key the JWKS does not list, under a kid it does not list either. */
  | 'foreign-key'
  /** RS256 with a foreign key but the current key's kid (catches validators that trust the kid). */
  | 'foreign-key-known-kid'
  /** Unsigned, `alg: none`. */
  | 'none'
  /** HS256; by default keyed with the current public key's PEM (the key-confusion attack). */
  | 'hs256';

export interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  /** The public half as published in the JWKS. */
  publicJwk: JWK;
  /** The public half as SPKI PEM (what a confused validator would use as an HMAC secret). */
  publicPem: string;
}

export interface SigningKeysOptions {
  /** Previous keys still published after a rotation. */
  keptPreviousKeys?: number;
}

const DEFAULTS = { keptPreviousKeys: 2 } as const;

export class SigningKeys {
  /** Newest first; the first one signs. */
  private keys: SigningKey[] = [];
  private foreign: SigningKey | undefined;
  private readonly kept: number;

  private constructor(options: SigningKeysOptions) {
    this.kept = Math.max(0, options.keptPreviousKeys ?? DEFAULTS.keptPreviousKeys);
  }

  static async create(options: SigningKeysOptions = {}): Promise<SigningKeys> {
    const keys = new SigningKeys(options);
    await keys.rotate();
    return keys;
  }

  get current(): SigningKey {
    const key = this.keys[0];
    if (!key) throw new Error('The identity provider has no signing key yet');
    return key;
  }

  /** Adds a new signing key and returns its kid; keys beyond `keptPreviousKeys` leave the JWKS. */
  async rotate(): Promise<string> {
    const key = await newKey();
    this.keys = [key, ...this.keys].slice(0, this.kept + 1);
    return key.kid;
  }

  /** The JWKS document served at `/{tenant}/discovery/v2.0/keys`. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((key) => key.publicJwk) };
  }

  /** A key lookup for `jwtVerify` over the keys published right now. */
  verificationKeys(): ReturnType<typeof createLocalJWKSet> {
    return createLocalJWKSet(this.jwks());
  }

  async sign(
    payload: JWTPayload,
    variant: SigningVariant = 'current-key',
    hs256Secret?: string,
  ): Promise<string> {
    switch (variant) {
      case 'current-key':
        return signRs256(payload, this.current.privateKey, this.current.kid);
      case 'foreign-key': {
        const foreign = await this.foreignKey();
        return signRs256(payload, foreign.privateKey, foreign.kid);
      }
      case 'foreign-key-known-kid':
        return signRs256(payload, (await this.foreignKey()).privateKey, this.current.kid);
      case 'none': {
        const header = { alg: 'none', typ: 'JWT', kid: this.current.kid };
        return `${encodePart(header)}.${encodePart(payload)}.`;
      }
      case 'hs256': {
        const secret = new TextEncoder().encode(hs256Secret ?? this.current.publicPem);
        return new SignJWT(payload)
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: this.current.kid })
          .sign(secret);
      }
    }
  }

  /** One key per provider that it never publishes, made on first use (RSA generation is slow). */
  private async foreignKey(): Promise<SigningKey> {
    this.foreign ??= await newKey();
    return this.foreign;
  }
}

async function newKey(): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', {
    modulusLength: 2048,
    extractable: true,
  });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return {
    kid,
    privateKey,
    publicJwk: { kty: jwk.kty, use: 'sig', alg: 'RS256', kid, n: jwk.n, e: jwk.e },
    publicPem: await exportSPKI(publicKey),
  };
}

function signRs256(payload: JWTPayload, key: KeyLike, kid: string): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(key);
}

function encodePart(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
