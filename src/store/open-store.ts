/** Opens the store the configuration names: the SQLite file, or Azure Table Storage. */
import { existsSync } from 'node:fs';
import type { Config } from '../config';
import type { ElevationStore } from '../elevation/ports';
import { SqliteStore } from './sqlite-store';
import { TableStore } from './table-store';

export async function openStore(
  storage: Config['storage'],
  options: { createIfMissing?: boolean } = {},
): Promise<ElevationStore> {
  if (storage.kind === 'azure-table') {
    return TableStore.open({
      connectionString: storage.connectionString,
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
