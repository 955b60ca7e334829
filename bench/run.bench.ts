/**
 * `npm run bench`: every figure of bench/README.md, the bot and the floor in the same run (and,
 * for the command-to-card turns, the bot on Azurite too), then the tables with the ratios and the
 * targets. Options (after `npm run bench --`):
 *
 *   --quick            short windows and small sizes: a try-out in about a minute, not a result
 *   --only=a,b         run only these parts: turns, resolution, cold-start, memory, growth, throttle
 *   --profile[=dir]    then run the bot alone under each load with `node --cpu-prof` and print
 *                      where its time went (profiles are kept in dir, default a temporary one;
 *                      under turns, the bot on Azurite too)
 *   --heap[=dir]       then run the memory load again with heap snapshots of both servers
 *                      and print what each heap holds
 *   --experiments      then the floor with and without a typing indicator (the price of one
 *                      more connector call per turn)
 *   --json=path        also write every raw summary as JSON
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { formatHeapComparison, summarizeHeap } from './heap';
import { formatComparison, type ProfileSummary, summarizeProfile } from './profile';
import {
  formatReport as formatResolution,
  runResolutionBench,
  type BenchReport as ResolutionReport,
} from './resolution.bench';
import {
  type ColdStartReport,
  type GrowthReport,
  type LoadFigures,
  type MemoryReport,
  runColdStartBench,
  runGrowthBench,
  runMemoryBench,
  runProfiledLoad,
  runThrottleBench,
  runTurnBench,
  runTypingExperiment,
  type StorageFigures,
  type ThrottleReport,
  type TurnReport,
  type TurnSide,
  TURN_SIDES,
} from './scenarios';
import { fmt, median } from './stats';

export const PARTS = ['turns', 'resolution', 'cold-start', 'memory', 'growth', 'throttle'] as const;
export type Part = (typeof PARTS)[number];

export interface RunOptions {
  quick?: boolean;
  only?: readonly Part[];
  /** Progress lines (stderr by default). */
  progress?: (line: string) => void;
}

export interface FullReport {
  machine: string;
  os: string;
  node: string;
  date: string;
  loadAverage: number[];
  durationS: number;
  turns?: TurnReport;
  resolution?: ResolutionReport;
  coldStart?: ColdStartReport;
  memory?: MemoryReport;
  growth?: GrowthReport;
  throttle?: ThrottleReport;
}

export async function runAll(options: RunOptions = {}): Promise<FullReport> {
  const quick = options.quick ?? false;
  const only = new Set<Part>(options.only ?? PARTS);
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const report: FullReport = {
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB)`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    loadAverage: os.loadavg(),
    durationS: 0,
  };
  const step = async <T>(part: Part, run: () => Promise<T>): Promise<T | undefined> => {
    if (!only.has(part)) return undefined;
    const at = Date.now();
    progress(`bench: ${part}...`);
    const result = await run();
    progress(`bench: ${part} done in ${((Date.now() - at) / 1000).toFixed(0)} s`);
    return result;
  };
  report.turns = await step('turns', () =>
    runTurnBench(
      quick
        ? { users: 50, warmupMs: 1_000, throughputMs: 3_000, latencyMs: 3_000, confirmMs: 3_000 }
        : {},
    ),
  );
  report.resolution = await step('resolution', async () =>
    runResolutionBench(quick ? { queriesPerKind: 300, buildRuns: 5 } : {}),
  );
  report.coldStart = await step('cold-start', () => runColdStartBench({ runs: quick ? 2 : 7 }));
  report.memory = await step('memory', () =>
    runMemoryBench(quick ? { durationMs: 5_000 } : { durationMs: 60_000 }),
  );
  report.growth = await step('growth', () =>
    runGrowthBench(quick ? { warmupMs: 1_000, durationMs: 3_000, largeAudit: 20_000 } : {}),
  );
  report.throttle = await step('throttle', () =>
    runThrottleBench(quick ? { confirmations: 100 } : { confirmations: 500 }),
  );
  report.durationS = (Date.now() - started) / 1000;
  return report;
}

// ---------------------------------------------------------------------------------------------
// The table.

export interface Row {
  figure: string;
  bot: string;
  floor: string;
  ratio: string;
  target: string;
  /** undefined where there is no target. */
  met?: boolean;
}

const MB = 2 ** 20;

function ratio(a: number, b: number): string {
  return `${fmt(a / b)}×`;
}

function change(from: number, to: number): number {
  return (100 * (to - from)) / from;
}

function signed(percent: number): string {
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(1)}%`;
}

export function rowsOf(report: FullReport): Row[] {
  const rows: Row[] = [];
  const { turns, resolution, coldStart, memory, growth, throttle } = report;
  if (turns) {
    const tp = turns.throughput;
    rows.push({
      figure: `Command-to-card turns, ${turns.connections} connections (turns/s)`,
      bot: fmt(tp.bot.perSecond, 0),
      floor: fmt(tp.floor.perSecond, 0),
      ratio: ratio(tp.bot.perSecond, tp.floor.perSecond),
      target: '≥ 0.8× floor',
      met: tp.bot.perSecond >= 0.8 * tp.floor.perSecond,
    });
    const lat = turns.latency;
    rows.push({
      figure: `Turn latency at ${turns.perSecond} req/s, p50 (ms)`,
      bot: fmt(lat.bot.latency.p50),
      floor: fmt(lat.floor.latency.p50),
      ratio: `+${fmt(lat.bot.latency.p50 - lat.floor.latency.p50)} ms`,
      target: '≤ floor + 3 ms',
      met: lat.bot.latency.p50 <= lat.floor.latency.p50 + 3,
    });
    rows.push({
      figure: `Turn latency at ${turns.perSecond} req/s, p99 (ms)`,
      bot: fmt(lat.bot.latency.p99),
      floor: fmt(lat.floor.latency.p99),
      ratio: ratio(lat.bot.latency.p99, lat.floor.latency.p99),
      target: '—',
    });
    const confirm = turns.confirm;
    const floorClick = confirm.click.floor.latency;
    rows.push({
      figure: 'Confirm-to-outcome overhead above the API, p50 (ms)',
      bot: fmt(confirm.overhead.p50),
      floor: fmt(floorClick.p50),
      ratio: ratio(confirm.overhead.p50, floorClick.p50),
      target: '< 5 ms',
      met: confirm.overhead.p50 < 5 && confirm.notSucceeded === 0,
    });
    rows.push({
      figure: 'Confirm-to-outcome overhead above the API, p99 (ms)',
      bot: fmt(confirm.overhead.p99),
      floor: fmt(floorClick.p99),
      ratio: ratio(confirm.overhead.p99, floorClick.p99),
      target: '—',
    });
  }
  if (resolution) {
    const byName = resolution.rows.find((row) => row.kind === 'hit: name');
    const slowest = [...resolution.rows]
      .filter((row) => row.unit === 'µs')
      .sort((a, b) => b.p99 - a.p99)[0];
    if (byName && slowest) {
      rows.push({
        figure: `Name resolution among ${fmt(resolution.environments, 0)} environments, cached: hit by name p50 / p99 (µs)`,
        bot: `${fmt(byName.p50, 1)} / ${fmt(byName.p99, 1)}`,
        floor: '—',
        ratio: '—',
        target: '< 1 ms',
        met: byName.p99 < 1000 && slowest.p99 < 1000,
      });
      rows.push({
        figure: `… slowest kind (${slowest.kind}) p50 / p99 (µs)`,
        bot: `${fmt(slowest.p50, 1)} / ${fmt(slowest.p99, 1)}`,
        floor: '—',
        ratio: '—',
        target: '< 1 ms',
        met: slowest.p99 < 1000,
      });
    }
  }
  if (coldStart) {
    const floor = median(coldStart.floor);
    const production = median(coldStart.production);
    const bot = median(coldStart.bot);
    rows.push({
      figure: `Cold start to /healthz 200, median of ${coldStart.floor.length} (ms): production entry`,
      bot: fmt(production, 0),
      floor: fmt(floor, 0),
      ratio: ratio(production, floor),
      target: '≤ 1.3× floor',
      met: production <= 1.3 * floor,
    });
    rows.push({
      figure: '… the bench bot (bot + local identity provider)',
      bot: fmt(bot, 0),
      floor: fmt(floor, 0),
      ratio: ratio(bot, floor),
      target: '≤ 1.3× floor',
      met: bot <= 1.3 * floor,
    });
  }
  if (memory) {
    rows.push({
      figure: `Resident memory after ${fmt(memory.durationMs / 1000, 0)} s of load from ${memory.users} users (MiB)`,
      bot: fmt(memory.bot.rss / MB, 0),
      floor: fmt(memory.floor.rss / MB, 0),
      ratio: ratio(memory.bot.rss, memory.floor.rss),
      target: '≤ 1.3× floor',
      met: memory.bot.rss <= 1.3 * memory.floor.rss,
    });
  }
  if (growth) {
    const base = growth.cases.find((c) => c.name === 'base');
    for (const large of growth.cases.filter((c) => c.name !== 'base')) {
      if (!base) break;
      const what =
        large.name === 'audit'
          ? `${fmt(base.auditRecords, 0)} → ${fmt(large.auditRecords, 0)} audit records`
          : `${fmt(base.environments, 0)} → ${fmt(large.environments, 0)} environments`;
      const p50Change = change(base.bot.latency.p50, large.bot.latency.p50);
      rows.push({
        figure: `Growth: turn p50 at ${growth.perSecond} req/s, ${what} (ms)`,
        bot: `${fmt(base.bot.latency.p50)} → ${fmt(large.bot.latency.p50)} (${signed(p50Change)})`,
        floor: fmt(growth.floor.latency.p50),
        ratio: '—',
        target: 'within 10%',
        met: Math.abs(p50Change) <= 10,
      });
      const p99Change = change(base.bot.latency.p99, large.bot.latency.p99);
      rows.push({
        figure: `… turn p99, ${what} (ms)`,
        bot: `${fmt(base.bot.latency.p99)} → ${fmt(large.bot.latency.p99)} (${signed(p99Change)})`,
        floor: fmt(growth.floor.latency.p99),
        ratio: '—',
        target: '—',
      });
    }
  }
  if (throttle) {
    const ok =
      throttle.finished === throttle.confirmations &&
      throttle.succeeded === throttle.confirmations &&
      throttle.duplicated === 0 &&
      throttle.errors === 0;
    rows.push({
      figure: `${throttle.confirmations} simultaneous confirmations, API throttling (429, Retry-After ${throttle.retryAfterSeconds} s, ${fmt(throttle.throttled / throttle.confirmations, 1)} per request)`,
      bot: `${throttle.finished}/${throttle.confirmations} finished, ${throttle.duplicated} duplicated, last after ${fmt(throttle.completion.max / 1000)} s`,
      floor: `${throttle.confirmations} clicks (no API) answered in ${fmt(throttle.floorLastMs / 1000)} s`,
      ratio: '—',
      target: 'all finish, none duplicated',
      met: ok,
    });
  }
  return rows;
}

/** The command-to-card turns on three servers: the floor, the bot on SQLite, the bot on Azurite. */
export interface StoreRow {
  figure: string;
  floor: string;
  sqlite: string;
  azure: string;
  sqliteRatio: string;
  azureRatio: string;
  target: string;
  met?: boolean;
}

/** "6.0 Table requests (3.0 point read, 1.0 batch, ...)": per turn, kinds that occurred. */
export function storagePerTurn(storage: StorageFigures | undefined): string {
  if (!storage) return 'n/a';
  const kinds = Object.entries(storage.byKind)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${fmt(count, 1)} ${kind}`);
  return `${fmt(storage.perRequest, 1)} ${storage.unit}${kinds.length ? ` (${kinds.join(', ')})` : ''}`;
}

export function storeRowsOf(turns: TurnReport): StoreRow[] {
  const tp = turns.throughput;
  const lat = turns.latency;
  const cpuPerTurn = (side: TurnSide, figures = tp) =>
    figures[side].serverCpu === undefined
      ? NaN
      : (1e4 * figures[side].serverCpu!) / figures[side].perSecond;
  const azuriteUs = (figures: (typeof tp)['azure']) =>
    figures.storageCpu === undefined ? NaN : (1e4 * figures.storageCpu) / figures.perSecond;
  const three = (
    figure: string,
    value: (side: TurnSide) => number,
    digits: number,
    target = '—',
    met?: boolean,
  ): StoreRow => ({
    figure,
    floor: fmt(value('floor'), digits),
    sqlite: fmt(value('bot'), digits),
    azure: fmt(value('azure'), digits),
    sqliteRatio: ratio(value('bot'), value('floor')),
    azureRatio: ratio(value('azure'), value('floor')),
    target,
    met,
  });
  const p50 = (side: TurnSide) => lat[side].latency.p50;
  return [
    three(
      `Command-to-card turns, ${turns.connections} connections, closed loop (turns/s)`,
      (side) => tp[side].perSecond,
      0,
      'SQLite ≥ 0.8× floor',
      tp.bot.perSecond >= 0.8 * tp.floor.perSecond,
    ),
    three(
      `Turn latency at ${turns.perSecond} req/s, open loop, p50 (ms)`,
      p50,
      2,
      'Azurite ≤ 5× floor',
      p50('azure') <= 5 * p50('floor'),
    ),
    three(
      `Turn latency at ${turns.perSecond} req/s, open loop, p99 (ms)`,
      (side) => lat[side].latency.p99,
      2,
    ),
    three('Server CPU per turn, closed loop (µs)', (side) => cpuPerTurn(side), 0),
    three(
      `Server CPU per turn at ${turns.perSecond} req/s (µs)`,
      (side) => cpuPerTurn(side, lat),
      0,
    ),
    {
      figure: 'Storage per turn, closed loop (every turn, background work included)',
      floor: '—',
      sqlite: storagePerTurn(tp.bot.storage),
      azure: storagePerTurn(tp.azure.storage),
      sqliteRatio: '—',
      azureRatio: '—',
      target: '—',
    },
    {
      figure: `… at ${turns.perSecond} req/s`,
      floor: '—',
      sqlite: storagePerTurn(lat.bot.storage),
      azure: storagePerTurn(lat.azure.storage),
      sqliteRatio: '—',
      azureRatio: '—',
      target: '—',
    },
    {
      figure: "Azurite's own CPU, closed loop: % of one core, µs per turn",
      floor: '—',
      sqlite: '— (in the bot)',
      azure: `${fmt(tp.azure.storageCpu ?? NaN, 0)}%, ${fmt(azuriteUs(tp.azure), 0)} µs`,
      sqliteRatio: '—',
      azureRatio: '—',
      target: '—',
    },
    {
      figure: `… at ${turns.perSecond} req/s: % of one core, µs per turn (share of the p50 turn)`,
      floor: '—',
      sqlite: '— (in the bot)',
      azure:
        `${fmt(lat.azure.storageCpu ?? NaN, 0)}%, ${fmt(azuriteUs(lat.azure), 0)} µs ` +
        `(${fmt((100 * azuriteUs(lat.azure)) / 1000 / p50('azure'), 0)}%)`,
      sqliteRatio: '—',
      azureRatio: '—',
      target: '—',
    },
  ];
}

export function formatStoreTable(rows: readonly StoreRow[]): string {
  const verdict = (row: StoreRow) => (row.met === undefined ? '' : row.met ? 'met' : '**missed**');
  return [
    '| figure | floor | bot on SQLite | bot on Azurite | SQLite vs floor | Azurite vs floor | target | |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
    ...rows.map(
      (row) =>
        `| ${row.figure} | ${row.floor} | ${row.sqlite} | ${row.azure} | ${row.sqliteRatio} | ` +
        `${row.azureRatio} | ${row.target} | ${verdict(row)} |`,
    ),
  ].join('\n');
}

export function formatTable(rows: readonly Row[]): string {
  const verdict = (row: Row) => (row.met === undefined ? '' : row.met ? 'met' : '**missed**');
  return [
    '| figure | bot | floor | bot vs floor | target | |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    ...rows.map(
      (row) =>
        `| ${row.figure} | ${row.bot} | ${row.floor} | ${row.ratio} | ${row.target} | ${verdict(row)} |`,
    ),
  ].join('\n');
}

/** The details behind the table: every summary, with CPU and errors. */
export function formatDetails(report: FullReport): string {
  const lines: string[] = [];
  const load = (name: string, figures: LoadFigures) =>
    `| ${name} | ${fmt(figures.perSecond, 1)} | ${figures.latency.count} | ${fmt(figures.latency.p50)} | ` +
    `${fmt(figures.latency.p99)} | ${fmt(figures.latency.max)} | ${figures.errors} | ` +
    `${figures.serverCpu === undefined ? 'n/a' : fmt(figures.serverCpu, 0)}% | ` +
    `${figures.serverCpu === undefined ? 'n/a' : fmt((1e4 * figures.serverCpu) / figures.perSecond, 0)} | ` +
    `${fmt(figures.driverCpu, 0)}% | ${figures.storageCpu === undefined ? '—' : `${fmt(figures.storageCpu, 0)}%`} | ` +
    `${figures.otherCpu === undefined ? 'n/a' : fmt(figures.otherCpu, 0)}% |`;
  const header = [
    '| run | per s | samples | p50 ms | p99 ms | max ms | errors | server CPU | server CPU µs per request | driver CPU | Azurite CPU | other CPU |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const named: Record<TurnSide, string> = {
    floor: 'floor',
    bot: 'bot on SQLite',
    azure: 'bot on Azurite',
  };
  if (report.turns) {
    const { throughput, latency, confirm } = report.turns;
    lines.push(
      'Loads (server CPU in % of one core, and per request: for Elevate clicks, per iteration, the message and the click; the driver process also runs the sink and the simulator):',
      '',
      ...header,
    );
    for (const side of TURN_SIDES)
      lines.push(load(`closed loop, ${named[side]}`, throughput[side]));
    for (const side of TURN_SIDES)
      lines.push(load(`${report.turns.perSecond} req/s, ${named[side]}`, latency[side]));
    for (const side of ['floor', 'bot'] as const)
      lines.push(load(`Elevate clicks, ${named[side]}`, confirm.click[side]));
    lines.push(
      '',
      'Confirmations (bot), ms:',
      '',
      '| measure | p50 | p99 | max |',
      '| --- | ---: | ---: | ---: |',
      `| click answer (outcome card) | ${fmt(confirm.click.bot.latency.p50)} | ${fmt(confirm.click.bot.latency.p99)} | ${fmt(confirm.click.bot.latency.max)} |`,
      `| simulator's own handling of applyAdminRole | ${fmt(confirm.apiHandling.p50)} | ${fmt(confirm.apiHandling.p99)} | ${fmt(confirm.apiHandling.max)} |`,
      `| applyAdminRole as the bot's port timed it | ${fmt(confirm.apiRoundTrip.p50)} | ${fmt(confirm.apiRoundTrip.p99)} | ${fmt(confirm.apiRoundTrip.max)} |`,
      `| overhead: click − simulator handling | ${fmt(confirm.overhead.p50)} | ${fmt(confirm.overhead.p99)} | ${fmt(confirm.overhead.max)} |`,
      `| overhead: click − port round trip | ${fmt(confirm.overheadBeyondPort.p50)} | ${fmt(confirm.overheadBeyondPort.p99)} | ${fmt(confirm.overheadBeyondPort.max)} |`,
      '',
      `Requests not succeeded afterwards: ${confirm.notSucceeded}.`,
      '',
      'Where the time went, seen from outside (the moments the request was written, each connector call',
      'arrived at the sink, the answer arrived), ms:',
      '',
      '| request | segment | p50 | p99 |',
      '| --- | --- | ---: | ---: |',
    );
    const { timelines } = report.turns;
    for (const [what, bySide, sides] of [
      [`turn at ${report.turns.perSecond} req/s`, timelines.turn, TURN_SIDES],
      ['Elevate click', timelines.confirm, ['floor', 'bot']],
    ] as const) {
      for (const side of sides) {
        const timeline = (bySide as Partial<typeof timelines.turn>)[side]!;
        timeline.labels.forEach((label, i) => {
          const segment = timeline.segments[i]!;
          lines.push(
            `| ${what}, ${named[side]} | ${label} | ${fmt(segment.p50)} | ${fmt(segment.p99)} |`,
          );
        });
      }
    }
    lines.push('');
  }
  if (report.coldStart) {
    const c = report.coldStart;
    const list = (values: number[]) => values.map((v) => fmt(v, 0)).join(', ');
    lines.push(
      'Cold starts, ms (spawn to the first 200 on /healthz, each run):',
      '',
      `- floor: ${list(c.floor)}`,
      `- production entry: ${list(c.production)}`,
      `- bench bot: ${list(c.bot)}`,
      '',
    );
  }
  if (report.memory) {
    const m = report.memory;
    lines.push(
      `Memory (${m.users} users, ${m.perSecond} iterations/s of a message and Elevate on each server, together):`,
      '',
      '| server | RSS after warm-up MiB | RSS at end MiB | peak MiB | iterations/s | p50 ms | p99 ms | errors |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...(['floor', 'bot'] as const).map((side) => {
        const f = m[side];
        return `| ${side} | ${fmt(f.rssAfterWarmUp / MB, 0)} | ${fmt(f.rss / MB, 0)} | ${f.peak === undefined ? 'n/a' : fmt(f.peak / MB, 0)} | ${fmt(f.load.perSecond, 1)} | ${fmt(f.load.latency.p50)} | ${fmt(f.load.latency.p99)} | ${f.load.errors} |`;
      }),
      '',
    );
  }
  if (report.growth) {
    const g = report.growth;
    lines.push(
      `Growth (${g.users} users, ${g.perSecond} req/s; each server measured in ${g.rounds} windows, taken in turn):`,
      '',
      ...header,
    );
    for (const c of g.cases) {
      lines.push(
        load(`${c.name}: ${fmt(c.auditRecords, 0)} audit, ${fmt(c.environments, 0)} envs`, c.bot),
      );
    }
    lines.push(
      load('floor', g.floor),
      '',
      `Writing the history through the store: ${g.cases.map((c) => `${fmt(c.auditRecords, 0)} records in ${fmt(c.seedMs / 1000)} s`).join('; ')}.`,
      '',
    );
  }
  if (report.throttle) {
    const t = report.throttle;
    lines.push(
      `Throttling: ${t.applyCalls} applyAdminRole calls (${t.throttled} answered 429, ${t.grants} grants), ` +
        `${t.succeeded} requests succeeded in the store, ${t.errors} click errors; completion p50 ${fmt(t.completion.p50 / 1000)} s, ` +
        `p99 ${fmt(t.completion.p99 / 1000)} s, last ${fmt(t.completion.max / 1000)} s.`,
      '',
    );
  }
  if (report.resolution) {
    lines.push('Resolution:', '', formatResolution(report.resolution), '');
  }
  return lines.join('\n');
}

export function formatAll(report: FullReport, command: string): string {
  return [
    `- Machine: ${report.machine}, ${report.os}`,
    `- Node: ${report.node}`,
    `- Date: ${report.date} (load average at start ${report.loadAverage.map((l) => l.toFixed(2)).join(', ')})`,
    `- Command: \`${command}\` (${fmt(report.durationS, 0)} s)`,
    '',
    formatTable(rowsOf(report)),
    '',
    ...(report.turns
      ? [
          'The command-to-card turns on both stores (the "bot" above is the bot on SQLite):',
          '',
          formatStoreTable(storeRowsOf(report.turns)),
          '',
        ]
      : []),
    formatDetails(report),
  ].join('\n');
}

function argument(name: string): string | true | undefined {
  for (const arg of process.argv.slice(2)) {
    if (arg === `--${name}`) return true;
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

async function main(): Promise<void> {
  const onlyArg = argument('only');
  const only =
    typeof onlyArg === 'string'
      ? onlyArg.split(',').map((part) => {
          if (!(PARTS as readonly string[]).includes(part))
            throw new Error(`unknown part "${part}"`);
          return part as Part;
        })
      : undefined;
  const quick = argument('quick') === true;
  const report = await runAll({ quick, only });
  // What ran, as run (`npm run bench` runs `node dist/bench/run.bench.js`).
  const command = ['node', relative(process.cwd(), process.argv[1] ?? ''), ...process.argv.slice(2)]
    .join(' ')
    .trim();
  console.log(formatAll(report, command));
  const json = argument('json');
  if (typeof json === 'string') writeFileSync(json, JSON.stringify(report, null, 2));

  if (argument('experiments')) {
    process.stderr.write('bench: experiment: the floor with a typing indicator...\n');
    const typing = await runTypingExperiment(quick ? { warmupMs: 1_000, durationMs: 3_000 } : {});
    const row = (name: string, f: LoadFigures) =>
      `| ${name} | ${fmt(f.perSecond, 0)} | ${fmt(f.latency.p50)} | ${fmt(f.latency.p99)} | ` +
      `${f.serverCpu === undefined ? 'n/a' : fmt(f.serverCpu, 0)}% | ` +
      `${f.serverCpu === undefined ? 'n/a' : fmt((1e4 * f.serverCpu) / f.perSecond, 0)} | ${f.errors} |`;
    console.log(
      [
        '',
        `### Experiment: one more connector call per turn (closed loop, ${typing.connections} connections)`,
        '',
        '| server | turns/s | p50 ms | p99 ms | server CPU | CPU µs per turn | errors |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
        row('floor', typing.floor),
        row('floor + typing indicator', typing.floorWithTyping),
        '',
        `Ratio: ${fmt(typing.floorWithTyping.perSecond / typing.floor.perSecond)}×.`,
      ].join('\n'),
    );
  }

  const heap = argument('heap');
  if (heap) {
    const dir = typeof heap === 'string' ? heap : mkdtempSync(join(os.tmpdir(), 'bench-heap-'));
    process.stderr.write('bench: the memory load again, with heap snapshots...\n');
    const memory = await runMemoryBench({
      heapDir: dir,
      ...(quick ? { durationMs: 5_000 } : { durationMs: 60_000 }),
    });
    const facts = (side: 'bot' | 'floor') => {
      const h = memory[side].heap;
      const mib = (bytes: number | undefined) => fmt((bytes ?? NaN) / 2 ** 20, 1);
      return (
        `| ${side} | ${mib(memory[side].rss)} | ${mib(h?.before.heapUsed)} | ${mib(h?.before.heapTotal)} | ` +
        `${mib(h?.afterGc?.heapUsed)} | ${mib(h?.afterGc?.rss)} | ${mib(h?.before.external)} |`
      );
    };
    console.log(
      [
        '',
        `### Heap after ${fmt(memory.durationMs / 1000, 0)} s of load from ${memory.users} users`,
        '',
        '| server | RSS MiB | heap used MiB | heap total MiB | heap used after full GC MiB | RSS after full GC MiB | external MiB |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
        facts('floor'),
        facts('bot'),
        '',
        'V8 heap spaces before the collection (committed / used MiB):',
        '',
        '| space | floor | bot |',
        '| --- | ---: | ---: |',
        ...(memory.bot.heap?.spaces ?? []).map((space) => {
          const floorSpace = memory.floor.heap?.spaces.find((f) => f.name === space.name);
          const pair = (s?: { size: number; used: number }) =>
            s ? `${fmt(s.size / 2 ** 20, 1)} / ${fmt(s.used / 2 ** 20, 1)}` : '—';
          return `| ${space.name} | ${pair(floorSpace)} | ${pair(space)} |`;
        }),
        '',
        formatHeapComparison(
          summarizeHeap(join(dir, 'bot.heapsnapshot'), 30),
          summarizeHeap(join(dir, 'floor.heapsnapshot'), 30),
        ),
      ].join('\n'),
    );
  }

  const profile = argument('profile');
  if (profile) {
    const dir =
      typeof profile === 'string' ? profile : mkdtempSync(join(os.tmpdir(), 'bench-profiles-'));
    for (const load of ['turns', 'confirmations', 'turns-large-tenant'] as const) {
      const profiled = {} as Record<
        TurnSide,
        { summary: ProfileSummary; requests: number; path: string }
      >;
      // The bot on Azurite too, under the turns it is compared on.
      const sides: readonly TurnSide[] = load === 'turns' ? TURN_SIDES : ['floor', 'bot'];
      for (const side of sides) {
        process.stderr.write(`bench: profiling the ${side} under ${load}...\n`);
        const run = await runProfiledLoad({
          load,
          side,
          profileDir: dir,
          durationMs: quick ? 3_000 : 10_000,
        });
        profiled[side] = {
          summary: summarizeProfile(run.path, { top: 25, fromUs: run.fromUs, toUs: run.toUs }),
          requests: run.requests,
          path: run.path,
        };
      }
      console.log(
        `\n### CPU profiles under ${load}\n\nBot: ${profiled.bot.path}\nFloor: ${profiled.floor.path}\n\n` +
          formatComparison(profiled.bot, profiled.floor),
      );
      if (profiled.azure) {
        console.log(
          `\n### CPU profiles under ${load}: the bot on Azurite against the floor\n\n` +
            `Bot on Azurite: ${profiled.azure.path}\n\n` +
            formatComparison(profiled.azure, profiled.floor),
        );
      }
    }
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
