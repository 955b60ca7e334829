/**
 * The server under test, as a process of its own (spawned by bench/targets.ts), so that the load
 * driver never shares its CPU:
 *
 *   BENCH_TARGET=bot    the bot as the sandbox builds it (src/sandbox/sandbox.ts): the store, the
 *                       local identity provider with the production sign-in code pointed at it
 *                       (users are signed in silently), and startApp, against the Power Platform
 *                       API at POWERPLATFORM_API_URL (the simulator, in the driver's process).
 *   BENCH_TARGET=floor  bench/floor-bot.ts on the same server and adapter (with
 *                       BENCH_FLOOR_TYPING=1, a typing indicator before each card: an experiment).
 *
 * Configuration comes from the environment as for the bot (PORT, SQLITE_PATH, STORAGE, LOG_LEVEL,
 * ...). Over the IPC channel the driver asks for what only this process knows: the requests in
 * its store with their client request ids and API round trips (`requests`), its memory
 * (`memory`), the SQLite statements and transactions it ran so far (`storage`, with
 * BENCH_COUNT_SQL=1), and to stop (`stop`, which exits normally so that `--cpu-prof` writes its
 * profile).
 */
import { dataverseUrlAt } from '../src/sandbox/dataverse-simulator';
import Database from 'better-sqlite3';
import v8 from 'node:v8';
import { createStore, startApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import type { PowerPlatform } from '../src/elevation/ports';
import { HttpClient } from '../src/http/http-client';
import { createLogger, type LogLevel } from '../src/log';
import { PowerPlatformClient } from '../src/powerplatform/power-platform-client';
import { startSandboxIdentity } from '../src/sandbox/sandbox-sign-in';
import { SANDBOX_TENANT_ID } from '../src/sandbox/directory';
import { startFloorBot } from './floor-bot';

/** A request as the driver needs it after a run. */
export interface RequestFacts {
  state?: string;
  clientRequestId?: string;
  /** The bot's applyAdminRole round trip, as its PowerPlatform port saw it (BENCH_TIME_API=1). */
  apiNs?: string;
}

export type TargetRequest =
  | { op: 'requests'; ids: string[] }
  | { op: 'memory' }
  /** SQLite statements and transactions run so far (zeros without BENCH_COUNT_SQL=1). */
  | { op: 'storage' }
  /** With --expose-gc: memory after a full collection (what is really held); writes a heap snapshot to `snapshot`. */
  | { op: 'heap'; snapshot?: string }
  | { op: 'stop' };

/** The `heap` answer. */
export interface HeapFacts {
  before: NodeJS.MemoryUsage;
  /** After a full garbage collection (only with --expose-gc). */
  afterGc?: NodeJS.MemoryUsage;
  /** V8's heap spaces before the collection: where the heap's committed memory is. */
  spaces: Array<{ name: string; size: number; used: number }>;
  snapshot?: string;
}

export type TargetQuery = TargetRequest & { id: number };

export type TargetMessage =
  | { type: 'ready'; url: string }
  | { type: 'reply'; id: number; result: unknown }
  | { type: 'failed'; error: string };

/**
 * The production PowerPlatformClient, built exactly as src/app.ts builds it, with a stopwatch
 * around applyAdminRole: the API round trip as the bot's port sees it (HTTP client, retries,
 * parsing included), keyed by the client request id the service chose.
 */
class TimedPowerPlatform implements PowerPlatform {
  readonly applyNs = new Map<string, bigint>();
  constructor(private readonly inner: PowerPlatform) {}

  listEnvironments(token: string) {
    return this.inner.listEnvironments(token);
  }

  async applyAdminRole(token: string, environmentId: string, clientRequestId?: string) {
    const started = process.hrtime.bigint();
    try {
      return await this.inner.applyAdminRole(token, environmentId, clientRequestId);
    } finally {
      if (clientRequestId) this.applyNs.set(clientRequestId, process.hrtime.bigint() - started);
    }
  }
}

/** The `storage` answer: what the bot asked of SQLite so far, by kind. */
export interface SqliteCounts {
  total: number;
  byKind: Record<string, number>;
}

const sqlite = { reads: 0, writes: 0, transactions: 0, autocommitWrites: 0 };

/**
 * Counts every statement better-sqlite3 runs in this process, whichever store code runs it: a
 * wrapper around the prepared statement's methods and around `transaction` (outermost calls
 * only; a nested one is a savepoint, not a commit). A write outside a transaction is a commit of
 * its own. A few tens of nanoseconds per statement; the figures compare runs that both pay it.
 */
/** Statements that begin or end a transaction (or a savepoint). */
const CONTROL = /^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i;

function countSqlite(): void {
  const probe = new Database(':memory:');
  const statement = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<
    'run' | 'get' | 'all' | 'iterate',
    (this: Database.Statement, ...args: unknown[]) => unknown
  >;
  probe.close();
  for (const method of ['run', 'get', 'all', 'iterate'] as const) {
    const original = statement[method];
    statement[method] = function (this: Database.Statement, ...args: unknown[]) {
      // BEGIN, COMMIT and the like (better-sqlite3's transaction() prepares them too) are the
      // transaction counted below, not writes: counted as single writes before 2026-12-07.
      if (CONTROL.test(this.source)) return original.apply(this, args);
      if (this.reader) sqlite.reads += 1;
      else {
        sqlite.writes += 1;
        if (!this.database.inTransaction) sqlite.autocommitWrites += 1;
      }
      return original.apply(this, args);
    };
  }
  const prototype = Database.prototype as unknown as {
    transaction: (fn: (...args: unknown[]) => unknown) => unknown;
    exec: (sql: string) => unknown;
  };
  const transaction = prototype.transaction;
  let depth = 0;
  prototype.transaction = function (this: Database.Database, fn) {
    return transaction.call(this, (...args: unknown[]) => {
      if (depth === 0) sqlite.transactions += 1;
      depth += 1;
      try {
        return fn(...args);
      } finally {
        depth -= 1;
      }
    });
  };
  const exec = prototype.exec;
  prototype.exec = function (this: Database.Database, sql: string) {
    // A transaction begun by hand (group commit, say) counts as one too.
    if (/^\s*BEGIN\b/i.test(sql)) sqlite.transactions += 1;
    return exec.call(this, sql);
  };
}

function sqliteCounts(): SqliteCounts {
  return {
    total: sqlite.reads + sqlite.writes,
    // Reads and writes are statements (the total); the commits are the writes' transactions.
    byKind: {
      reads: sqlite.reads,
      writes: sqlite.writes,
      'commits: transactions': sqlite.transactions,
      'commits: single writes': sqlite.autocommitWrites,
    },
  };
}

function send(message: TargetMessage): void {
  process.send?.(message);
}

async function startBot(): Promise<{ url: string; app: App; timed?: TimedPowerPlatform }> {
  // As src/sandbox/sandbox.ts: the sandbox's sign-in app lives in the sandbox tenant.
  const config = loadConfig({
    ...process.env,
    SANDBOX: 'true',
    AAD_APP_TENANT_ID: SANDBOX_TENANT_ID,
  });
  const logger = createLogger({ level: config.logLevel });
  // As src/sandbox/sandbox.ts: the store first (the sign-in keeps sessions in it), then the
  // local identity provider and the production sign-in pointed at it, then the app.
  const store = await createStore(config);
  const identity = await startSandboxIdentity({
    powerPlatformApiUrl: config.powerPlatform.apiUrl,
    allowedTenantIds: config.allowedTenantIds,
    logger,
    store,
    tokenCacheKey: config.tokenCacheKey,
  });
  const timed =
    process.env.BENCH_TIME_API === '1'
      ? new TimedPowerPlatform(
          new PowerPlatformClient({
            baseUrl: config.powerPlatform.apiUrl,
            apiVersion: config.powerPlatform.apiVersion,
            http: new HttpClient({
              logger: logger.child({ component: 'http' }),
              attemptTimeoutMs: config.powerPlatform.attemptTimeoutMs,
              totalTimeoutMs: config.powerPlatform.totalTimeoutMs,
            }),
            logger: logger.child({ component: 'powerplatform' }),
          }),
        )
      : undefined;
  const dataverse = config.powerPlatform.sandboxDataverseUrl;
  const app = await startApp(config, {
    tokens: identity.signIn,
    signIn: identity.signIn,
    // Time-boxed as in the sandbox: the refresh token kept at each grant, Dataverse asked around it.
    later: identity.laterTokens,
    dataverseUrlFor: dataverse ? dataverseUrlAt(dataverse) : undefined,
    logger,
    store,
    powerPlatform: timed,
  });
  return { url: app.url, app, timed };
}

async function main(): Promise<void> {
  const kind = process.env.BENCH_TARGET;
  if (process.env.BENCH_COUNT_SQL === '1') countSqlite();
  let app: App | undefined;
  let timed: TimedPowerPlatform | undefined;
  let url: string;
  if (kind === 'floor') {
    const level = (process.env.LOG_LEVEL ?? 'info') as LogLevel;
    const floor = await startFloorBot({
      port: Number(process.env.PORT ?? 0),
      host: process.env.HOST ?? '127.0.0.1',
      logger: createLogger({ level }),
      typing: process.env.BENCH_FLOOR_TYPING === '1',
    });
    url = floor.url;
  } else if (kind === 'bot') {
    ({ url, app, timed } = await startBot());
  } else {
    throw new Error(`BENCH_TARGET must be "bot" or "floor", not "${kind ?? ''}"`);
  }

  process.on('message', (query: TargetQuery) => {
    void (async () => {
      switch (query.op) {
        case 'requests': {
          const result: Record<string, RequestFacts> = {};
          for (const id of query.ids) {
            const request = await app?.store.findRequest(id);
            const clientRequestId = request?.clientRequestId;
            const apiNs = clientRequestId ? timed?.applyNs.get(clientRequestId) : undefined;
            result[id] = { state: request?.state, clientRequestId, apiNs: apiNs?.toString() };
          }
          send({ type: 'reply', id: query.id, result });
          return;
        }
        case 'memory':
          send({ type: 'reply', id: query.id, result: process.memoryUsage() });
          return;
        case 'storage':
          send({ type: 'reply', id: query.id, result: sqliteCounts() });
          return;
        case 'heap': {
          const before = process.memoryUsage();
          const spaces = v8.getHeapSpaceStatistics().map((space) => ({
            name: space.space_name,
            size: space.space_size,
            used: space.space_used_size,
          }));
          const gc = (globalThis as { gc?: () => void }).gc;
          gc?.();
          const facts: HeapFacts = {
            before,
            afterGc: gc ? process.memoryUsage() : undefined,
            spaces,
            snapshot: query.snapshot ? v8.writeHeapSnapshot(query.snapshot) : undefined,
          };
          send({ type: 'reply', id: query.id, result: facts });
          return;
        }
        case 'stop':
          send({ type: 'reply', id: query.id, result: true });
          // A normal exit (not a signal), so that --cpu-prof writes the profile.
          setImmediate(() => process.exit(0));
          return;
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', url });
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  send({ type: 'failed', error: message });
  process.stderr.write(`bench target failed: ${message}\n`);
  process.exit(1);
});
