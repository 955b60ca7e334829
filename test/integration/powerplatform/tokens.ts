/** Unsigned test tokens shaped like Entra delegated tokens (the simulator decodes, not verifies). */
import { SEED_TENANT_ID } from '../../../src/sandbox/power-platform-simulator';

export const ADELE = {
  oid: '9f1c2b3a-4d5e-4f60-8a7b-1c2d3e4f5a6b',
  upn: 'adele.vance@contoso.example',
  name: 'Adele Vance',
};

/** A token for Adele (Power Platform Administrator, both delegated permissions) plus overrides. */
export function userToken(overrides: Record<string, unknown> = {}): string {
  const claims = {
    aud: 'https://api.powerplatform.com',
    tid: SEED_TENANT_ID,
    ...ADELE,
    scp: 'UserManagement.Users.Apply EnvironmentManagement.Environments.Read',
    wids: ['11648597-926c-4cf3-9c36-bcebb0ba8dcc'],
    exp: Math.floor(Date.now() / 1000) + 3600,
    ...overrides,
  };
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.${Buffer.from('not-a-real-signature').toString('base64url')}`;
}

/** Collects log lines written through createLogger({ sink }). */
export function captureLogs(): { lines: string[]; sink: (line: string) => void } {
  const lines: string[] = [];
  return { lines, sink: (line) => lines.push(line) };
}
