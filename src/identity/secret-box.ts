/**
 * Sealing of secrets kept in the shared store (sign-in sessions, msal token caches): AES-256-GCM
 * with a fresh 12-byte IV per value and a 16-byte authentication tag. What a value is for (its store
 * key, e.g. `session/<tenant>/<oid>`) is bound to it as additional authenticated data, so a value
 * copied under another key, tampered with, or sealed with another key does not open: `open` then
 * answers undefined and logs a warning that names the purpose and never the value.
 *
 * Sealed form: `v1.` + base64url(iv ‖ tag ‖ ciphertext).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { type Logger, silentLogger } from '../log';

const VERSION = 'v1';
const PREFIX = `${VERSION}.`;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Separates this use of the configured key from any other (HKDF info). */
const KEY_INFO = 'elevation-bot/secret-box/v1';

export class SecretBox {
  private readonly key: Buffer;
  private readonly logger: Logger;

  /** `key`: the 32 random bytes of TOKEN_CACHE_KEY. */
  constructor(key: Buffer, logger: Logger = silentLogger) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
    // A derived key, so that the configured one is never used directly for anything.
    this.key = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), KEY_INFO, 32));
    this.logger = logger;
  }

  /** Encrypts `plaintext` for `purpose` (the store key it is written under). */
  seal(plaintext: string, purpose: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(purpose));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return PREFIX + Buffer.concat([iv, tag, ciphertext]).toString('base64url');
  }

  /**
   * The plaintext, or undefined when the value is not one this box sealed for `purpose` (another
   * key, another purpose, tampered, truncated, unknown version). Never throws.
   */
  open(sealed: string, purpose: string): string | undefined {
    const refuse = (reason: string): undefined => {
      this.logger.warn('a sealed value could not be opened; it is treated as absent', {
        purpose,
        reason,
      });
      return undefined;
    };
    if (!sealed.startsWith(PREFIX)) return refuse('unknown format or version');
    const bytes = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
    if (bytes.length < IV_BYTES + TAG_BYTES) return refuse('too short');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(additionalData(purpose));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plaintext = Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]);
      return plaintext.toString('utf8');
    } catch {
      // GCM's tag check failed: another key, another purpose, or altered bytes.
      return refuse('authentication failed (another key, another purpose, or altered)');
    }
  }
}

function additionalData(purpose: string): Buffer {
  return Buffer.from(`${VERSION}\n${purpose}`, 'utf8');
}
