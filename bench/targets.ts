/**
 * Starting servers under test as child processes, and reading them from outside: the wall time
 * from spawn to the first 200 on /healthz, resident memory and CPU time from /proc.
 *
 * Compiled (`npm run bench` runs dist/bench/*.js) the children run compiled JavaScript too, the
 * bot and the floor alike; from TypeScript (the jest smoke test) they are transpiled on load by
 * test/support/ts-register.js, which is slower to start but otherwise the same program.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TargetMessage, TargetQuery, TargetRequest } from './target';

/** What runs: the bench's bot or floor (bench/target.ts), or the production entry (src/index). */
export type TargetKind = 'bot' | 'floor' | 'production';

const FROM_TYPESCRIPT = __filename.endsWith('.ts');
const EXTENSION = FROM_TYPESCRIPT ? '.ts' : '.js';
/** The repository (from bench/ or from <outDir>/bench/, test/support is next to it either way). */
const ROOT = join(__dirname, '..');
const SCRIPTS: Record<TargetKind, string> = {
  bot: join(__dirname, `target${EXTENSION}`),
  floor: join(__dirname, `target${EXTENSION}`),
  production: join(ROOT, 'src', `index${EXTENSION}`),
};

/** A fake but well-formed production configuration: nothing at start needs the network. */
export const PRODUCTION_ENV: Record<string, string> = {
  BOT_ID: '00000000-0000-4000-8000-00000000b07b',
  BOT_PASSWORD: 'bench-not-a-secret',
  BOT_TENANT_ID: '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8',
  AAD_APP_CLIENT_ID: '5a1d0e6b-1c3f-4d2e-9b8a-7c6d5e4f3a21',
  AAD_APP_TENANT_ID: '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8',
  AAD_APP_CLIENT_SECRET: 'bench-not-a-secret',
  HOST: '127.0.0.1',
};

export interface TargetOptions {
  /** Environment variables of the child (PATH and HOME are passed on, nothing else). */
  env?: Record<string, string>;
  /** Where the child's stdout and stderr go (a file); a temporary file by default. */
  logFile?: string;
  /** Writes a V8 CPU profile into this directory when the child exits normally. */
  cpuProfileDir?: string;
  /** More flags for node (diagnosis: --expose-gc, --trace-gc, ...). */
  nodeFlags?: string[];
}

export interface Target {
  kind: TargetKind;
  url: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Asks the child over IPC (bot and floor only). */
  ask<T>(query: TargetRequest): Promise<T>;
  /** Resident memory now and at its peak, in bytes, from /proc (or the child's own report). */
  memory(): Promise<{ rss: number; peak?: number }>;
  /** CPU time (user + system) the child used so far, in ms; undefined where /proc is missing. */
  cpuMs(): number | undefined;
  /** Stops the child (normally, so a CPU profile is written) and waits for it to exit. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function childEnv(kind: TargetKind, port: number, env: Record<string, string>) {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    // Compiled output outside the repository still finds the repository's node_modules.
    ...(process.env.NODE_PATH ? { NODE_PATH: process.env.NODE_PATH } : {}),
    ...(kind === 'production' ? PRODUCTION_ENV : { BENCH_TARGET: kind, SANDBOX: 'true' }),
    HOST: '127.0.0.1',
    PORT: String(port),
    ...env,
  };
}

function spawnChild(kind: TargetKind, port: number, options: TargetOptions, logFile: string) {
  const args = [
    // As `npm start` runs the bot (restify's dependencies use a deprecated API at load).
    '--no-deprecation',
    ...(options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : []),
    ...(options.nodeFlags ?? []),
    ...(FROM_TYPESCRIPT ? ['-r', join(ROOT, 'test', 'support', 'ts-register.js')] : []),
    SCRIPTS[kind],
  ];
  const fd = openSync(logFile, 'a');
  try {
    return spawn(process.execPath, args, {
      env: childEnv(kind, port, options.env ?? {}),
      stdio: ['ignore', fd, fd, ...(kind === 'production' ? [] : ['ipc' as const])],
    });
  } finally {
    closeSync(fd);
  }
}

function tempLog(kind: TargetKind): string {
  return join(mkdtempSync(join(tmpdir(), `bench-${kind}-`)), 'output.log');
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`);
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Spawns the target and measures the wall time from spawn to the first 200 on /healthz (polled
 * every 2 ms; a refused connection costs microseconds). The child keeps running.
 */
export async function startTarget(
  kind: TargetKind,
  options: TargetOptions = {},
): Promise<Target & { startMs: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = options.logFile ?? tempLog(kind);
  const started = process.hrtime.bigint();
  const child = spawnChild(kind, port, options, logFile);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await healthy(url)) break;
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `the ${kind} target did not become healthy:\n${readFileSync(logFile, 'utf8').slice(-4000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const startMs = Number(process.hrtime.bigint() - started) / 1e6;

  let nextId = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  child.on('message', (message: TargetMessage) => {
    if (message.type === 'reply') {
      waiting.get(message.id)?.(message.result);
      waiting.delete(message.id);
    }
  });
  const ask = <T>(query: TargetRequest): Promise<T> => {
    if (!child.send) return Promise.reject(new Error(`the ${kind} target has no IPC channel`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, (result) => resolve(result as T));
      child.send!({ ...query, id } as TargetQuery, (error) => {
        if (error) {
          waiting.delete(id);
          reject(error);
        }
      });
    });
  };
  const pid = child.pid ?? 0;
  return {
    kind,
    url,
    pid,
    child,
    logFile,
    startMs,
    ask,
    async memory() {
      const status = readProc(`/proc/${pid}/status`);
      if (status) {
        const kb = (name: string) =>
          Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
        return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
      }
      const usage = await ask<NodeJS.MemoryUsage>({ op: 'memory' });
      return { rss: usage.rss };
    },
    cpuMs: () => processCpuMs(pid),
    async stop() {
      if (exited) return;
      if (kind === 'production') {
        child.kill('SIGTERM');
      } else {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          ask({ op: 'stop' }).catch(() => undefined),
          new Promise((resolve) => (timer = setTimeout(resolve, 5_000))),
        ]);
        clearTimeout(timer);
      }
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(killer);
    },
  };
}

/** CPU time (user + system) a process used so far, in ms, from /proc; undefined elsewhere. */
export function processCpuMs(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
