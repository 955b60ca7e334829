/**
 * The benchmarks (bench/) run once on a tiny load, so that they cannot rot: every part must run to
 * the end without errors and return well-formed figures (numbers present, no failed requests, no
 * duplicated elevation under throttling). Nothing here looks at how fast anything was: timings on
 * a shared test machine mean nothing, and the real figures come from `npm run bench`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatHeapComparison, summarizeHeap } from '../../bench/heap';
import { formatComparison, summarizeProfile } from '../../bench/profile';
import { runResolutionBench } from '../../bench/resolution.bench';
import { formatAll, rowsOf, storeRowsOf } from '../../bench/run.bench';
import { formatTimeBoxReport, runTimeBoxBench } from '../../bench/time-boxes.bench';
import {
  type LoadFigures,
  runColdStartBench,
  runGrowthBench,
  runMemoryBench,
  runProfiledLoad,
  runThrottleBench,
  runTurnBench,
  runTypingExperiment,
  type StorageFigures,
  type Timeline,
} from '../../bench/scenarios';
import { type Summary, wellFormed } from '../../bench/stats';

/** Child processes transpile the TypeScript on load here: starts take seconds, not milliseconds. */
const SLOW = 180_000;

function expectSummary(summary: Summary): void {
  expect(wellFormed(summary)).toBe(true);
}

function expectLoad(load: LoadFigures): void {
  expect(load.errorMessages).toEqual([]);
  expect(load.errors).toBe(0);
  expect(load.perSecond).toBeGreaterThan(0);
  expectSummary(load.latency);
  expect(Number.isFinite(load.driverCpu)).toBe(true);
}

/** Counted per turn, and the kinds add up to the total (SQLite: reads and writes are the total). */
function expectStorage(storage: StorageFigures | undefined, unit: string, total: string[]): void {
  expect(storage?.unit).toBe(unit);
  expect(storage!.perRequest).toBeGreaterThan(0);
  const sum = total.reduce((acc, kind) => acc + (storage!.byKind[kind] ?? 0), 0);
  expect(sum).toBeCloseTo(storage!.perRequest, 6);
}

function expectTimeline(timeline: Timeline): void {
  expect(timeline.segments).toHaveLength(timeline.labels.length);
  timeline.segments.forEach(expectSummary);
}

describe('the benchmarks still run (tiny sizes, no timing assertions)', () => {
  it(
    'command-to-card turns (floor, bot on SQLite, bot on Azurite) and confirmations',
    async () => {
      const report = await runTurnBench({
        users: 3,
        connections: 2,
        // No warm-up: a turn on Azurite can outlast a tiny window here (a closed loop records the
        // turns that start in its window), so each connection's first turn is the one recorded.
        warmupMs: 0,
        throughputMs: 400,
        perSecond: 10,
        latencyMs: 500,
        confirmPerSecond: 5,
        confirmMs: 800,
        confirmWarmupMs: 200,
        logLevel: 'warn',
      });
      for (const side of ['bot', 'floor', 'azure'] as const) {
        expectLoad(report.throughput[side]);
        expectLoad(report.latency[side]);
        expectTimeline(report.timelines.turn[side]);
      }
      for (const side of ['bot', 'floor'] as const) {
        expectLoad(report.confirm.click[side]);
        expectTimeline(report.timelines.confirm[side]);
      }
      // The stores were counted: Table requests at the proxy in front of Azurite (turns read and
      // write the store), SQLite statements in the bot, with commits (a turn writes its request
      // and audit event); Azurite's CPU was read from /proc. The floor has no store.
      for (const load of [report.throughput, report.latency]) {
        expect(load.floor.storage).toBeUndefined();
        const kinds = Object.keys(load.azure.storage?.byKind ?? {});
        expectStorage(load.azure.storage, 'Table requests', kinds);
        const writes = kinds.filter((kind) => kind !== 'point read' && kind !== 'query');
        expect(
          writes.reduce((sum, kind) => sum + load.azure.storage!.byKind[kind]!, 0),
        ).toBeGreaterThan(0);
        expectStorage(load.bot.storage, 'SQLite statements', ['reads', 'writes']);
        expect(load.bot.storage!.byKind['commits: transactions']).toBeGreaterThan(0);
        expect(load.azure.storageCpu).toBeGreaterThanOrEqual(0);
        expect(load.bot.storageCpu).toBeUndefined();
      }
      // Every confirmation was executed, and matched with the simulator's handling of its call.
      expect(report.confirm.notSucceeded).toBe(0);
      expect(report.confirm.overhead.count).toBe(report.confirm.click.bot.latency.count);
      expectSummary(report.confirm.overhead);
      expectSummary(report.confirm.overheadBeyondPort);
      expectSummary(report.confirm.apiHandling);
      expectSummary(report.confirm.apiRoundTrip);

      // The table has the figures, each with a number.
      const rows = rowsOf({ ...header(), turns: report });
      expect(rows.map((row) => row.figure).join('\n')).toMatch(/turns\/s[\s\S]*p50[\s\S]*overhead/);
      expect(
        rows.every((row) => !/NaN|undefined/.test(`${row.bot} ${row.floor} ${row.ratio}`)),
      ).toBe(true);
      const storeRows = storeRowsOf(report);
      expect(storeRows.map((row) => row.figure).join('\n')).toMatch(
        /turns\/s[\s\S]*p50[\s\S]*Storage per turn[\s\S]*Azurite's own CPU/,
      );
      expect(
        storeRows.every(
          (row) =>
            !/NaN|undefined/.test(`${row.floor} ${row.sqlite} ${row.azure} ${row.azureRatio}`),
        ),
      ).toBe(true);
      expect(formatAll({ ...header(), turns: report }, 'smoke')).toContain('| bot on Azurite |');
    },
    SLOW,
  );

  it(
    'time boxes in both stores (with a few active elevations, Azurite included)',
    async () => {
      const report = await runTimeBoxBench({
        sqliteActive: 50,
        tableActive: 20,
        sqliteSamples: 3,
        tableSamples: 2,
      });
      expect(report.rows.map((r) => [r.store, r.active])).toEqual([
        ...Array.from({ length: 4 }, () => ['SQLite', 0]),
        ...Array.from({ length: 4 }, () => ['SQLite', 50]),
        ...Array.from({ length: 4 }, () => ['Azure Table (Azurite)', 0]),
        ...Array.from({ length: 4 }, () => ['Azure Table (Azurite)', 20]),
      ]);
      for (const row of report.rows) {
        expect([row.measure, row.samples > 0, Number.isFinite(row.p50 + row.p99)]).toEqual([
          row.measure,
          true,
          true,
        ]);
      }
      // The due ones, and the user's own, are what the queries found, however many others.
      expect(
        report.rows.filter((r) => r.measure.startsWith('findDue')).map((r) => r.returned),
      ).toEqual(Array.from({ length: 4 }, () => '10 due'));
      expect(formatTimeBoxReport(report)).toContain('| store | measure |');
    },
    SLOW,
  );

  it('name resolution', () => {
    const report = runResolutionBench({ environments: 300, queriesPerKind: 20, buildRuns: 2 });
    expect(report.environments).toBe(300);
    expect(report.rows.length).toBeGreaterThan(2);
    for (const row of report.rows) {
      expect(row.samples).toBeGreaterThan(0);
      expect([row.mean, row.p50, row.p99, row.max].every(Number.isFinite)).toBe(true);
    }
    expect(rowsOf({ ...header(), resolution: report }).length).toBeGreaterThan(0);
  });

  it(
    'cold start of the floor, the bench bot and the production entry',
    async () => {
      const report = await runColdStartBench({ runs: 1, unmeasured: 0, logLevel: 'warn' });
      for (const kind of ['floor', 'bot', 'production'] as const) {
        expect(report[kind]).toHaveLength(1);
        expect(report[kind][0]).toBeGreaterThan(0);
      }
      expect(rowsOf({ ...header(), coldStart: report })).toHaveLength(2);
    },
    SLOW,
  );

  it(
    'resident memory under load',
    async () => {
      const report = await runMemoryBench({
        users: 3,
        durationMs: 600,
        perSecond: 5,
        logLevel: 'warn',
      });
      for (const side of ['bot', 'floor'] as const) {
        expect(report[side].rss).toBeGreaterThan(0);
        expect(report[side].rssAfterWarmUp).toBeGreaterThan(0);
        expectLoad(report[side].load);
      }
    },
    SLOW,
  );

  it('a heap snapshot summary', () => {
    // A small process's snapshot (a bot started from TypeScript holds the compiler: too big here).
    const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-heap-'));
    try {
      const path = join(dir, 'small.heapsnapshot');
      execFileSync(process.execPath, [
        '-e',
        `require('node:v8').writeHeapSnapshot(${JSON.stringify(path)})`,
      ]);
      const summary = summarizeHeap(path);
      expect(summary.totalBytes).toBeGreaterThan(0);
      expect(summary.byName.length).toBeGreaterThan(0);
      expect(formatHeapComparison(summary, summary)).toContain('| held by |');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    'the typing-indicator experiment',
    async () => {
      const report = await runTypingExperiment({
        connections: 2,
        users: 2,
        warmupMs: 100,
        durationMs: 300,
      });
      expectLoad(report.floor);
      expectLoad(report.floorWithTyping);
    },
    SLOW,
  );

  it(
    'growth of the store and of the tenant',
    async () => {
      const report = await runGrowthBench({
        users: 2,
        perSecond: 10,
        warmupMs: 100,
        durationMs: 500,
        rounds: 2,
        smallAudit: 10,
        largeAudit: 40,
        smallEnvironments: 3,
        largeEnvironments: 30,
        logLevel: 'warn',
      });
      expect(report.cases.map((c) => c.name)).toEqual(['base', 'audit', 'environments']);
      for (const growthCase of report.cases) {
        expectLoad(growthCase.bot);
        expect(growthCase.seedMs).toBeGreaterThanOrEqual(0);
      }
      expectLoad(report.floor);
      expect(rowsOf({ ...header(), growth: report })).toHaveLength(4);
    },
    SLOW,
  );

  it(
    'simultaneous confirmations against a throttling API: all finish, none duplicated',
    async () => {
      const report = await runThrottleBench({
        confirmations: 8,
        retryAfterSeconds: 1,
        logLevel: 'warn',
      });
      expect(report.errors).toBe(0);
      expect(report.finished).toBe(8);
      expect(report.succeeded).toBe(8);
      expect(report.duplicated).toBe(0);
      expect(report.grants).toBe(8);
      // Two 429s per request by default, then the grant.
      expect(report.throttled).toBe(16);
      expect(report.applyCalls).toBe(24);
      expectSummary(report.completion);
      expect(report.floorLastMs).toBeGreaterThan(0);
      const [row] = rowsOf({ ...header(), throttle: report });
      expect(row?.met).toBe(true);
    },
    SLOW,
  );

  it(
    'a CPU profile of a server under load, and its summary',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-profiles-'));
      try {
        const run = await runProfiledLoad({
          load: 'turns',
          side: 'floor',
          profileDir: dir,
          users: 2,
          connections: 2,
          durationMs: 300,
          logLevel: 'warn',
        });
        expect(run.requests).toBeGreaterThan(0);
        const summary = summarizeProfile(run.path, { fromUs: run.fromUs, toUs: run.toUs });
        expect(summary.busyMs).toBeGreaterThan(0);
        expect(summary.areas.length).toBeGreaterThan(0);
        const side = { summary, requests: run.requests };
        expect(formatComparison(side, side)).toContain('CPU per request');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    SLOW,
  );
});

function header() {
  return {
    machine: 'test',
    os: 'test',
    node: process.version,
    date: new Date().toISOString(),
    loadAverage: [0, 0, 0],
    durationS: 0,
  };
}
