/**
 * The figures of bench/README.md, each for the bot and the floor in the same run. Every function
 * takes its sizes and durations as options (the defaults are the real run; the smoke test passes
 * tiny ones) and returns raw-sample summaries, never a verdict: bench/run.bench.ts compares them
 * with the targets.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BenchAzurite,
  type CountingProxy,
  startBenchAzurite,
  startCountingProxy,
  type StorageCounts,
} from './azurite';
import { ms, summarize, type Summary } from './stats';
import {
  type Answer,
  benchUsers,
  closedLoop,
  conversationOf,
  inBatches,
  type BenchUser,
  type LoopResult,
  openLoop,
  type Step,
  TeamsDriver,
} from './driver';
import type { HeapFacts, RequestFacts, SqliteCounts } from './target';
import { startTarget, type Target } from './targets';
import {
  grantingEnvironments,
  removeRunDirectories,
  runDirectory,
  seedHistory,
  startUpstream,
  syntheticTenant,
  type Upstream,
} from './upstream';

export type Side = 'bot' | 'floor';
export const SIDES: readonly Side[] = ['floor', 'bot'];
/** The command-to-card turns also run on a third server: the bot on Azurite (`azure`). */
export type TurnSide = Side | 'azure';
export const TURN_SIDES: readonly TurnSide[] = ['floor', 'bot', 'azure'];

/** One load on one server: how much, how fast, and what it cost in CPU. */
export interface LoadFigures {
  /** Measured requests (or iterations) per second. */
  perSecond: number;
  /** Latency of each measured request, in ms. */
  latency: Summary;
  errors: number;
  errorMessages: string[];
  /** CPU the server used, in % of one core, over the measured window. */
  serverCpu?: number;
  /** CPU the driver's process (driver, sink, simulator) used, in % of one core. */
  driverCpu: number;
  /**
   * CPU used by everything else on the machine meanwhile (other processes), in % of one core:
   * the machine's busy time from /proc/stat minus the server's and the driver's. Well above a few
   * % means the run shared the machine and its figures are pessimistic.
   */
  otherCpu?: number;
  /** How late the open loop started its requests at p99 (the driver's own health), in ms. */
  lateP99Ms?: number;
  /**
   * What the store did per request of the loop (every step, warm-up included, as the counters
   * saw them): Table requests at the proxy in front of Azurite, or SQLite statements in the bot.
   */
  storage?: StorageFigures;
  /** CPU of the storage's own process (Azurite), in % of one core; not part of otherCpu. */
  storageCpu?: number;
}

export interface StorageFigures {
  /** What `perRequest` counts: "Table requests" or "SQLite statements". */
  unit: string;
  perRequest: number;
  /** Per request, by kind (point read, batch, ...; SQLite: reads, writes, commits). */
  byKind: Record<string, number>;
}

/** A server's store, as a load meter reads it before and after each window. */
export interface StorageProbe {
  unit: string;
  counts(): Promise<StorageCounts>;
  /** CPU time of the storage's own process so far, in ms (none where it runs in the server). */
  cpuMs?(): number | undefined;
}

/** The bot on Azurite: Table requests at the counting proxy, Azurite's CPU from /proc. */
function azureProbe(azurite: BenchAzurite, proxy: CountingProxy): StorageProbe {
  return {
    unit: 'Table requests',
    counts: () => Promise.resolve(proxy.counts()),
    cpuMs: () => azurite.cpuMs(),
  };
}

/** The bot on SQLite (started with BENCH_COUNT_SQL=1): its statements, asked over IPC. */
function sqliteProbe(target: Target): StorageProbe {
  return { unit: 'SQLite statements', counts: () => target.ask<SqliteCounts>({ op: 'storage' }) };
}

export interface CommonOptions {
  /** LOG_LEVEL of the servers under test (the bot's production default is info). */
  logLevel?: string;
  /** Write a V8 CPU profile of the bot into this directory (node --cpu-prof). */
  profileDir?: string;
  /** Experiments: more node flags for the bot's process only (e.g. --max-semi-space-size=64). */
  botNodeFlags?: string[];
}

/** Environment variables of the bot target against an upstream. */
function botEnv(
  dir: string,
  upstream: Upstream,
  options: CommonOptions,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    LOG_LEVEL: options.logLevel ?? 'info',
    SQLITE_PATH: join(dir, 'bot.db'),
    POWERPLATFORM_API_URL: upstream.simulator.url,
    // The role check and time-boxing talk to the upstream's Dataverse, as the sandbox's do.
    SANDBOX_DATAVERSE_URL: upstream.dataverse.url,
    // Caches stay warm for the whole run; the default (60 s) would expire mid-run.
    ENVIRONMENT_CACHE_SECONDS: '3600',
    ...extra,
  };
}

function floorEnv(options: CommonOptions): Record<string, string> {
  return { LOG_LEVEL: options.logLevel ?? 'info' };
}

/**
 * Measures loads on one server, once or over several windows (rounds) whose samples and CPU
 * times add up, so that interleaved runs can be compared under the same machine conditions.
 */
class LoadMeter {
  private readonly samples: bigint[] = [];
  private readonly errorMessages: string[] = [];
  private errors = 0;
  private wallMs = 0;
  private serverMs: number | undefined = 0;
  private driverMs = 0;
  private machineMs: number | undefined = 0;
  private lateP99Ms: number | undefined;
  private rounds = 0;
  /** With one window, the loop's own rate (from its first to its last answer). */
  private firstPerSecond: number | undefined;
  private steps = 0;
  private storageTotal = 0;
  private readonly storageByKind: Record<string, number> = {};
  private storageMs: number | undefined = 0;

  constructor(
    private readonly target: Target,
    private readonly storage?: StorageProbe,
  ) {}

  async run(loop: () => Promise<LoopResult & { lateP99Ms?: number }>): Promise<void> {
    const countsBefore = await this.storage?.counts();
    const machineBefore = machineBusyMs();
    const serverBefore = this.target.cpuMs();
    const storageBefore = this.storage?.cpuMs?.();
    const driverBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    const result = await loop();
    this.wallMs += ms(process.hrtime.bigint() - started);
    const serverAfter = this.target.cpuMs();
    const storageAfter = this.storage?.cpuMs?.();
    const driver = process.cpuUsage(driverBefore);
    const machineAfter = machineBusyMs();
    const countsAfter = await this.storage?.counts();
    if (countsBefore && countsAfter) {
      this.storageTotal += countsAfter.total - countsBefore.total;
      for (const [kind, count] of Object.entries(countsAfter.byKind)) {
        this.storageByKind[kind] =
          (this.storageByKind[kind] ?? 0) + count - (countsBefore.byKind[kind] ?? 0);
      }
    }
    this.steps += result.steps;
    this.storageMs =
      this.storageMs === undefined || storageBefore === undefined || storageAfter === undefined
        ? undefined
        : this.storageMs + storageAfter - storageBefore;
    this.serverMs =
      this.serverMs === undefined || serverBefore === undefined || serverAfter === undefined
        ? undefined
        : this.serverMs + serverAfter - serverBefore;
    this.driverMs += (driver.user + driver.system) / 1000;
    this.machineMs =
      this.machineMs === undefined || machineBefore === undefined || machineAfter === undefined
        ? undefined
        : this.machineMs + machineAfter - machineBefore;
    this.samples.push(...result.samples);
    this.errors += result.errors;
    this.errorMessages.push(...result.errorMessages.slice(0, 5 - this.errorMessages.length));
    if (result.lateP99Ms !== undefined) {
      this.lateP99Ms = Math.max(this.lateP99Ms ?? 0, result.lateP99Ms);
    }
    if (this.rounds === 0) this.firstPerSecond = result.perSecond;
    this.rounds++;
  }

  figures(): LoadFigures {
    const { wallMs, serverMs, machineMs, driverMs, storage, steps } = this;
    const storageMs = storage?.cpuMs ? this.storageMs : 0;
    const perStep = (count: number) => count / Math.max(1, steps);
    return {
      perSecond:
        this.rounds === 1 && this.firstPerSecond !== undefined
          ? this.firstPerSecond
          : (1000 * this.samples.length) / Math.max(1, wallMs),
      latency: summarize(this.samples.map(ms)),
      errors: this.errors,
      errorMessages: this.errorMessages,
      serverCpu: serverMs === undefined ? undefined : (100 * serverMs) / wallMs,
      driverCpu: (100 * driverMs) / wallMs,
      otherCpu:
        machineMs === undefined || serverMs === undefined || storageMs === undefined
          ? undefined
          : Math.max(0, (100 * (machineMs - serverMs - driverMs - storageMs)) / wallMs),
      lateP99Ms: this.lateP99Ms,
      storage: storage && {
        unit: storage.unit,
        perRequest: perStep(this.storageTotal),
        byKind: Object.fromEntries(
          Object.entries(this.storageByKind).map(([kind, count]) => [kind, perStep(count)]),
        ),
      },
      storageCpu:
        storage?.cpuMs && storageMs !== undefined ? (100 * storageMs) / wallMs : undefined,
    };
  }
}

async function measured(
  target: Target,
  loop: () => Promise<LoopResult & { lateP99Ms?: number }>,
  storage?: StorageProbe,
): Promise<LoadFigures> {
  const meter = new LoadMeter(target, storage);
  await meter.run(loop);
  return meter.figures();
}

/** CPU time all processes of the machine used so far, in ms (Linux); undefined elsewhere. */
export function machineBusyMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
    const ticks = fields.map(Number);
    // user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    const busy = ticks.reduce((sum, value) => sum + value, 0) - ticks[3]! - ticks[4]!;
    return busy * 10;
  } catch {
    return undefined;
  }
}

/**
 * Each user's first request, before anything is measured: the bot signs the user in (silently,
 * through the local identity provider) and caches their environment list. From the bot, every
 * answer must be a confirmation card (a card with a request id), or the run is not what it claims.
 */
async function warmUp(
  driver: TeamsDriver,
  upstream: Upstream,
  users: readonly BenchUser[],
  environments: readonly string[],
  side: TurnSide,
  target: Target,
): Promise<Map<string, { requestId?: string; activityId: string }>> {
  const cards = new Map<string, { requestId?: string; activityId: string }>();
  await inBatches(users, 8, async (user, index) => {
    const answer = await driver.message(
      user,
      `elevate me in ${environments[index % environments.length]}`,
    );
    const card = upstream.sink.lastCard(conversationOf(user));
    if (answer.status !== 200 || !card || (side !== 'floor' && !card.requestId)) {
      throw new Error(
        `warm-up of the ${side} for ${user.name} failed (status ${answer.status}, card ${JSON.stringify(card)}); ` +
          `see ${target.logFile} (BENCH_KEEP=1 keeps it after the run)`,
      );
    }
    cards.set(user.aadObjectId, card);
  });
  return cards;
}

/**
 * Where the time of a request went, seen from outside: the request was written, then the server
 * made its connector calls (each answered at once by the sink), then the answer arrived. Each
 * segment is the time between two of these moments, so the server's work between its calls shows.
 */
export interface Timeline {
  labels: string[];
  segments: Summary[];
  /** Requests whose connector calls did not match the labels (left out). */
  unmatched: number;
}

export class TimelineRecorder {
  private readonly segments: number[][];
  private unmatched = 0;

  /** `method`: only connector calls of this method are moments of the timeline. */
  constructor(
    private readonly sink: Upstream['sink'],
    private readonly labels: string[],
    private readonly method?: string,
  ) {
    this.segments = labels.map(() => []);
  }

  record(user: BenchUser, answer: Answer): void {
    const calls = this.sink
      .events(conversationOf(user))
      .filter((event) => !this.method || event.method === this.method)
      .filter((event) => event.at >= answer.startedAt && event.at <= answer.endedAt);
    if (calls.length !== this.labels.length - 1) {
      this.unmatched++;
      return;
    }
    const points = [answer.startedAt, ...calls.map((event) => event.at), answer.endedAt];
    for (let i = 0; i < this.labels.length; i++) {
      this.segments[i]!.push(ms(points[i + 1]! - points[i]!));
    }
  }

  summary(): Timeline {
    return {
      labels: this.labels,
      segments: this.segments.map((values) => summarize(values)),
      unmatched: this.unmatched,
    };
  }
}

const TURN_TIMELINE: Record<TurnSide, string[]> = {
  // The bot sends a typing indicator only when it must fetch the user's environments: not with
  // warm caches, which is what the turns measure.
  bot: ['request → card POST', 'card POST → answer'],
  azure: ['request → card POST', 'card POST → answer'],
  floor: ['request → card POST', 'card POST → answer'],
};
const CONFIRM_TIMELINE: Record<Side, string[]> = {
  bot: [
    // The card update (PUT) and the outcome message (POST) go out side by side.
    'click → first of card update and outcome message',
    'first → second',
    'second → answer',
  ],
  floor: ['click → answer'],
};

/** "elevate me in <environment>" from the users in turn: one command-to-card turn. */
function turnStep(
  driver: TeamsDriver,
  users: readonly BenchUser[],
  environments: readonly string[],
  timeline?: TimelineRecorder,
) {
  return async (index: number): Promise<bigint> => {
    const user = users[index % users.length]!;
    const answer = await driver.message(
      user,
      `elevate me in ${environments[index % environments.length]}`,
    );
    if (answer.status !== 200) throw new Error(`turn answered ${answer.status}`);
    timeline?.record(user, answer);
    return answer.ns;
  };
}

// ---------------------------------------------------------------------------------------------
// Command-to-card turns (throughput, latency at a fixed rate) and confirm-to-outcome.

export interface TurnOptions extends CommonOptions {
  users?: number;
  /** Closed loop: connections, warm-up (not recorded) and measured window. */
  connections?: number;
  warmupMs?: number;
  throughputMs?: number;
  /** Open loop: fixed rate and measured window. */
  perSecond?: number;
  latencyMs?: number;
  /** Confirmations: iterations (a message, then Elevate) per second, and the measured window. */
  confirmPerSecond?: number;
  confirmMs?: number;
  /** Unrecorded clicks first, so that the click path is compiled before it is timed. */
  confirmWarmupMs?: number;
}

const TURN_DEFAULTS: Required<Omit<TurnOptions, keyof CommonOptions>> = {
  users: 200,
  connections: 32,
  warmupMs: 3_000,
  throughputMs: 10_000,
  perSecond: 100,
  latencyMs: 15_000,
  confirmPerSecond: 20,
  confirmMs: 15_000,
  confirmWarmupMs: 1_000,
};

export interface ConfirmFigures {
  /** The Elevate click's own answer time (the invoke response, with the outcome card). */
  click: Record<Side, LoadFigures>;
  /** Bot: click minus the simulator's own handling of that request's applyAdminRole, in ms. */
  overhead: Summary;
  /** Bot: click minus the applyAdminRole round trip as the bot's PowerPlatform port timed it. */
  overheadBeyondPort: Summary;
  /** The simulator's own handling time of applyAdminRole, in ms. */
  apiHandling: Summary;
  /** applyAdminRole as the bot's port saw it (HTTP client, loopback, simulator), in ms. */
  apiRoundTrip: Summary;
  /** Confirmations whose request is not `succeeded` in the bot's store afterwards. */
  notSucceeded: number;
}

export interface TurnReport {
  users: number;
  connections: number;
  perSecond: number;
  /** The floor, the bot on SQLite (`bot`) and the bot on Azurite (`azure`). */
  throughput: Record<TurnSide, LoadFigures>;
  latency: Record<TurnSide, LoadFigures>;
  /** Confirmations: the floor and the bot on SQLite. */
  confirm: ConfirmFigures;
  /** Where the time of the fixed-rate turns and of the measured clicks went. */
  timelines: { turn: Record<TurnSide, Timeline>; confirm: Record<Side, Timeline> };
}

/** The bot's environment on Azurite, as the sandbox runs with STORAGE=azure-table. */
function azureEnv(connectionString: string): Record<string, string> {
  return {
    STORAGE: 'azure-table',
    AZURE_STORAGE_CONNECTION_STRING: connectionString,
    AZURE_TABLE_PREFIX: 'bench',
    // Required on Azure Table (sign-ins are shared through the store, encrypted with it).
    TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
  };
}

/** Azurite and the counting proxy in front of it, started together. */
async function startAzureStorage(): Promise<{ azurite: BenchAzurite; proxy: CountingProxy }> {
  const azurite = await startBenchAzurite();
  try {
    return { azurite, proxy: await startCountingProxy(azurite) };
  } catch (error) {
    await azurite.stop();
    throw error;
  }
}

export async function runTurnBench(options: TurnOptions = {}): Promise<TurnReport> {
  const settings = { ...TURN_DEFAULTS, ...options };
  const upstream = await startUpstream();
  const dir = runDirectory('turns');
  const environments = grantingEnvironments();
  const targets: Partial<Record<TurnSide, Target>> = {};
  const drivers: Partial<Record<TurnSide, TeamsDriver>> = {};
  let storage: { azurite: BenchAzurite; proxy: CountingProxy } | undefined;
  try {
    storage = await startAzureStorage();
    [targets.bot, targets.floor, targets.azure] = await Promise.all([
      startTarget('bot', {
        env: botEnv(dir, upstream, options, { BENCH_TIME_API: '1', BENCH_COUNT_SQL: '1' }),
        logFile: join(dir, 'bot.log'),
        cpuProfileDir: options.profileDir,
        nodeFlags: options.botNodeFlags,
      }),
      startTarget('floor', { env: floorEnv(options), logFile: join(dir, 'floor.log') }),
      startTarget('bot', {
        env: botEnv(dir, upstream, options, azureEnv(storage.proxy.connectionString)),
        logFile: join(dir, 'bot-azure.log'),
        nodeFlags: options.botNodeFlags,
      }),
    ]);
    const probes: Partial<Record<TurnSide, StorageProbe>> = {
      bot: sqliteProbe(targets.bot!),
      azure: azureProbe(storage.azurite, storage.proxy),
    };
    const users = benchUsers(settings.users);
    for (const side of TURN_SIDES) {
      drivers[side] = new TeamsDriver(targets[side]!.url, upstream.sink);
      await warmUp(drivers[side]!, upstream, users, environments, side, targets[side]!);
    }

    const throughput = {} as Record<TurnSide, LoadFigures>;
    for (const side of TURN_SIDES) {
      throughput[side] = await measured(
        targets[side]!,
        () =>
          closedLoop({
            connections: settings.connections,
            warmupMs: settings.warmupMs,
            durationMs: settings.throughputMs,
            step: turnStep(drivers[side]!, users, environments),
          }),
        probes[side],
      );
    }

    const latency = {} as Record<TurnSide, LoadFigures>;
    const turnTimeline = {} as Record<TurnSide, TimelineRecorder>;
    for (const side of TURN_SIDES) {
      // A turn that replaces the user's older card for the environment also updates that card
      // (a PUT after the new card's POST): its time is part of "card POST → answer".
      turnTimeline[side] = new TimelineRecorder(upstream.sink, TURN_TIMELINE[side], 'POST');
      latency[side] = await measured(
        targets[side]!,
        () =>
          openLoop({
            perSecond: settings.perSecond,
            durationMs: settings.latencyMs,
            step: turnStep(drivers[side]!, users, environments, turnTimeline[side]),
          }),
        probes[side],
      );
    }

    const confirm = await confirmations(
      settings,
      upstream,
      { bot: targets.bot!, floor: targets.floor! },
      { bot: drivers.bot!, floor: drivers.floor! },
      users,
      environments,
    );
    return {
      users: settings.users,
      connections: settings.connections,
      perSecond: settings.perSecond,
      throughput,
      latency,
      confirm: confirm.figures,
      timelines: {
        turn: {
          bot: turnTimeline.bot.summary(),
          azure: turnTimeline.azure.summary(),
          floor: turnTimeline.floor.summary(),
        },
        confirm: confirm.timelines,
      },
    };
  } finally {
    for (const driver of Object.values(drivers)) driver.close();
    await Promise.all(Object.values(targets).map((target) => target.stop()));
    await storage?.proxy.stop();
    await storage?.azurite.stop();
    await upstream.stop();
    removeRunDirectories();
  }
}

/**
 * Iterations at a fixed rate, each "elevate me in X" and then Elevate on its card; the click is
 * timed. For the bot, each click is then matched with what the simulator spent on that request's
 * applyAdminRole (by its client request id, which the bot's store knows).
 */
async function confirmations(
  settings: Required<Omit<TurnOptions, keyof CommonOptions>>,
  upstream: Upstream,
  targets: Record<Side, Target>,
  drivers: Record<Side, TeamsDriver>,
  users: readonly BenchUser[],
  environments: readonly string[],
): Promise<{ figures: ConfirmFigures; timelines: Record<Side, Timeline> }> {
  const click = {} as Record<Side, LoadFigures>;
  const timelines = {} as Record<Side, Timeline>;
  const pairs: Array<{ requestId?: string; clickNs: bigint }> = [];
  for (const side of SIDES) {
    const driver = drivers[side];
    const timeline = new TimelineRecorder(upstream.sink, CONFIRM_TIMELINE[side]);
    const step = (record: boolean) => async (index: number) => {
      const user = users[index % users.length]!;
      const result = await driver.elevate(user, environments[index % environments.length]!);
      if (record && side === 'bot')
        pairs.push({ requestId: result.requestId, clickNs: result.click.ns });
      if (record) timeline.record(user, result.click);
      return result.click.ns;
    };
    // A second of clicks first, unrecorded: the click path's first runs compile it.
    await openLoop({
      perSecond: settings.confirmPerSecond,
      durationMs: settings.confirmWarmupMs,
      step: step(false),
    });
    click[side] = await measured(targets[side], () =>
      openLoop({
        perSecond: settings.confirmPerSecond,
        durationMs: settings.confirmMs,
        step: step(true),
      }),
    );
    timelines[side] = timeline.summary();
  }

  const ids = pairs.map((pair) => pair.requestId).filter((id): id is string => id !== undefined);
  const facts = await targets.bot.ask<Record<string, RequestFacts>>({ op: 'requests', ids });
  const overhead: number[] = [];
  const overheadBeyondPort: number[] = [];
  const apiHandling: number[] = [];
  const apiRoundTrip: number[] = [];
  let notSucceeded = pairs.length - ids.length;
  for (const pair of pairs) {
    const fact = pair.requestId ? facts[pair.requestId] : undefined;
    if (!fact) continue;
    if (fact.state !== 'succeeded') notSucceeded++;
    const handling = fact.clientRequestId
      ? upstream.handlingNs.get(fact.clientRequestId)
      : undefined;
    if (handling !== undefined) {
      overhead.push(ms(pair.clickNs - handling));
      apiHandling.push(ms(handling));
    }
    if (fact.apiNs !== undefined) {
      overheadBeyondPort.push(ms(pair.clickNs - BigInt(fact.apiNs)));
      apiRoundTrip.push(ms(BigInt(fact.apiNs)));
    }
  }
  return {
    figures: {
      click,
      overhead: summarize(overhead),
      overheadBeyondPort: summarize(overheadBeyondPort),
      apiHandling: summarize(apiHandling),
      apiRoundTrip: summarize(apiRoundTrip),
      notSucceeded,
    },
    timelines,
  };
}

// ---------------------------------------------------------------------------------------------
// Cold start: spawn to the first 200 on /healthz.

export interface ColdStartOptions extends CommonOptions {
  /** Measured starts of each kind. */
  runs?: number;
  /** Unmeasured starts of each kind first (they warm the disk cache); 1 by default. */
  unmeasured?: number;
}

export interface ColdStartReport {
  /** Milliseconds from spawn to the first 200 on /healthz, one per run. */
  floor: number[];
  /** The bench's bot process: the bot plus the sandbox's local identity provider. */
  bot: number[];
  /** The production entry point (src/index) with a well-formed configuration. */
  production: number[];
}

export async function runColdStartBench(options: ColdStartOptions = {}): Promise<ColdStartReport> {
  const runs = options.runs ?? 7;
  const report: ColdStartReport = { floor: [], bot: [], production: [] };
  const kinds = ['floor', 'bot', 'production'] as const;
  for (let run = -(options.unmeasured ?? 1); run < runs; run++) {
    // A different order each run, so that no kind always goes first.
    const order = kinds.map((_, i) => kinds[(i + Math.max(0, run)) % kinds.length]!);
    for (const kind of order) {
      const dir = runDirectory(`cold-${kind}`);
      const env: Record<string, string> = {
        LOG_LEVEL: options.logLevel ?? 'info',
        ...(kind === 'floor' ? {} : { SQLITE_PATH: join(dir, 'bot.db') }),
        // Nothing is called at start; the API is not needed to become healthy.
        ...(kind === 'bot' ? { POWERPLATFORM_API_URL: 'http://127.0.0.1:9' } : {}),
      };
      const target = await startTarget(kind, { env, logFile: join(dir, 'output.log') });
      await target.stop();
      if (run >= 0) report[kind].push(target.startMs);
    }
  }
  removeRunDirectories();
  return report;
}

// ---------------------------------------------------------------------------------------------
// Resident memory after a minute of load from many users.

export interface MemoryOptions extends CommonOptions {
  users?: number;
  durationMs?: number;
  /** Iterations (a message, then Elevate) per second, on each server. */
  perSecond?: number;
  /**
   * Diagnosis: run the servers with --expose-gc and, after the load, write a heap snapshot of
   * each into this directory and report their memory after a full collection.
   */
  heapDir?: string;
}

export interface MemoryFigures {
  /** Resident memory once every user made a first request, in bytes. */
  rssAfterWarmUp: number;
  /** Resident memory at the end of the load, in bytes. */
  rss: number;
  /** The highest resident memory of the process's life (VmHWM), in bytes. */
  peak?: number;
  load: LoadFigures;
  /** With `heapDir`: memory before and after a full collection, and the snapshot's path. */
  heap?: HeapFacts;
}

export interface MemoryReport {
  users: number;
  durationMs: number;
  perSecond: number;
  bot: MemoryFigures;
  floor: MemoryFigures;
}

/** The bot and the floor, each a process, under the same load at the same time. */
export async function runMemoryBench(options: MemoryOptions = {}): Promise<MemoryReport> {
  const users = benchUsers(options.users ?? 200, 'memory');
  const durationMs = options.durationMs ?? 60_000;
  const perSecond = options.perSecond ?? 50;
  const upstream = await startUpstream();
  const dir = runDirectory('memory');
  const environments = grantingEnvironments();
  const targets: Partial<Record<Side, Target>> = {};
  const drivers: Partial<Record<Side, TeamsDriver>> = {};
  try {
    [targets.bot, targets.floor] = await Promise.all([
      startTarget('bot', {
        env: botEnv(dir, upstream, options),
        logFile: join(dir, 'bot.log'),
        nodeFlags: [...(options.heapDir ? ['--expose-gc'] : []), ...(options.botNodeFlags ?? [])],
      }),
      startTarget('floor', {
        env: floorEnv(options),
        logFile: join(dir, 'floor.log'),
        nodeFlags: options.heapDir ? ['--expose-gc'] : [],
      }),
    ]);
    const warm = {} as Record<Side, number>;
    for (const side of SIDES) {
      drivers[side] = new TeamsDriver(targets[side]!.url, upstream.sink);
      await warmUp(drivers[side]!, upstream, users, environments, side, targets[side]!);
      warm[side] = (await targets[side]!.memory()).rss;
    }
    const loads = await Promise.all(
      SIDES.map((side) =>
        measured(targets[side]!, () =>
          openLoop({
            perSecond,
            durationMs,
            step: async (index) => {
              const user = users[index % users.length]!;
              const result = await drivers[side]!.elevate(
                user,
                environments[index % environments.length]!,
              );
              return result.message.ns + result.click.ns;
            },
          }),
        ),
      ),
    );
    const figures = {} as Record<Side, MemoryFigures>;
    for (const [index, side] of SIDES.entries()) {
      const memory = await targets[side]!.memory();
      figures[side] = {
        rssAfterWarmUp: warm[side],
        rss: memory.rss,
        peak: memory.peak,
        load: loads[index]!,
      };
      if (options.heapDir) {
        figures[side].heap = await targets[side]!.ask<HeapFacts>({
          op: 'heap',
          snapshot: join(options.heapDir, `${side}.heapsnapshot`),
        });
      }
    }
    return { users: users.length, durationMs, perSecond, ...figures };
  } finally {
    for (const driver of Object.values(drivers)) driver.close();
    await Promise.all(Object.values(targets).map((target) => target.stop()));
    await upstream.stop();
    removeRunDirectories();
  }
}

// ---------------------------------------------------------------------------------------------
// Growth: turn latency with a small and a large store, and a small and a large tenant.

export interface GrowthOptions extends CommonOptions {
  users?: number;
  perSecond?: number;
  warmupMs?: number;
  /** Measured time of each case, split into `rounds` windows taken in turn. */
  durationMs?: number;
  rounds?: number;
  smallAudit?: number;
  largeAudit?: number;
  smallEnvironments?: number;
  largeEnvironments?: number;
}

export interface GrowthCase {
  name: 'base' | 'audit' | 'environments';
  auditRecords: number;
  environments: number;
  /** How long writing the history through the store took, in ms. */
  seedMs: number;
  bot: LoadFigures;
}

export interface GrowthReport {
  users: number;
  perSecond: number;
  rounds: number;
  cases: GrowthCase[];
  /** The floor, measured in the same rounds: the machine's own drift shows here. */
  floor: LoadFigures;
}

/**
 * Three bots side by side (a small store and tenant; a large store; a large tenant) and the floor,
 * each a process, measured in turn in short windows, round after round, so that whatever the
 * machine does meanwhile falls on every case alike.
 */
export async function runGrowthBench(options: GrowthOptions = {}): Promise<GrowthReport> {
  const settings = {
    users: 20,
    perSecond: 100,
    warmupMs: 3_000,
    durationMs: 12_000,
    rounds: 4,
    smallAudit: 100,
    largeAudit: 100_000,
    smallEnvironments: 10,
    largeEnvironments: 10_000,
    ...options,
  };
  const users = benchUsers(settings.users, 'growth');
  const history = benchUsers(50, 'history');
  const cases: Array<Pick<GrowthCase, 'name' | 'auditRecords' | 'environments'>> = [
    { name: 'base', auditRecords: settings.smallAudit, environments: settings.smallEnvironments },
    { name: 'audit', auditRecords: settings.largeAudit, environments: settings.smallEnvironments },
    {
      name: 'environments',
      auditRecords: settings.smallAudit,
      environments: settings.largeEnvironments,
    },
  ];
  interface Running {
    upstream: Upstream;
    target?: Target;
    driver?: TeamsDriver;
    step?: Step;
    meter?: LoadMeter;
    seedMs: number;
  }
  const running: Running[] = [];
  let floor: { target: Target; driver: TeamsDriver; step: Step; meter: LoadMeter } | undefined;
  try {
    for (const growthCase of cases) {
      const dir = runDirectory(`growth-${growthCase.name}`);
      const seeded = process.hrtime.bigint();
      await seedHistory(join(dir, 'bot.db'), growthCase.auditRecords, history);
      const seedMs = ms(process.hrtime.bigint() - seeded);
      const tenant = syntheticTenant(growthCase.environments);
      const entry: Running = {
        upstream: await startUpstream({ seed: tenant.seed, pageSize: 1_000 }),
        seedMs,
      };
      running.push(entry);
      entry.target = await startTarget('bot', {
        env: botEnv(dir, entry.upstream, options),
        logFile: join(dir, 'bot.log'),
        nodeFlags: options.botNodeFlags,
      });
      entry.driver = new TeamsDriver(entry.target.url, entry.upstream.sink);
      await warmUp(entry.driver, entry.upstream, users, tenant.names, 'bot', entry.target);
      entry.step = turnStep(entry.driver, users, spread(tenant.names));
      await openLoop({
        perSecond: settings.perSecond,
        durationMs: settings.warmupMs,
        step: entry.step,
      });
      entry.meter = new LoadMeter(entry.target);
    }
    const reference = running[0]!.upstream;
    const floorTarget = await startTarget('floor', {
      env: floorEnv(options),
      logFile: join(runDirectory('growth-floor'), 'floor.log'),
    });
    const floorDriver = new TeamsDriver(floorTarget.url, reference.sink);
    floor = {
      target: floorTarget,
      driver: floorDriver,
      step: turnStep(floorDriver, users, ['Synthetic 00001']),
      meter: new LoadMeter(floorTarget),
    };
    await warmUp(floorDriver, reference, users, ['Synthetic 00001'], 'floor', floorTarget);
    await openLoop({
      perSecond: settings.perSecond,
      durationMs: settings.warmupMs,
      step: floor.step,
    });

    const slots = [...running.map((entry) => ({ meter: entry.meter!, step: entry.step! })), floor];
    const windowMs = settings.durationMs / settings.rounds;
    for (let round = 0; round < settings.rounds; round++) {
      // A different case goes first in each round.
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[(i + round) % slots.length]!;
        await slot.meter.run(() =>
          openLoop({ perSecond: settings.perSecond, durationMs: windowMs, step: slot.step }),
        );
      }
    }
    return {
      users: settings.users,
      perSecond: settings.perSecond,
      rounds: settings.rounds,
      cases: cases.map((growthCase, index) => ({
        ...growthCase,
        seedMs: running[index]!.seedMs,
        bot: running[index]!.meter!.figures(),
      })),
      floor: floor.meter.figures(),
    };
  } finally {
    floor?.driver.close();
    await floor?.target.stop();
    for (const entry of running) {
      entry.driver?.close();
      await entry.target?.stop();
      await entry.upstream.stop();
    }
    removeRunDirectories();
  }
}

/** The names in an order that visits the whole tenant (a stride coprime with most sizes). */
function spread(names: readonly string[]): string[] {
  const stride = 7_919;
  return names.map((_, index) => names[(index * stride) % names.length]!);
}

// ---------------------------------------------------------------------------------------------
// Many simultaneous confirmations against an API that throttles.

export interface ThrottleOptions extends CommonOptions {
  confirmations?: number;
  /** How many applyAdminRole calls are answered 429 before the API answers normally again. */
  throttledCalls?: number;
  retryAfterSeconds?: number;
}

export interface ThrottleReport {
  confirmations: number;
  retryAfterSeconds: number;
  /** Requests whose outcome reached the conversation (the outcome message) in time. */
  finished: number;
  /** Requests `succeeded` in the bot's store. */
  succeeded: number;
  /** Requests with more than one successful applyAdminRole (must be 0). */
  duplicated: number;
  /** Successful applyAdminRole calls, 429 answers, and calls in all. */
  grants: number;
  throttled: number;
  applyCalls: number;
  /** From the first click to each confirmation's outcome (invoke answer and outcome message), ms. */
  completion: Summary;
  /** The clicks' HTTP answers that were not 200. */
  errors: number;
  /** The floor answering the same number of simultaneous clicks (no API), ms to the last. */
  floorLastMs: number;
}

export async function runThrottleBench(options: ThrottleOptions = {}): Promise<ThrottleReport> {
  const count = options.confirmations ?? 500;
  const retryAfterSeconds = options.retryAfterSeconds ?? 1;
  const throttledCalls = options.throttledCalls ?? 2 * count;
  const users = benchUsers(count, 'throttle');
  const upstream = await startUpstream();
  const dir = runDirectory('throttle');
  const environments = grantingEnvironments();
  const targets: Partial<Record<Side, Target>> = {};
  const drivers: Partial<Record<Side, TeamsDriver>> = {};
  try {
    [targets.bot, targets.floor] = await Promise.all([
      startTarget('bot', {
        env: botEnv(dir, upstream, options),
        logFile: join(dir, 'bot.log'),
        nodeFlags: options.botNodeFlags,
      }),
      startTarget('floor', { env: floorEnv(options), logFile: join(dir, 'floor.log') }),
    ]);
    const cards = {} as Record<Side, Map<string, { requestId?: string; activityId: string }>>;
    for (const side of SIDES) {
      drivers[side] = new TeamsDriver(targets[side]!.url, upstream.sink);
      // Each user asks once (and is signed in on the way): these are the cards clicked at once.
      cards[side] = await warmUp(
        drivers[side]!,
        upstream,
        users,
        environments,
        side,
        targets[side]!,
      );
    }

    // The floor first, as the reference: the same burst of clicks, no API behind them.
    const floorStart = process.hrtime.bigint();
    await Promise.all(
      users.map((user) => {
        const card = cards.floor.get(user.aadObjectId)!;
        return drivers.floor!.click(user, 'elevate', { justification: 'Burst' }, card.activityId);
      }),
    );
    const floorLastMs = ms(process.hrtime.bigint() - floorStart);

    upstream.simulator.override(
      `status=429;retry-after=${retryAfterSeconds};times=${throttledCalls}`,
      { operation: 'applyAdminRole' },
    );
    const before = upstream.simulator.calls.length;
    const answered = new Map<string, bigint>();
    let errors = 0;
    const start = process.hrtime.bigint();
    await Promise.all(
      users.map(async (user) => {
        const card = cards.bot.get(user.aadObjectId)!;
        const answer = await drivers.bot!.click(
          user,
          'elevate',
          { requestId: card.requestId, justification: 'Burst' },
          card.activityId,
        );
        if (answer.status !== 200) errors++;
        answered.set(user.aadObjectId, process.hrtime.bigint());
      }),
    );
    // The outcome message is the last thing a confirmation posts, whether it finished within the
    // click's answer or later: wait for every conversation to have one.
    const outcomeOf = (user: BenchUser) =>
      upstream.sink
        .events(conversationOf(user))
        .find((event) => event.method === 'POST' && event.at > start)?.at;
    const deadline = Date.now() + 120_000;
    while (users.some((user) => outcomeOf(user) === undefined) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const completion: number[] = [];
    for (const user of users) {
      const outcome = outcomeOf(user);
      const answer = answered.get(user.aadObjectId);
      if (outcome === undefined || answer === undefined) continue;
      completion.push(ms((outcome > answer ? outcome : answer) - start));
    }

    const ids = users.map((user) => cards.bot.get(user.aadObjectId)!.requestId!);
    const facts = await targets.bot!.ask<Record<string, RequestFacts>>({ op: 'requests', ids });
    const requestOf = new Map(
      Object.entries(facts).map(([id, fact]) => [fact.clientRequestId ?? `none:${id}`, id]),
    );
    const apply = upstream.simulator.calls
      .slice(before)
      .filter((call) => call.operation === 'applyAdminRole');
    const grantsPerRequest = new Map<string, number>();
    for (const call of apply) {
      if (call.status !== 200) continue;
      // A grant under a client request id the bot did not record for any request is a duplicate too.
      const id = requestOf.get(call.headers['x-ms-client-request-id'] ?? '') ?? 'unknown';
      grantsPerRequest.set(id, (grantsPerRequest.get(id) ?? 0) + 1);
    }
    return {
      confirmations: count,
      retryAfterSeconds,
      finished: completion.length,
      succeeded: Object.values(facts).filter((fact) => fact.state === 'succeeded').length,
      duplicated: [...grantsPerRequest].filter(([id, n]) => n > 1 || id === 'unknown').length,
      grants: apply.filter((call) => call.status === 200).length,
      throttled: apply.filter((call) => call.status === 429).length,
      applyCalls: apply.length,
      completion: summarize(completion),
      errors,
      floorLastMs,
    };
  } finally {
    for (const driver of Object.values(drivers)) driver.close();
    await Promise.all(Object.values(targets).map((target) => target.stop()));
    await upstream.stop();
    removeRunDirectories();
  }
}

// ---------------------------------------------------------------------------------------------
// Profiling: the bot alone under one load, with `node --cpu-prof`.

export interface ProfileOptions extends CommonOptions {
  /** What load: command-to-card turns, confirmations (message then Elevate), or turns on a large tenant. */
  load: 'turns' | 'confirmations' | 'turns-large-tenant';
  /** Which server runs with --cpu-prof (`azure`: the bot on Azurite). */
  side?: TurnSide;
  profileDir: string;
  users?: number;
  connections?: number;
  durationMs?: number;
}

export interface ProfiledLoad {
  /** The .cpuprofile file. */
  path: string;
  /** The measured window, in microseconds of the monotonic clock (as the profile's timestamps). */
  fromUs: number;
  toUs: number;
  /** HTTP requests the server answered in the window. */
  requests: number;
}

/**
 * Runs a closed-loop load on one server started with --cpu-prof and returns the profile with the
 * window of the load, so that start-up and warm-up can be left out of it.
 */
export async function runProfiledLoad(options: ProfileOptions): Promise<ProfiledLoad> {
  const side = options.side ?? 'bot';
  const users = benchUsers(options.users ?? 50, 'profile');
  const tenant = options.load === 'turns-large-tenant' ? syntheticTenant(10_000) : undefined;
  const environments = tenant ? spread(tenant.names) : grantingEnvironments();
  const upstream = await startUpstream(tenant ? { seed: tenant.seed, pageSize: 1_000 } : {});
  const dir = runDirectory('profile');
  const before = new Set(profilesIn(options.profileDir));
  let storage: { azurite: BenchAzurite; proxy: CountingProxy } | undefined;
  let target: Target;
  try {
    if (side === 'azure') storage = await startAzureStorage();
    target = await startTarget(side === 'floor' ? 'floor' : 'bot', {
      env:
        side === 'floor'
          ? floorEnv(options)
          : botEnv(dir, upstream, options, storage ? azureEnv(storage.proxy.connectionString) : {}),
      logFile: join(dir, `${side}.log`),
      cpuProfileDir: options.profileDir,
    });
  } catch (error) {
    await storage?.proxy.stop();
    await storage?.azurite.stop();
    await upstream.stop();
    throw error;
  }
  const driver = new TeamsDriver(target.url, upstream.sink);
  let window: Omit<ProfiledLoad, 'path'>;
  try {
    await warmUp(driver, upstream, users, environments, side, target);
    const confirmations = options.load === 'confirmations';
    const step = confirmations
      ? async (index: number) => {
          const user = users[index % users.length]!;
          return (await driver.elevate(user, environments[index % environments.length]!)).click.ns;
        }
      : turnStep(driver, users, environments);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const result = await closedLoop({
      connections: options.connections ?? (confirmations ? 8 : 32),
      warmupMs: 0,
      durationMs: options.durationMs ?? 10_000,
      step,
    });
    const toUs = Number(process.hrtime.bigint() / 1000n);
    // A confirmation is two requests (the message and the click).
    window = {
      fromUs,
      toUs,
      requests: (result.samples.length + result.errors) * (confirmations ? 2 : 1),
    };
  } finally {
    driver.close();
    await target.stop();
    await storage?.proxy.stop();
    await storage?.azurite.stop();
    await upstream.stop();
    removeRunDirectories();
  }
  const written = profilesIn(options.profileDir).filter(
    (name) => name.endsWith('.cpuprofile') && !before.has(name),
  );
  if (written.length === 0) throw new Error(`no CPU profile was written in ${options.profileDir}`);
  return { path: join(options.profileDir, written[0]!), ...window };
}

function profilesIn(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Experiment: what one more Bot Connector call per turn costs on this stack.

export interface TypingExperiment {
  connections: number;
  floor: LoadFigures;
  /** The floor with a typing indicator before each card (two connector calls per turn). */
  floorWithTyping: LoadFigures;
}

/**
 * The floor and the floor sending a typing indicator first, in a closed loop, in turn: the
 * price of the bot's typing indicator, measured without any of the bot's other work.
 */
export async function runTypingExperiment(
  options: { connections?: number; warmupMs?: number; durationMs?: number; users?: number } = {},
): Promise<TypingExperiment> {
  const connections = options.connections ?? 32;
  const users = benchUsers(options.users ?? 200, 'typing');
  const upstream = await startUpstream();
  const dir = runDirectory('typing');
  const targets: Target[] = [];
  const drivers: TeamsDriver[] = [];
  try {
    const [plain, typing] = await Promise.all([
      startTarget('floor', { env: { LOG_LEVEL: 'info' }, logFile: join(dir, 'floor.log') }),
      startTarget('floor', {
        env: { LOG_LEVEL: 'info', BENCH_FLOOR_TYPING: '1' },
        logFile: join(dir, 'floor-typing.log'),
      }),
    ]);
    targets.push(plain!, typing!);
    const figures: LoadFigures[] = [];
    for (const target of targets) {
      const driver = new TeamsDriver(target.url, upstream.sink);
      drivers.push(driver);
      figures.push(
        await measured(target, () =>
          closedLoop({
            connections,
            warmupMs: options.warmupMs ?? 3_000,
            durationMs: options.durationMs ?? 10_000,
            step: turnStep(driver, users, ['Contoso Dev']),
          }),
        ),
      );
    }
    return { connections, floor: figures[0]!, floorWithTyping: figures[1]! };
  } finally {
    for (const driver of drivers) driver.close();
    await Promise.all(targets.map((target) => target.stop()));
    await upstream.stop();
    removeRunDirectories();
  }
}
