/**
 * Azure Table Storage for the bench: Azurite's Table service as a process of its own, started as
 * test/support/azurite.ts starts it for the tests (loopback, a free port, its data in a temporary
 * folder, silent, telemetry off), with its CPU time read from /proc; and a counting proxy in front
 * of it (like test/support/storage-edge.ts, without the refusals) that counts the bot's Table
 * requests by kind. The bot's connection string names the proxy, so every request is counted.
 *
 * Azurite is spawned as `node <azurite's table entry>` (not through node_modules/.bin), so that
 * the child's pid is Azurite's own process and its CPU is what /proc says of that pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardTo } from '../test/support/storage-edge';
import { freePort, processCpuMs } from './targets';

/** The emulator's well-known development account (public, documented by Microsoft). */
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface BenchAzurite {
  port: number;
  pid: number;
  connectionString: string;
  /** CPU time (user + system) Azurite used so far, in ms; undefined where /proc is missing. */
  cpuMs(): number | undefined;
  /** Stops the process and removes its folder. */
  stop(): Promise<void>;
}

export function connectionStringFor(port: number): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};` +
    `TableEndpoint=http://127.0.0.1:${port}/${ACCOUNT};`
  );
}

/** Whether something answers HTTP on the port (any status will do). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: `/${ACCOUNT}/Tables`, timeout: 1000 });
    req.once('response', (res) => {
      res.resume();
      resolve(true);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

export async function startBenchAzurite(timeoutMs = 30_000): Promise<BenchAzurite> {
  // A port can be taken between the probe and Azurite's listen: try again with another one.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(timeoutMs);
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

async function startOnce(timeoutMs: number): Promise<BenchAzurite> {
  const port = await freePort();
  const location = mkdtempSync(join(tmpdir(), 'bench-azurite-'));
  // Only the well-known account: custom accounts from the environment would replace it.
  const env = { ...process.env };
  delete env.AZURITE_ACCOUNTS;
  const child: ChildProcess = spawn(
    process.execPath,
    [
      require.resolve('azurite/dist/src/table/main.js'),
      '--tableHost',
      '127.0.0.1',
      '--tablePort',
      String(port),
      '--location',
      location,
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
      '--disableTelemetry',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exited (${signal ?? code})`;
      resolve();
    });
  });
  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    }
    rmSync(location, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await answers(port))) {
    if (exited !== undefined || Date.now() > deadline) {
      await stop();
      throw new Error(
        `Azurite (table) did not start on port ${port}: ${exited ?? 'no answer in time'}\n${output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const pid = child.pid ?? 0;
  return {
    port,
    pid,
    connectionString: connectionStringFor(port),
    cpuMs: () => processCpuMs(pid),
    stop,
  };
}

/** Requests counted so far: all of them, and by kind. */
export interface StorageCounts {
  total: number;
  byKind: Record<string, number>;
}

export interface CountingProxy {
  /** A connection string whose requests go through the proxy. */
  connectionString: string;
  counts(): StorageCounts;
  stop(): Promise<void>;
}

/**
 * The kind of a Table request, from its method and path: a point read names its entity's keys,
 * any other GET is a query; a POST to $batch is an entity group transaction.
 */
export function tableRequestKind(method: string, url: string): string {
  const path = decodeURIComponent(url.split('?')[0] ?? '');
  if (method === 'GET') return /\(PartitionKey=.*,RowKey=.*\)$/.test(path) ? 'point read' : 'query';
  if (method === 'POST') return path.endsWith('$batch') ? 'batch' : 'insert';
  return method;
}

/**
 * An HTTP proxy in front of Azurite that counts every request by kind and forwards it as it is,
 * streamed (bodies are not buffered), over kept-alive connections.
 */
export async function startCountingProxy(azurite: { port: number }): Promise<CountingProxy> {
  // The usual kinds first, in a fixed order for the report; any other method is added as seen.
  const byKind: Record<string, number> = { 'point read': 0, query: 0, insert: 0, batch: 0 };
  let total = 0;
  const agent = new Agent({ keepAlive: true });
  const server = createServer((req, res) => {
    const kind = tableRequestKind(req.method ?? '', req.url ?? '');
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    total += 1;
    req.pipe(forwardTo(azurite.port, req, res, agent));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    connectionString: connectionStringFor(port),
    counts: () => ({ total, byKind: { ...byKind } }),
    stop: () =>
      new Promise((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
