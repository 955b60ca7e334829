/** Opens the store the configuration names: the SQLite file, or Azure Table Storage. */
import {
  DefaultAzureCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import { existsSync } from 'node:fs';
import type { Config } from '../config';
import type { ElevationStore } from '../elevation/ports';
import { SqliteStore } from './sqlite-store';
import { TableStore } from './table-store';

type TableStorage = Extract<Config['storage'], { kind: 'azure-table' }>;

/**
 * How the bot reaches its store, in words for the start-up log (no secret in it): with the
 * account key of a connection string (Azurite, local runs), or with an Entra token of the
 * user-assigned managed identity (Azure: no key anywhere), or of DefaultAzureCredential.
 */
export function storageAccess(storage: Config['storage']): string {
  if (storage.kind === 'sqlite') return `sqlite file ${storage.path}`;
  if (storage.connectionString) return 'azure-table with a connection string';
  if (storage.managedIdentityClientId) {
    return `azure-table at ${storage.accountUrl} as the managed identity ${storage.managedIdentityClientId}`;
  }
  return `azure-table at ${storage.accountUrl} with DefaultAzureCredential`;
}

function tableCredential(storage: TableStorage): TokenCredential | undefined {
  if (storage.connectionString) return undefined;
  if (storage.managedIdentityClientId) {
    return new ManagedIdentityCredential({ clientId: storage.managedIdentityClientId });
  }
  return new DefaultAzureCredential();
}

export async function openStore(
  storage: Config['storage'],
  options: { createIfMissing?: boolean } = {},
): Promise<ElevationStore> {
  if (storage.kind === 'azure-table') {
    return TableStore.open({
      connectionString: storage.connectionString,
      accountUrl: storage.accountUrl,
      credential: tableCredential(storage),
      tablePrefix: storage.tablePrefix,
    });
  }
  if (
    options.createIfMissing === false &&
    storage.path !== ':memory:' &&
    !existsSync(storage.path)
  ) {
    throw new Error(
      `There is no database at ${storage.path} (set SQLITE_PATH, or SANDBOX=true for the sandbox's).`,
    );
  }
  return new SqliteStore({ path: storage.path });
}
