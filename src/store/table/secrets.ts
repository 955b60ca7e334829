/**
 * Sealed secrets (token caches, sign-in sessions; opaque here) and once-keys on Table Storage,
 * in the shared table: both expire, and a once-key is recorded by exactly one caller (an insert
 * that fails when it exists, or the conditional takeover of an expired one).
 */
import { odata } from '@azure/data-tables';
import { checkEntity, type Entity, keyPart, packText, text, unpackText } from './entities';
import { ONCE, SECRETS, statusOf, type Tables } from './tables';

export class TableSecrets {
  constructor(private readonly tables: Tables) {}

  async claimOnce(key: string, expiresAt: Date): Promise<boolean> {
    const now = new Date().toISOString();
    const entity: Entity = {
      partitionKey: ONCE,
      rowKey: keyPart(key),
      key,
      expiresAt: expiresAt.toISOString(),
    };
    for (;;) {
      try {
        await this.tables.shared.createEntity(entity);
        return true;
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
      }
      const current = await this.tables.get(this.tables.shared, ONCE, entity.rowKey);
      if (!current) continue; // purged meanwhile: insert again
      if (text(current, 'expiresAt') > now) return false;
      // Expired: taking it over is conditional on what was read; one caller wins.
      try {
        await this.tables.shared.updateEntity(entity, 'Replace', { etag: current.etag });
        return true;
      } catch (error) {
        const status = statusOf(error);
        if (status === 412) return false;
        if (status !== 404) throw error;
      }
    }
  }

  async readSecret(key: string, now: Date): Promise<string | undefined> {
    const stored = await this.tables.get(this.tables.shared, SECRETS, keyPart(key));
    if (!stored || !(text(stored, 'expiresAt') > now.toISOString())) return undefined;
    return unpackText(stored, 'value');
  }

  async writeSecret(key: string, value: string, expiresAt: Date): Promise<void> {
    const entity: Entity = {
      partitionKey: SECRETS,
      rowKey: keyPart(key),
      key,
      expiresAt: expiresAt.toISOString(),
      ...packText('value', value),
    };
    checkEntity(entity, `the secret "${key}"`);
    await this.tables.shared.upsertEntity(entity, 'Replace');
  }

  async deleteSecret(key: string): Promise<void> {
    await this.tables.deleteQuietly(this.tables.shared, SECRETS, keyPart(key));
  }

  /** Removes the once-keys and secrets expired at `at`. */
  async purge(at: string): Promise<void> {
    for (const kind of [ONCE, SECRETS]) {
      for (const entity of await this.tables.list(
        this.tables.shared,
        odata`PartitionKey eq ${kind} and expiresAt le ${at}`,
      )) {
        // Conditional: a key claimed again, or a secret written again, since it was read stays.
        await this.tables.deleteIfUnchanged(this.tables.shared, entity);
      }
    }
  }
}
