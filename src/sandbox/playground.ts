/**
 * Starts the Microsoft 365 Agents Playground (the local Teams emulator) pointed at a bot, for the
 * sandbox and for the e2e tests. Facts observed with @microsoft/m365agentsplayground 0.2.28: it
 * prints only "Listening on <port>" when stdout is not a terminal (everything else goes to its
 * log file), falls back to a random port when the requested one is taken, opens a browser
 * unless TEAMSAPPTESTER_BROWSER=none, and listens on every interface, having no host option (so
 * it is kept on loopback by a preload: see playground-loopback.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loopbackPreload } from './playground-loopback';

const CLI = require.resolve('@microsoft/m365agentsplayground/cli.js');

const DEFAULTS = {
  startTimeoutMs: 30_000,
  stopTimeoutMs: 5_000,
};

export interface PlaygroundOptions {
  /** The bot's messaging endpoint, e.g. `http://127.0.0.1:3978/api/messages`. */
  botEndpoint: string;
  /** Port of the web UI and of the emulated connector; default: a free port. */
  port?: number;
  /** Working directory of the CLI; default: a fresh temporary directory. */
  cwd?: string;
  /** Contents of a `.m365agentsplayground.yml` (users, chats, team); default: the built-in one. */
  configYaml?: string;
  /** How long to wait for the web UI to answer. */
  startTimeoutMs?: number;
}

export interface Playground {
  /** The web UI, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** What the Playground puts in activities' `serviceUrl` (its emulated Bot Connector). */
  serviceUrl: string;
  /** The CLI's log: when stdout is not a terminal it writes everything there. */
  logFile: string;
  stop(): Promise<void>;
}

/** Process groups still running, killed if this process exits first. */
const runningGroups = new Set<number>();
process.once('exit', () => runningGroups.forEach((pid) => killGroup(pid, 'SIGKILL')));

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts the Playground CLI in its own process group; `stop()` ends the whole group. */
export async function startPlayground(options: PlaygroundOptions): Promise<Playground> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'playground-'));
  const logFile = path.join(workDir, 'playground.log');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEAMSAPPTESTER_BROWSER: 'none', // otherwise it opens its UI with xdg-open
    M365_AGENTS_PLAYGROUND_LOGFILE: logFile, // otherwise ./devTools/ in the working directory
  };
  if (options.configYaml !== undefined) {
    const configPath = path.join(workDir, '.m365agentsplayground.yml');
    writeFileSync(configPath, options.configYaml);
    env.M365_AGENTS_PLAYGROUND_CONFIG_PATH = configPath;
  }
  const requestedPort = options.port ?? (await freePort());
  const args = ['-e', options.botEndpoint, '-c', 'msteams', '--dt', '-p', String(requestedPort)];
  const child = spawn(process.execPath, [...loopbackPreload(workDir), CLI, ...args], {
    cwd: options.cwd ?? workDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('Could not spawn the Agents Playground CLI.');
  runningGroups.add(pid);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  const stop = async (): Promise<void> => {
    await stopGroup(child, pid);
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    // It falls back to a random port when the requested one is taken, and says which.
    const port = await waitForListening(
      child,
      () => output,
      options.startTimeoutMs ?? DEFAULTS.startTimeoutMs,
    );
    const url = `http://127.0.0.1:${port}`;
    await waitForUi(url, child, logFile, options.startTimeoutMs ?? DEFAULTS.startTimeoutMs);
    return { url, serviceUrl: `http://localhost:${port}/_connector`, logFile, stop };
  } catch (error) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : '';
    await stop();
    throw new Error(`${(error as Error).message}\nCLI output:\n${output}\nCLI log:\n${log}`);
  }
}

function waitForListening(
  child: ChildProcess,
  output: () => string,
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = /Listening on (\d+)/.exec(output());
      if (match?.[1]) done(() => resolve(Number(match[1])));
    };
    const exited = (code: number | null): void =>
      done(() =>
        reject(new Error(`The Agents Playground exited (code ${code}) before listening.`)),
      );
    const timer = setTimeout(
      () =>
        done(() =>
          reject(new Error(`The Agents Playground did not listen within ${timeoutMs} ms.`)),
        ),
      timeoutMs,
    );
    const done = (settle: () => void): void => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', exited);
      settle();
    };
    child.stdout?.on('data', check);
    child.once('exit', exited);
    check();
  });
}

/** Polls the web UI; gives up early when the CLI exits or logs that it failed to start. */
async function waitForUi(
  url: string,
  child: ChildProcess,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not answering yet
    }
    // A bad config file is reported only in the log; the CLI then hangs flushing telemetry.
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    if (log.includes('Failed to start') || child.exitCode !== null) {
      throw new Error('The Agents Playground failed to start.');
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopGroup(child: ChildProcess, pid: number): Promise<void> {
  runningGroups.delete(pid);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(pid, 'SIGTERM');
  const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), DEFAULTS.stopTimeoutMs);
  await exited;
  clearTimeout(timer);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
