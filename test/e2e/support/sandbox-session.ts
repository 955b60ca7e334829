/**
 * One sandbox (bot, simulated API, Playground) and one Playground page for a whole e2e file,
 * started before its tests and stopped after them; the log lines are kept for the tests to read.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { createLogger } from '../../../src/log';
import type { Policy } from '../../../src/policy/policy';
import type { RecordedCall } from '../../../src/sandbox/power-platform-simulator';
import { type Sandbox, startSandbox } from '../../../src/sandbox/sandbox';
import { freePort, openPlaygroundPage, type PlaygroundPage } from './playground';

/** Where UPDATE_SCREENSHOTS=1 saves the README's screenshots. */
export const SCREENSHOTS = path.join(__dirname, '..', '..', '..', 'docs', 'screenshots');

export interface SandboxSession {
  /** The bot's log lines (JSON), oldest first. */
  logLines: string[];
  page(): Page;
  sandbox(): Sandbox;
  /** Every call the simulated Power Platform API received. */
  simulatorCalls(): RecordedCall[];
}

/** `policy`: guardrails per environment for the bot, as a policy file would give them. */
export function useSandboxSession(name: string, options: { policy?: Policy } = {}): SandboxSession {
  const logLines: string[] = [];
  const tempDir = mkdtempSync(path.join(tmpdir(), `${name}-e2e-`));
  let sandbox: Sandbox | undefined;
  let ui: PlaygroundPage | undefined;

  beforeAll(async () => {
    sandbox = await startSandbox({
      env: { PORT: '0', SQLITE_PATH: path.join(tempDir, `${name}.sqlite`) },
      logger: createLogger({ sink: (line) => logLines.push(line) }),
      playground: true,
      playgroundPort: await freePort(),
      policy: options.policy,
    });
    if (!sandbox.playground) throw new Error('the sandbox started no Playground');
    ui = await openPlaygroundPage(sandbox.playground.url);
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    await ui?.close();
    await sandbox?.stop();
    rmSync(tempDir, { recursive: true, force: true });
  });

  return {
    logLines,
    page: () => {
      if (!ui) throw new Error('the Playground page did not open');
      return ui.page;
    },
    sandbox: () => {
      if (!sandbox) throw new Error('the sandbox did not start');
      return sandbox;
    },
    simulatorCalls: () => {
      const calls = sandbox?.simulator?.calls;
      if (!calls) throw new Error('the sandbox has no simulator');
      return calls;
    },
  };
}
