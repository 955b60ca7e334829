/**
 * Where the Table store is and how the bot reaches it: a connection string (Azurite, local runs)
 * or the account URL with an Entra identity (Azure, no account key), never both.
 */
import { ConfigError, loadStorageConfig } from '../../src/config';

const CLIENT_ID = '6a0b3c2d-1e4f-4a5b-8c6d-7e8f9a0b1c2d';
const ACCOUNT_URL = 'https://elevabc123.table.core.windows.net/';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadStorageConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('Table storage configuration', () => {
  it('the account URL and the managed identity client id, as infra/azure.bicep sets them', () => {
    const storage = loadStorageConfig({
      STORAGE: 'azure-table',
      AZURE_STORAGE_ACCOUNT_URL: ACCOUNT_URL,
      AZURE_CLIENT_ID: CLIENT_ID,
    });
    expect(storage).toEqual({
      kind: 'azure-table',
      accountUrl: 'https://elevabc123.table.core.windows.net',
      managedIdentityClientId: CLIENT_ID,
      tablePrefix: '',
    });
  });

  it('the account URL alone means DefaultAzureCredential (no client id)', () => {
    const storage = loadStorageConfig({
      STORAGE: 'azure-table',
      AZURE_STORAGE_ACCOUNT_URL: ACCOUNT_URL,
    });
    expect(storage).toMatchObject({ accountUrl: 'https://elevabc123.table.core.windows.net' });
    expect(storage).not.toHaveProperty('connectionString');
    expect(
      (storage as { managedIdentityClientId?: string }).managedIdentityClientId,
    ).toBeUndefined();
  });

  it('refuses both ways in at once, naming both', () => {
    const error = errorOf({
      STORAGE: 'azure-table',
      AZURE_STORAGE_ACCOUNT_URL: ACCOUNT_URL,
      AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
    });
    expect(error.message).toMatch(
      /AZURE_STORAGE_ACCOUNT_URL and AZURE_STORAGE_CONNECTION_STRING are both set/,
    );
  });

  it('sends tokens over plain HTTP only to this machine', () => {
    const remote = errorOf({
      STORAGE: 'azure-table',
      AZURE_STORAGE_ACCOUNT_URL: 'http://storage.example.com/acct',
    });
    expect(remote.variable).toBe('AZURE_STORAGE_ACCOUNT_URL');
    const local = loadStorageConfig({
      STORAGE: 'azure-table',
      AZURE_STORAGE_ACCOUNT_URL: 'http://127.0.0.1:10002/devstoreaccount1',
    });
    expect(local).toMatchObject({ accountUrl: 'http://127.0.0.1:10002/devstoreaccount1' });
  });

  it('refuses a client id that is not a GUID', () => {
    const error = errorOf({
      STORAGE: 'azure-table',
      AZURE_STORAGE_ACCOUNT_URL: ACCOUNT_URL,
      AZURE_CLIENT_ID: 'bot-identity',
    });
    expect(error.variable).toBe('AZURE_CLIENT_ID');
  });
});
