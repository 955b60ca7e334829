/**
 * Sealed secrets (token caches, sign-in sessions; opaque here) and once-keys in the SQLite file:
 * both expire, and a once-key is recorded by exactly one caller, whichever process it runs in.
 */
import type Database from 'better-sqlite3';

export class SqliteSecrets {
  private readonly statements;

  constructor(db: Database.Database) {
    this.statements = {
      // Inserts the key, or takes over an expired one; changes === 1 only for the one winner.
      claimOnce: db.prepare<[string, number, number]>(
        `INSERT INTO once_keys (key, expires_at) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE once_keys.expires_at <= ?`,
      ),
      forgetExpiredKeys: db.prepare<[number]>('DELETE FROM once_keys WHERE expires_at <= ?'),
      readSecret: db.prepare<[string, number], { value: string }>(
        'SELECT value FROM secrets WHERE key = ? AND expires_at > ?',
      ),
      writeSecret: db.prepare<[string, string, number]>(
        `INSERT INTO secrets (key, value, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      ),
      deleteSecret: db.prepare<[string]>('DELETE FROM secrets WHERE key = ?'),
      purgeSecrets: db.prepare<[number]>('DELETE FROM secrets WHERE expires_at <= ?'),
    };
  }

  claimOnce(key: string, expiresAt: Date): boolean {
    const now = Date.now();
    const claimed = this.statements.claimOnce.run(key, expiresAt.getTime(), now).changes === 1;
    // Expired keys are cleaned up as new ones arrive; a little now and then is enough.
    if (claimed && Math.random() < 0.01) this.statements.forgetExpiredKeys.run(now);
    return claimed;
  }

  readSecret(key: string, now: Date): string | undefined {
    return this.statements.readSecret.get(key, now.getTime())?.value;
  }

  writeSecret(key: string, value: string, expiresAt: Date): void {
    this.statements.writeSecret.run(key, value, expiresAt.getTime());
  }

  deleteSecret(key: string): void {
    this.statements.deleteSecret.run(key);
  }

  /** Removes expired once-keys and secrets; inside the caller's transaction. */
  purge(now: Date): void {
    this.statements.forgetExpiredKeys.run(now.getTime());
    this.statements.purgeSecrets.run(now.getTime());
  }
}
