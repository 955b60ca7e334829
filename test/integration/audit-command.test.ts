/**
 * The audit command on the database of a real bot run: `npm run audit -- verify` after elevations,
 * after one stored event is edited directly, and `export` in both formats.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TableClient } from '@azure/data-tables';
import { verifyAudit } from '../../src/audit/audit-cli';
import { loadStorageConfig } from '../../src/config';
import { openStore } from '../../src/store/open-store';
import { startAzurite } from '../support/azurite';
import { actionData, ALEX, cardOf, startTestBot, TENANT } from '../support/test-bot';

const ROOT = join(__dirname, '..', '..');

function run(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The audit command from source (the npm script builds first; one test runs that). */
function audit(args: string[], env: Record<string, string>) {
  return run(
    process.execPath,
    ['-r', join(ROOT, 'test/support/ts-register.js'), join(ROOT, 'src/audit/main.ts'), ...args],
    env,
  );
}

let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
  env = { SQLITE_PATH: join(dir, 'bot.db'), STORAGE: 'sqlite' };
  const bot = await startTestBot({ env });
  try {
    for (const [environment, justification] of [
      ['Contoso Dev', 'INC-1 payroll'],
      ['Contoso Prod', '=HYPERLINK("https://evil.example","click")'],
      ['Northwind Sales', 'INC-3, "quoted", and a\nnew line'],
    ] as const) {
      const asked = await bot.say(ALEX, `elevate me in ${environment}`);
      const requestId = actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId;
      await bot.click(ALEX, 'elevate', { requestId, justification });
    }
  } finally {
    await bot.stop();
  }
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run audit', () => {
  it('verify: an untouched trail is intact; one edited event makes it fail at that event', async () => {
    const intact = await run('npm', ['run', '--silent', 'audit', '--', 'verify'], env);
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(new RegExp(`OK\\s+chain ${TENANT}: 9 events`));
    expect(intact.stdout).toContain('The audit trail is intact.');

    // Someone with access to the database edits the justification of the second confirmation
    // (in a copy, so that the other tests read the untouched one).
    const copy = join(dir, 'tampered.db');
    copyFileSync(join(dir, 'bot.db'), copy);
    const db = new Database(copy);
    const target = db
      .prepare(
        "SELECT seq, details FROM audit_log WHERE chain = ? AND type = 'confirmed' ORDER BY seq LIMIT 1 OFFSET 1",
      )
      .get(TENANT) as { seq: number; details: string };
    const details = JSON.parse(target.details) as Record<string, unknown>;
    db.prepare('UPDATE audit_log SET details = ? WHERE chain = ? AND seq = ?').run(
      JSON.stringify({ ...details, justification: 'routine check' }),
      TENANT,
      target.seq,
    );
    db.close();

    const broken = await run('npm', ['run', '--silent', 'audit', '--', 'verify'], {
      ...env,
      SQLITE_PATH: copy,
    });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(
      `BROKEN  chain ${TENANT}: first broken link at event ${target.seq}: its content does not match its hash`,
    );
    expect(broken.stdout).toContain('The audit trail has been altered.');
  });

  it('export --format json: every event with its chain, seq and hashes, between the dates', async () => {
    const all = await audit(['export', '--format', 'json'], env);
    expect(all.code).toBe(0);
    const events = JSON.parse(all.stdout) as Array<Record<string, unknown>>;
    expect(events.map((e) => e.type)).toEqual([
      'requested',
      'confirmed',
      'executed',
      'requested',
      'confirmed',
      'executed',
      'requested',
      'confirmed',
      'executed',
    ]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(events[1]).toMatchObject({ chain: TENANT, actor: ALEX.aadObjectId });
    expect(String(events[1]!.hash)).toMatch(/^[0-9a-f]{64}$/);
    expect(all.stderr).toContain('9 events exported.');

    const future = await audit(['export', '--since', '2999-01-01'], env);
    expect(JSON.parse(future.stdout)).toEqual([]);
    const past = await audit(['export', '--until', '2000-01-01'], env);
    expect(JSON.parse(past.stdout)).toEqual([]);
  });

  it('export --format csv: one row per event, every cell quoted, formulas defused', async () => {
    const csv = await audit(['export', '--format', 'csv', '--since', '2000-01-01'], env);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines[0]).toBe(
      '"chain","seq","at","type","requestId","actor","tenantId","environmentId","details","prevHash","hash"',
    );
    // Every cell of every line is quoted (empty ones too), with inner quotes doubled: the JSON of
    // details keeps its line breaks escaped, so one event is one line.
    const quotedCells = /^"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*$/;
    for (const line of lines) {
      expect(line).toMatch(quotedCells);
      expect(line.match(/"(?:[^"]|"")*"/g)).toHaveLength(11);
    }
    expect(csv.stdout).toContain('INC-1 payroll');
    // The justification is inside the details JSON cell, so the cell starts with "{", not "=".
    expect(csv.stdout).toContain('""=HYPERLINK(\\""https://evil.example\\"",\\""click\\"")""');
    expect(lines.filter((l) => l.startsWith(`"${TENANT}","`))).toHaveLength(9);
    // A number is quoted too.
    expect(lines[1]).toMatch(new RegExp(`^"${TENANT}","1","`));
  });

  it('bad arguments and a missing database are refused with exit code 2', async () => {
    const bad = await audit(['export', '--format', 'xml'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--format must be json or csv');
    const missing = await audit(['verify'], { SQLITE_PATH: join(dir, 'nothing-here.db') });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('There is no database at');
  });
});

describe('AUDIT_RETENTION_DAYS', () => {
  it('removes old events and finished requests; the chain still verifies from its anchor', async () => {
    // Not time-boxed: a pending time box is never purged (the store contract shows that), and
    // this test is about retention alone.
    const retained = await startTestBot({
      env: { AUDIT_RETENTION_DAYS: '1', ELEVATION_TIME_BOX: 'false' },
    });
    try {
      const elevate = async (justification: string) => {
        const asked = await retained.say(ALEX, 'elevate me in Contoso Dev');
        const requestId = actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId;
        await retained.click(ALEX, 'elevate', { requestId, justification });
        return requestId as string;
      };
      const old = await elevate('two days ago');
      retained.clock.advance(2 * 86_400_000);
      const recent = await elevate('today');
      await retained.app.sweeper.sweep();

      const store = retained.app.store;
      const events = await store.readAudit({ chain: TENANT, limit: 100 });
      expect(events.map((e) => e.requestId)).toEqual([recent, recent, recent]);
      expect(events[0]!.seq).toBe(4);
      const [chain] = await store.auditChains();
      expect(chain).toMatchObject({ chain: TENANT, anchor: { seq: 3 } });
      const { ok, lines } = await verifyAudit(store);
      expect(ok).toBe(true);
      expect(lines[0]).toContain('3 events (from event 4; older ones removed by retention)');
      expect(await store.findRequest(old)).toBeUndefined();
      expect((await store.findRequest(recent))?.state).toBe('succeeded');

      // New events carry on the chain.
      await elevate('after pruning');
      expect((await verifyAudit(store)).ok).toBe(true);
    } finally {
      await retained.stop();
    }
  });
});

describe('npm run audit on Azure Table Storage (Azurite)', () => {
  it('verify names the event edited directly in the table; export reads the same events', async () => {
    const emulator = await startAzurite();
    try {
      const tableEnv = {
        STORAGE: 'azure-table',
        AZURE_STORAGE_CONNECTION_STRING: emulator.connectionString,
        AZURE_TABLE_PREFIX: 'audit',
      };
      const store = await openStore(loadStorageConfig(tableEnv));
      for (let i = 1; i <= 4; i += 1) {
        await store.appendAudit({
          type: 'confirmed',
          at: new Date(Date.UTC(2026, 10, 26, 9, 0, i)),
          requestId: `r${i}`,
          actor: ALEX.aadObjectId,
          tenantId: TENANT,
          details: { justification: `INC-${i}` },
        });
      }
      await store.close();
      const intact = await audit(['verify'], tableEnv);
      expect(intact.code).toBe(0);
      expect(intact.stdout).toMatch(new RegExp(`OK\\s+chain ${TENANT}: 4 events`));
      const exported = JSON.parse((await audit(['export'], tableEnv)).stdout) as unknown[];
      expect(exported).toHaveLength(4);

      // Someone with the storage key edits event 3 in place.
      const table = TableClient.fromConnectionString(emulator.connectionString, 'auditelevation', {
        allowInsecureConnection: true,
      });
      const rowKey = `audit|${String(3).padStart(12, '0')}`;
      const entity = await table.getEntity<Record<string, unknown>>(TENANT, rowKey);
      expect(String(entity.details)).toContain('INC-3');
      await table.updateEntity(
        {
          partitionKey: TENANT,
          rowKey,
          details: String(entity.details).replace('INC-3', 'routine'),
        },
        'Merge',
      );
      const broken = await audit(['verify'], tableEnv);
      expect(broken.code).toBe(1);
      expect(broken.stdout).toContain(
        `BROKEN  chain ${TENANT}: first broken link at event 3: its content does not match its hash`,
      );
    } finally {
      await emulator.stop();
    }
  });
});
