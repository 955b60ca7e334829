/**
 * SANDBOX_DATAVERSE_URL: the sandbox sends its Dataverse calls to another server (an external fake)
 * instead of starting its own simulator, each instance `https://<org>.crm.dynamics.com` served at
 * `<SANDBOX_DATAVERSE_URL>/<org>`, as POWERPLATFORM_API_URL does for the Power Platform API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { silentLogger } from '../../src/log';
import {
  type DataverseSimulator,
  orgOf,
  startDataverseSimulator,
} from '../../src/sandbox/dataverse-simulator';
import { SANDBOX_TENANT_ID, SANDBOX_USERS } from '../../src/sandbox/directory';
import { guidFrom, type RecordedGrant } from '../../src/sandbox/power-platform-simulator';
import { type Sandbox, startSandbox } from '../../src/sandbox/sandbox';

const ALEX = SANDBOX_USERS.find((u) => u.name === 'Alex Wilber')!;

let dir: string;
let other: DataverseSimulator;
let sandbox: Sandbox | undefined;
/** The sandbox's grants, once it runs: the stand-in follows them as the real Dataverse would. */
let grants: RecordedGrant[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sandbox-dataverse-url-'));
  other = await startDataverseSimulator({
    grantCount: (org, oid) =>
      grants.filter((g) => g.instanceUrl && orgOf(g.instanceUrl) === org && g.oid === oid).length,
    systemUserId: (org, oid) => guidFrom(`stand-in:${org}:${oid}`),
  });
});

afterAll(async () => {
  await sandbox?.stop();
  await other.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('the role check goes to the server SANDBOX_DATAVERSE_URL names, and the sandbox starts no Dataverse of its own', async () => {
  sandbox = await startSandbox({
    env: {
      PORT: '0',
      SQLITE_PATH: join(dir, 'sandbox.db'),
      DATAVERSE_ROLE_CHECK: 'true',
      SANDBOX_DATAVERSE_URL: `${other.url}/`,
    },
    logger: silentLogger,
    playground: false,
  });
  grants = sandbox.simulator!.grants;
  expect(sandbox.dataverse).toBeUndefined();

  const requester = {
    aadObjectId: ALEX.oid,
    tenantId: SANDBOX_TENANT_ID,
    name: ALEX.name,
    upn: ALEX.upn,
  };
  const asked = await sandbox.app.service.requestElevation(requester, 'Contoso Dev');
  if (asked.kind !== 'confirm') throw new Error(`no confirmation: ${asked.kind}`);
  const confirmed = await sandbox.app.service.confirmElevation({
    requestId: asked.request.id,
    clicker: requester,
    justification: 'stand-in Dataverse',
  });
  if (confirmed.kind !== 'executed') throw new Error(`not executed: ${confirmed.kind}`);

  // Asked before (no role) and after (granted) at the stand-in, under the instance's org label.
  expect(confirmed.request.roleCheck?.result).toBe('newly-granted');
  const whoAmI = other.calls.filter((call) => call.path === 'WhoAmI');
  expect(whoAmI.map((call) => [call.org, call.oid])).toEqual([
    ['contoso-dev', ALEX.oid],
    ['contoso-dev', ALEX.oid],
  ]);
});

it('with another Power Platform API and no SANDBOX_DATAVERSE_URL the sandbox refuses to start: its tokens never go to a real Dataverse', async () => {
  await expect(
    startSandbox({
      env: {
        PORT: '0',
        SQLITE_PATH: join(dir, 'refused.db'),
        POWERPLATFORM_API_URL: `${other.url}/`,
      },
      logger: silentLogger,
      playground: false,
    }),
  ).rejects.toThrow(/SANDBOX_DATAVERSE_URL.*never calls a real one/);
});
