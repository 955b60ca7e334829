/**
 * `npm run sandbox` listens on loopback only. The sandbox bot skips Bot Framework authentication
 * and its sign-in mints tokens for whoever the activity names, so any socket of it (or of the
 * Playground, which forwards to it) reachable from the network would hand out admin tokens.
 *
 * The sandbox is started as the npm script starts it (src/sandbox/main.ts, the Playground
 * included), and the sockets its processes listen on are read from /proc. No traffic is sent to
 * any address of the machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/sandbox/playground';
import {
  isLoopback,
  type ListeningSocket,
  listeningSockets,
  processTree,
} from '../support/listening-sockets';

const ROOT = join(__dirname, '..', '..');
const STARTED = 'Stop with Ctrl+C.';

jest.setTimeout(180_000);

let dir: string;
let sandbox: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sandbox-loopback-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Free ports, so that a sandbox someone else runs on this machine is not in the way.
    PORT: '0',
    PLAYGROUND_PORT: String(await freePort()),
    SQLITE_PATH: join(dir, 'sandbox.db'),
    LOG_LEVEL: 'warn',
  };
  delete env.SANDBOX_PLAYGROUND;
  delete env.POWERPLATFORM_API_URL;
  delete env.HOST;
  sandbox = spawn(
    process.execPath,
    ['-r', join(ROOT, 'test/support/ts-register.js'), join(ROOT, 'src/sandbox/main.ts')],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes(STARTED)) resolve();
    };
    sandbox!.stdout!.on('data', read);
    sandbox!.stderr!.on('data', read);
    sandbox!.once('exit', (code) =>
      reject(new Error(`The sandbox exited (code ${code}) before it started:\n${output}`)),
    );
  });
});

afterAll(async () => {
  const child = sandbox;
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    const tree = processTree(child.pid);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // As Ctrl+C: the sandbox stops its servers and the Playground's process group.
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const pid of tree) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }, 15_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
});

/** `Bot: http://127.0.0.1:3978/api/messages` and the Playground's address, from the banner. */
function portOf(label: string): number {
  const match = new RegExp(`${label}:\\s+(?:open )?http://[^:]+:(\\d+)`).exec(output);
  if (!match?.[1]) throw new Error(`no ${label} address in the banner:\n${output}`);
  return Number(match[1]);
}

function describeSocket(socket: ListeningSocket): string {
  const address = socket.family === 6 ? `[${socket.address}]` : socket.address;
  return `${address}:${socket.port} (pid ${socket.pid}: ${socket.command.slice(0, 120)})`;
}

describe('npm run sandbox', () => {
  it('listens on loopback addresses only: the bot, the simulators, the identity provider and the Playground', () => {
    const pids = processTree(sandbox!.pid!);
    const sockets = listeningSockets(pids);

    // The sockets found are the sandbox's: the bot's and the Playground's ports among them, the
    // Playground's in a process of its own.
    const ports = sockets.map((s) => s.port);
    expect(ports).toContain(portOf('Bot'));
    const playground = sockets.find((s) => s.port === portOf('Playground'));
    expect(playground?.pid).not.toBe(sandbox!.pid);
    // Bot, Power Platform simulator, Dataverse simulator, identity provider, Playground.
    expect(new Set(ports).size).toBeGreaterThanOrEqual(5);

    const exposed = sockets.filter((s) => !isLoopback(s.address)).map(describeSocket);
    expect(exposed).toEqual([]);
  });
});
