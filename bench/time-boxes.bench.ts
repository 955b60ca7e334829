/**
 * Does a store slow down when many elevations are active (issue #13 item 9)? The time boxes'
 * queries and one turn's writes, timed on a store with no other active elevation and on the same
 * store with many (100,000 in SQLite; 1,000 in Azure Table Storage on Azurite, whose emulator
 * loads slowly and answers every query by going through its whole table): the timer's
 * findDueTimeBoxes(now, 100) with few due, a request's createRequest + transition (the grant, with
 * its time box and audit event), a user's activeElevations, and a point read as the control.
 * Run with `npm run bench:time-boxes` (sizes: `-- --sqlite=N --table=N`, 0 skips Azurite).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { TableClient, type TransactionAction } from '@azure/data-tables';
import Database from 'better-sqlite3';
import type { ElevationStore } from '../src/elevation/ports';
import type { ElevationRequest, Requester, TimeBox } from '../src/elevation/request';
import { INSERT_REQUEST, requestParameters } from '../src/store/sqlite/requests';
import { SqliteStore } from '../src/store/sqlite-store';
import { keyPart, requestEntity, tenantPartition } from '../src/store/table/entities';
import { indexChanges } from '../src/store/table/request-index';
import { REQUEST_INDEX } from '../src/store/table/tables';
import { TableStore } from '../src/store/table-store';
import { startTableEdge } from '../test/support/storage-edge';
import { fmt, summarize } from './stats';

export interface TimeBoxBenchOptions {
  /** Active elevations loaded into the SQLite store. */
  sqliteActive?: number;
  /** Active elevations loaded into the Table store (Azurite); 0 skips Azure Table Storage. */
  tableActive?: number;
  /** Timed calls of each kind in SQLite, and in Azurite (over HTTP, so fewer). */
  sqliteSamples?: number;
  tableSamples?: number;
}

const DEFAULTS: Required<TimeBoxBenchOptions> = {
  sqliteActive: 100_000,
  tableActive: 1_000,
  sqliteSamples: 2_000,
  tableSamples: 40,
};

export interface TimeBoxRow {
  store: 'SQLite' | 'Azure Table (Azurite)';
  /** How many active elevations the store held (besides the few due ones). */
  active: number;
  measure: string;
  samples: number;
  /** Microseconds. */
  p50: number;
  p99: number;
  /** What the calls returned (a check that the query does what it says). */
  returned: string;
  /** Azure Table: the storage requests each call made (counted at a proxy in front of Azurite). */
  requestsPerCall?: number;
}

export interface TimeBoxReport {
  machine: string;
  node: string;
  date: string;
  /** Seconds each store took to load its active elevations. */
  loadSeconds: Record<string, number>;
  rows: TimeBoxRow[];
}

const TENANT = '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8';
const MINUTE = 60_000;
const NOW = new Date('2031-03-01T09:00:00.000Z');
/** The due ones: few, as between two ticks of the timer. */
const DUE = 10;
/** The user whose elevations `elevations` lists (as many as any other user has). */
const ALEX: Requester = {
  aadObjectId: 'a1b2c3d4-0000-4000-8000-00000000a1e7',
  tenantId: TENANT,
  name: 'Alex',
};
/** How many active elevations Alex has. */
const ALEX_ACTIVE = 5;
/** How many users the loaded elevations belong to. */
const USERS = 20_000;

/** Another user than Alex (numbered from 1). */
function userOf(i: number): Requester {
  const n = (i % USERS) + 1;
  const hex = n.toString(16).padStart(12, '0');
  return { aadObjectId: `b0000000-0000-4000-8000-${hex}`, tenantId: TENANT, name: `User ${n}` };
}

/** A granted elevation whose time box ends `endsInMinutes` after NOW (due 10 minutes before). */
function granted(i: number, endsInMinutes: number, requester = userOf(i)): ElevationRequest {
  const ends = NOW.getTime() + endsInMinutes * MINUTE;
  const timeBox: TimeBox = {
    phase: 'active',
    grantedAt: new Date(ends - 60 * MINUTE).toISOString(),
    endsAt: new Date(ends).toISOString(),
    latestEnd: new Date(ends + 420 * MINUTE).toISOString(),
    remindAt: new Date(ends - 10 * MINUTE).toISOString(),
    dueAt: new Date(ends - 10 * MINUTE).toISOString(),
    attempts: 0,
    extensions: [],
  };
  const createdAt = new Date(ends - 61 * MINUTE).toISOString();
  return {
    id: randomUUID(),
    state: 'succeeded',
    requester,
    environment: { id: `env-${i % 500}`, displayName: `Contoso ${i % 500}`, type: 'Sandbox' },
    query: `contoso ${i % 500}`,
    justification: 'INC-4711',
    createdAt,
    expiresAt: new Date(Date.parse(createdAt) + 10 * MINUTE).toISOString(),
    updatedAt: timeBox.grantedAt,
    minutes: 60,
    timeBox,
  };
}

/** Writes requests through the store, with up to `concurrency` in flight. */
async function load(
  store: ElevationStore,
  requests: ElevationRequest[],
  concurrency: number,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) await store.createRequest(requests[next++]!);
    }),
  );
}

/**
 * Many requests at once into the SQLite file: the rows the store writes (its INSERT and its
 * parameters), in one transaction on a connection of the loader's own, as an import would.
 */
function bulkSqlite(path: string, requests: ElevationRequest[]): void {
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 5000');
    const insert = db.prepare(INSERT_REQUEST);
    db.transaction(() => {
      for (const request of requests) insert.run(...requestParameters(request));
    }).immediate();
    // Into the database file, as SQLite's automatic checkpoints keep a live one: a WAL of a
    // 100,000-row import would otherwise sit in front of every read the measures make.
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/**
 * Many requests at once into the tables: each request's entity and index rows as the store
 * writes them (requestEntity, indexChanges), 16 requests to a batch, and their id index rows.
 */
async function bulkTable(
  connectionString: string,
  prefix: string,
  requests: ElevationRequest[],
): Promise<void> {
  const client = (name: string) =>
    TableClient.fromConnectionString(connectionString, `${prefix}${name}`, {
      allowInsecureConnection: true,
    });
  const tenants = client('elevation');
  const shared = client('elevationshared');
  const batches: Array<() => Promise<unknown>> = [];
  for (let i = 0; i < requests.length; i += 16) {
    const some = requests.slice(i, i + 16);
    batches.push(() =>
      tenants.submitTransaction(
        some.flatMap((r): TransactionAction[] => {
          const pk = tenantPartition(r.requester.tenantId);
          return [['create', requestEntity(pk, r)], ...indexChanges(pk, undefined, r)];
        }),
      ),
    );
  }
  for (let i = 0; i < requests.length; i += 100) {
    const some = requests.slice(i, i + 100);
    batches.push(() =>
      shared.submitTransaction(
        some.map((r): TransactionAction => [
          'create',
          {
            partitionKey: REQUEST_INDEX,
            rowKey: keyPart(r.id),
            partition: tenantPartition(r.requester.tenantId),
          },
        ]),
      ),
    );
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < batches.length) await batches[next++]!();
    }),
  );
}

/** Storage requests made so far, when they are counted. */
type Counter = (() => number) | undefined;

async function timed(
  samples: number,
  call: () => Promise<unknown>,
  counter: Counter,
): Promise<{ times: number[]; requestsPerCall?: number }> {
  // The first calls warm the JIT and the storage's caches; they are not timed.
  for (let i = 0; i < Math.min(20, samples); i++) await call();
  const times: number[] = [];
  const before = counter?.() ?? 0;
  for (let i = 0; i < samples; i++) {
    const started = process.hrtime.bigint();
    await call();
    times.push(Number(process.hrtime.bigint() - started) / 1e3);
  }
  return { times, requestsPerCall: counter ? (counter() - before) / samples : undefined };
}

/** The three measures on a store as it is now. */
async function measure(
  store: ElevationStore,
  name: TimeBoxRow['store'],
  active: number,
  samples: number,
  counter: Counter,
): Promise<TimeBoxRow[]> {
  const row = (
    measureName: string,
    { times, requestsPerCall }: { times: number[]; requestsPerCall?: number },
    returned: string,
  ): TimeBoxRow => {
    const summary = summarize(times);
    return {
      store: name,
      active,
      measure: measureName,
      samples: summary.count,
      p50: summary.p50,
      p99: summary.p99,
      returned,
      requestsPerCall,
    };
  };
  let due = 0;
  const dueTimes = await timed(
    samples,
    async () => {
      due = (await store.findDueTimeBoxes(NOW, 100)).length;
    },
    counter,
  );
  // One turn's writes: the request with its `requested` event, then its grant with the time box.
  let turn = 0;
  const turnTimes = await timed(
    samples,
    async () => {
      // Users of their own, so that Alex's list stays as it is.
      const made = {
        ...granted(turn, 60, { ...userOf(turn++), aadObjectId: randomUUID() }),
        state: 'requested' as const,
        timeBox: undefined,
      };
      made.updatedAt = NOW.toISOString();
      await store.createRequest(made, {
        audit: {
          type: 'requested',
          at: NOW,
          requestId: made.id,
          actor: made.requester.aadObjectId,
          tenantId: TENANT,
        },
      });
      const box = granted(0, 60 + (turn % 480)).timeBox!;
      await store.transition(
        made.id,
        { from: ['requested'], to: 'succeeded', at: NOW, set: { timeBox: box } },
        {
          audit: {
            type: 'executed',
            at: NOW,
            requestId: made.id,
            actor: made.requester.aadObjectId,
            tenantId: TENANT,
          },
        },
      );
    },
    counter,
  );
  // The control: one point read of a request, which no index of the time boxes is part of.
  const someone = (await store.findDueTimeBoxes(NOW, 1))[0]!.id;
  const findTimes = await timed(samples, () => store.findRequest(someone), counter);
  let mine = 0;
  const mineTimes = await timed(
    samples,
    async () => {
      mine = (await store.activeElevations(TENANT, ALEX)).length;
    },
    counter,
  );
  return [
    row('findDueTimeBoxes(now, 100)', dueTimes, `${due} due`),
    row(
      'createRequest + transition (one turn)',
      turnTimes,
      `${samples + Math.min(20, samples)} requests`,
    ),
    row('activeElevations(tenant, user)', mineTimes, `${mine} of the user's`),
    row('findRequest (control: one point read)', findTimes, '1'),
  ];
}

/** The few due ones, soonest 5 minutes ago, and `active` others not due yet. */
/**
 * What every run starts with: the few due ones, and Alex's own 5 (not due yet), so that Alex has
 * as many with 0 others as with 100,000; then `active` others of other users, ending 20 minutes
 * to 8 hours from now (none due at NOW).
 */
function dataset(active: number): { base: ElevationRequest[]; active: ElevationRequest[] } {
  return {
    base: [
      ...Array.from({ length: DUE }, (_, i) => granted(i, 5 - i)),
      ...Array.from({ length: ALEX_ACTIVE }, (_, i) => granted(i, 30 + 10 * i, ALEX)),
    ],
    active: Array.from({ length: active }, (_, i) => granted(i, 20 + (i % 460))),
  };
}

async function benchStore(
  name: TimeBoxRow['store'],
  store: ElevationStore,
  bulk: (requests: ElevationRequest[]) => Promise<void>,
  active: number,
  samples: number,
  loadSeconds: Record<string, number>,
  counter?: Counter,
): Promise<TimeBoxRow[]> {
  const data = dataset(active);
  await load(store, data.base, 1);
  const rows = await measure(store, name, 0, samples, counter);
  const started = Date.now();
  await bulk(data.active);
  loadSeconds[name] = (Date.now() - started) / 1000;
  rows.push(...(await measure(store, name, active, samples, counter)));
  await store.close();
  return rows;
}

export async function runTimeBoxBench(options: TimeBoxBenchOptions = {}): Promise<TimeBoxReport> {
  const given = Object.entries(options).filter(([, value]) => value !== undefined);
  const settings: Required<TimeBoxBenchOptions> = { ...DEFAULTS, ...Object.fromEntries(given) };
  const loadSeconds: Record<string, number> = {};
  const rows: TimeBoxRow[] = [];
  const dir = mkdtempSync(join(os.tmpdir(), 'time-boxes-bench-'));
  try {
    const path = join(dir, 'store.db');
    rows.push(
      ...(await benchStore(
        'SQLite',
        new SqliteStore({ path }),
        async (requests) => bulkSqlite(path, requests),
        settings.sqliteActive,
        settings.sqliteSamples,
        loadSeconds,
      )),
    );
    if (settings.tableActive > 0) {
      const azurite = await startAzurite(dir);
      // The store talks to Azurite through a proxy that counts its requests; the loader directly.
      const edge = await startTableEdge(azurite);
      try {
        const prefix = `tb${randomUUID().replace(/-/g, '').slice(0, 8)}`;
        rows.push(
          ...(await benchStore(
            'Azure Table (Azurite)',
            await TableStore.open({
              connectionString: edge.connectionString,
              tablePrefix: prefix,
            }),
            (requests) => bulkTable(azurite.connectionString, prefix, requests),
            settings.tableActive,
            settings.tableSamples,
            loadSeconds,
            () => edge.seen.length,
          )),
        );
      } finally {
        await edge.stop();
        await azurite.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores)`,
    node: process.version,
    date: new Date().toISOString(),
    loadSeconds,
    rows,
  };
}

/** The report as Markdown: each measure with no active elevations beside the same with many. */
export function formatTimeBoxReport(report: TimeBoxReport): string {
  const lines = [
    `Machine: ${report.machine}, Node ${report.node}, ${report.date}`,
    `Loading took: ${Object.entries(report.loadSeconds)
      .map(([store, seconds]) => `${store} ${seconds.toFixed(1)} s`)
      .join(', ')}`,
    '',
    '| store | measure | active | samples | p50 µs | p99 µs | storage requests per call | returned |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...report.rows.map(
      (r) =>
        `| ${r.store} | ${r.measure} | ${r.active.toLocaleString('en-US')} | ${r.samples} | ${fmt(r.p50, 0)} | ${fmt(r.p99, 0)} | ${r.requestsPerCall === undefined ? '' : fmt(r.requestsPerCall, 1)} | ${r.returned} |`,
    ),
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Azurite's Table service as a child process, on a free port of 127.0.0.1, in memory. (The
// tests' starter finds its binary relative to test/support, which the compiled bench is not in.)

interface RunningAzurite {
  connectionString: string;
  accountUrl: string;
  port: number;
  stop(): Promise<void>;
}

const ACCOUNT = 'devstoreaccount1';
/** The emulator's well-known development key (public, documented by Microsoft). */
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: `/${ACCOUNT}/Tables`, timeout: 1000 });
    req.once('response', (res) => {
      res.resume();
      done(true);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => done(false));
    req.end();
  });
}

async function startAzurite(dir: string): Promise<RunningAzurite> {
  const port = await freePort();
  const binary = resolve(process.cwd(), 'node_modules/.bin/azurite-table');
  const env = { ...process.env };
  delete env.AZURITE_ACCOUNTS;
  const child: ChildProcess = spawn(
    binary,
    [
      '--tableHost',
      '127.0.0.1',
      '--tablePort',
      String(port),
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
      '--disableTelemetry',
      '--inMemoryPersistence',
    ],
    // In memory; anything it might still write goes to the bench's temp folder.
    { stdio: 'ignore', env, cwd: dir },
  );
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const deadline = Date.now() + 30_000;
  while (!(await answers(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`Azurite did not start on port ${port} (run from the repository's root)`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};TableEndpoint=http://127.0.0.1:${port}/${ACCOUNT};`,
    accountUrl: `http://127.0.0.1:${port}/${ACCOUNT}`,
    stop: async () => {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

function numberArgument(name: string): number | undefined {
  const given = process.argv.find((a) => a.startsWith(`--${name}=`));
  return given ? Number(given.slice(name.length + 3)) : undefined;
}

export async function main(): Promise<void> {
  const report = await runTimeBoxBench({
    sqliteActive: numberArgument('sqlite'),
    tableActive: numberArgument('table'),
    sqliteSamples: numberArgument('sqlite-samples'),
    tableSamples: numberArgument('table-samples'),
  });
  console.log(formatTimeBoxReport(report));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
