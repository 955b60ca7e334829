/**
 * Azurite's Table service (npm `azurite`, run from node_modules) as a child process for a test
 * file: on a free port, in a temp folder, silent, telemetry off. Tests start and stop it
 * themselves.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The emulator's well-known development account (public, documented by Microsoft). */
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const BINARY = resolve(__dirname, '../../node_modules/.bin/azurite-table');

export interface Azurite {
  /** A connection string for the running service. */
  connectionString: string;
  /** The Table endpoint of the account (https:// with `tls`). */
  accountUrl: string;
  port: number;
  /** Stops the process and removes its folder. */
  stop(): Promise<void>;
}

/** A port nobody listens on now (`--tablePort 0` would not tell which one Azurite took). */
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

/**
 * HTTPS with this certificate and key (PEM files), and OAuth bearer tokens accepted: Azurite's
 * `--oauth basic` checks a token's issuer, audience and lifetime (not its signature), over HTTPS only.
 */
export interface AzuriteOptions {
  tls?: { cert: string; key: string };
  oauth?: boolean;
}

/** Whether something answers HTTP on the port (any status will do). */
function answers(port: number, tls: boolean): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const options = { host: '127.0.0.1', port, path: `/${ACCOUNT}/Tables`, timeout: 1000 };
    // Only whether it answers: the test's own certificate is not trusted by this process.
    const req = tls ? httpsRequest({ ...options, rejectUnauthorized: false }) : request(options);
    req.once('response', (res) => {
      res.resume();
      resolveAnswer(true);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolveAnswer(false));
    req.end();
  });
}

export async function startAzurite(
  timeoutMs = 30_000,
  options: AzuriteOptions = {},
): Promise<Azurite> {
  // A port can be taken between the probe and Azurite's listen: try again with another one.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(timeoutMs, options);
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

async function startOnce(timeoutMs: number, options: AzuriteOptions): Promise<Azurite> {
  const port = await freePort();
  const location = mkdtempSync(join(tmpdir(), 'azurite-'));
  // Only the well-known account: custom accounts from the environment would replace it.
  const env = { ...process.env };
  delete env.AZURITE_ACCOUNTS;
  const child: ChildProcess = spawn(
    BINARY,
    [
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
      ...(options.tls ? ['--cert', options.tls.cert, '--key', options.tls.key] : []),
      ...(options.oauth ? ['--oauth', 'basic'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited: string | undefined;
  const exit = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exited = `exited (${signal ?? code})`;
      resolveExit();
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
  while (!(await answers(port, options.tls !== undefined))) {
    if (exited !== undefined || Date.now() > deadline) {
      await stop();
      throw new Error(
        `Azurite (table) did not start on port ${port}: ${exited ?? 'no answer in time'}\n${output}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const scheme = options.tls ? 'https' : 'http';
  return {
    port,
    connectionString:
      `DefaultEndpointsProtocol=${scheme};AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};` +
      `TableEndpoint=${scheme}://127.0.0.1:${port}/${ACCOUNT};`,
    accountUrl: `${scheme}://127.0.0.1:${port}/${ACCOUNT}`,
    stop,
  };
}
