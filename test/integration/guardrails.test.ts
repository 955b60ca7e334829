/**
 * The guardrails against real stores (a SQLite file, and Azure Table on Azurite): what counts
 * against a rate limit (elevations attempted, within the window, under the rule; read page by page
 * through the store's indexes), and what a request records when the hour asks for approval.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Guardrails } from '../../src/elevation/guardrails';
import type { ElevationStore } from '../../src/elevation/ports';
import type { ElevationRequest, RequestState, Requester } from '../../src/elevation/request';
import type { Environment } from '../../src/elevation/vocabulary';
import { silentLogger } from '../../src/log';
import type { Policy } from '../../src/policy/policy';
import { openStore } from '../../src/store/open-store';
import { type Azurite, startAzurite } from '../support/azurite';

const TENANT = '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8';
const ALEX: Requester = {
  aadObjectId: 'aaaaaaaa-0000-4000-8000-00000000000a',
  tenantId: TENANT,
  name: 'Alex',
};
const MEGAN: Requester = {
  aadObjectId: 'bbbbbbbb-0000-4000-8000-00000000000b',
  tenantId: TENANT,
  name: 'Megan',
};
const PROD: Environment = {
  id: 'caf114fd-823b-4931-acf3-8cb3dfb77d5b',
  displayName: 'Contoso Prod',
  type: 'Production',
  dataverseUrl: 'https://contoso.crm.dynamics.com',
};
const DEV: Environment = {
  ...PROD,
  id: 'a8d2d8c5-2541-43b3-81db-73b5541a77b9',
  displayName: 'Contoso Dev',
  type: 'Sandbox',
};
// A Saturday, 10:12 in Berlin.
const NOW = new Date('2026-12-05T09:12:00Z');

const policy: Policy = {
  source: 'policy.yaml',
  rules: [
    {
      name: 'production',
      match: { types: ['Production'] },
      approval: {
        channel: { team: 'My Team', channel: '19:my-team-general@thread.tacv2' },
        timeoutMinutes: 30,
      },
      rateLimit: {
        perUser: { count: 2, windowMinutes: 60 },
        perEnvironment: { count: 2, windowMinutes: 120 },
      },
      allowedHours: {
        from: '08:00',
        to: '18:00',
        days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'],
        timeZone: 'Europe/Berlin',
        outside: 'approval',
      },
    },
    { name: 'sandboxes', match: { types: ['Sandbox'] }, maxMinutes: 600 },
  ],
};

let dir: string;
let store: ElevationStore;
let guardrails: Guardrails;
let azurite: Azurite;
let runs = 0;

beforeAll(async () => {
  azurite = await startAzurite();
}, 60_000);

afterAll(async () => {
  await azurite?.stop();
});

/** A fresh, empty store of the kind. */
function open(kind: string): Promise<ElevationStore> {
  if (kind === 'SQLite') return openStore({ kind: 'sqlite', path: join(dir, 'bot.db') });
  runs += 1;
  return openStore({
    kind: 'azure-table',
    connectionString: azurite.connectionString,
    tablePrefix: `g${process.pid}n${runs}`,
  });
}

/** A request of `who` in `where` that came to `state` `minutesAgo`. */
async function past(who: Requester, where: Environment, state: RequestState, minutesAgo: number) {
  const at = new Date(NOW.getTime() - minutesAgo * 60_000);
  const request: ElevationRequest = {
    id: randomUUID(),
    state: 'requested',
    requester: who,
    environment: where,
    query: where.displayName,
    createdAt: at.toISOString(),
    updatedAt: at.toISOString(),
    expiresAt: new Date(at.getTime() + 600_000).toISOString(),
    policy: { rule: where === PROD ? 'production' : 'sandboxes', why: 'test' },
  };
  await store.createRequest(request);
  await store.transition(request.id, { from: ['requested'], to: state, at });
}

describe.each(['SQLite', 'Azure Table (Azurite)'])('%s', (kind) => {
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guardrails-'));
    store = await open(kind);
    guardrails = new Guardrails({
      policy,
      store,
      clock: { now: () => NOW },
      logger: silentLogger,
      justificationRequired: true,
      timeBoxes: { settings: { defaultMinutes: 60, maxMinutes: 480, reminderMinutes: 10 } },
    });
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('outside the allowed hours with outside=approval: the request records an approval because of the hour', async () => {
    const open = await guardrails.atOpen(ALEX, PROD, undefined);
    expect(open).toMatchObject({
      ok: true,
      minutes: 60,
      policy: {
        rule: 'production',
        why: 'its type is Production',
        approval: {
          status: 'not-asked',
          because: 'outside-hours',
          channel: { team: 'My Team', channel: '19:my-team-general@thread.tacv2' },
          timeoutMinutes: 30,
        },
      },
    });
  });

  it('inside the hours a rule whose approval is for outside them records none; a rule without hours always asks', async () => {
    const monday = new Guardrails({
      policy: {
        source: 'p.yaml',
        rules: [
          { ...policy.rules[0]!, match: { ids: [PROD.id] } },
          {
            name: 'always',
            match: {},
            approval: { approvers: [MEGAN.aadObjectId], timeoutMinutes: 15 },
          },
        ],
      },
      store,
      // Monday, 10:00 in Berlin.
      clock: { now: () => new Date('2026-12-07T09:00:00Z') },
      logger: silentLogger,
      justificationRequired: true,
    });
    const inside = await monday.atOpen(ALEX, PROD, undefined);
    expect(inside).toMatchObject({ ok: true, policy: { rule: 'production' } });
    expect(inside.ok && inside.policy.approval).toBeUndefined();
    expect(await monday.atOpen(ALEX, DEV, undefined)).toMatchObject({
      ok: true,
      minutes: undefined,
      policy: {
        rule: 'always',
        approval: { status: 'not-asked', because: 'rule', approvers: [MEGAN.aadObjectId] },
      },
    });
  });

  it('at Elevate, outside the hours: a request opened inside them (no approval) is refused and told to ask again; an approved one goes on', async () => {
    let now = new Date('2026-12-07T09:00:00Z'); // Monday, 10:00 in Berlin.
    const clocked = new Guardrails({
      policy,
      store,
      clock: { now: () => now },
      logger: silentLogger,
      justificationRequired: true,
    });
    const opened = await clocked.atOpen(ALEX, PROD, undefined);
    if (!opened.ok) throw new Error('refused inside the hours');
    const request: ElevationRequest = {
      id: randomUUID(),
      state: 'requested',
      requester: ALEX,
      environment: PROD,
      query: PROD.displayName,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 600_000).toISOString(),
      policy: opened.policy,
    };
    expect(await clocked.atConfirm(request, 'CHG1 fix', undefined)).toMatchObject({ ok: true });

    now = new Date('2026-12-07T17:05:00Z'); // 18:05 in Berlin: the hours have ended.
    expect(await clocked.atConfirm(request, 'CHG1 fix', undefined)).toMatchObject({
      ok: false,
      result: {
        kind: 'policy-refused',
        because: 'outside-hours',
        problem: expect.stringContaining('ask again, and the new card asks for it'),
      },
    });
    const approved: ElevationRequest = {
      ...request,
      policy: {
        ...opened.policy,
        approval: {
          status: 'approved',
          because: 'outside-hours',
          channel: { team: 'My Team', channel: '19:my-team-general@thread.tacv2' },
          timeoutMinutes: 30,
        },
      },
    };
    expect(await clocked.atConfirm(approved, 'CHG1 fix', undefined)).toMatchObject({ ok: true });
    const audit = await store.readAudit({ chain: TENANT, limit: 100 });
    expect(audit.filter((e) => e.type === 'refused')).toMatchObject([
      { requestId: request.id, details: { reason: 'policy-outside-hours', at: 'elevate' } },
    ]);
  });

  it("the environment's limit counts every user's elevations, across store pages, and not what was never elevated", async () => {
    await past(MEGAN, PROD, 'succeeded', 100);
    await past(ALEX, PROD, 'failed', 110);
    // Newer than both, and more than a page of them: cancelled and expired requests do not count.
    for (let i = 0; i < 55; i++) await past(MEGAN, PROD, i % 2 ? 'cancelled' : 'expired', 5);
    await past(MEGAN, PROD, 'succeeded', 130); // Outside the two hours.

    const open = await guardrails.atOpen(ALEX, PROD, undefined);
    expect(open).toMatchObject({
      ok: false,
      result: {
        kind: 'policy-refused',
        because: 'rate-limit',
        rule: 'production',
        text: "This environment has had 2 elevations in the last 2 hours; the rule 'production' allows 2 per environment per 2 hours.",
        // The older of the two leaves the window 10 minutes from now.
        nextAt: '2026-12-05T09:22:00.000Z',
      },
    });
  });

  it("the user's limit counts their elevations under the same rule only", async () => {
    await past(ALEX, DEV, 'succeeded', 10);
    await past(ALEX, DEV, 'succeeded', 20);
    await past(ALEX, PROD, 'succeeded', 30);
    expect(await guardrails.atOpen(ALEX, PROD, undefined)).toMatchObject({ ok: true });

    await past(ALEX, PROD, 'failed', 40);
    expect(await guardrails.atOpen(ALEX, PROD, undefined)).toMatchObject({
      ok: false,
      result: { because: 'rate-limit', text: expect.stringContaining('You have had 2 elevations') },
    });
    // Megan's own count is 0: what stops her is the environment's (Alex's two).
    expect(await guardrails.atOpen(MEGAN, PROD, undefined)).toMatchObject({
      ok: false,
      result: { text: expect.stringContaining('This environment has had 2 elevations') },
    });
  });

  it('longer than any rule allows is refused before the environment is looked up; a rule may allow more than the settings', async () => {
    expect(guardrails.longerThanAnyRule(600)).toBeUndefined();
    expect(guardrails.longerThanAnyRule(601)).toEqual({
      kind: 'duration-refused',
      minutes: 601,
      maxMinutes: 600,
      problem:
        'No rule of the elevation policy allows more than 10 hours. Ask again for 10 hours or less.',
    });
    expect(await guardrails.atOpen(ALEX, DEV, 600)).toMatchObject({ ok: true, minutes: 600 });
    // Production says nothing of durations: ELEVATION_MAX_MINUTES applies there.
    expect(await guardrails.atOpen(ALEX, PROD, 600)).toMatchObject({
      ok: false,
      result: {
        kind: 'duration-refused',
        maxMinutes: 480,
        problem:
          'An elevation lasts at most 8 hours (ELEVATION_MAX_MINUTES). Ask again for 8 hours or less.',
      },
    });
    const audit = await store.readAudit({ chain: TENANT, limit: 100 });
    expect(audit.filter((e) => e.type === 'refused')).toMatchObject([
      {
        environmentId: PROD.id,
        details: { reason: 'policy-duration', rule: 'production', minutes: 600, max: 480 },
      },
    ]);
  });
});
