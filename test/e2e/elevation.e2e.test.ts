import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/log';
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator';
import { type Sandbox, startSandbox } from '../../src/sandbox/sandbox';
import {
  cards,
  clickAction,
  conversation,
  fillInput,
  freePort,
  openPlaygroundPage,
  sendMessage,
  waitForText,
  type PlaygroundPage,
} from './support/playground';

describe('explore', () => {
  let sandbox: Sandbox | undefined;
  let ui: PlaygroundPage | undefined;
  const logs: string[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'elev-e2e-'));
  beforeAll(async () => {
    sandbox = await startSandbox({
      env: { PORT: '0', SQLITE_PATH: path.join(dir, 'db.sqlite') },
      logger: createLogger({ sink: (l) => logs.push(l), level: 'debug' }),
      playground: true,
      playgroundPort: await freePort(),
    });
    ui = await openPlaygroundPage(sandbox.playground!.url);
  }, 90_000);
  afterAll(async () => {
    await ui?.close();
    await sandbox?.stop();
    writeFileSync('/tmp/elev/logs.txt', logs.join('\n'));
    rmSync(dir, { recursive: true, force: true });
  });
  test('explore', async () => {
    const page = ui!.page;
    await sendMessage(page, `elevate me in ${WELL_KNOWN.contosoDev.displayName}`);
    await waitForText(page, 'Confirm elevation');
    await page.waitForTimeout(500);
    await page.screenshot({ path: '/tmp/elev/1-confirm.png', fullPage: true });
    writeFileSync('/tmp/elev/1.html', await conversation(page).innerHTML());
    await fillInput(page, 'Justification', 'INC-42 payroll flow broken');
    const r = await clickAction(page, 'Elevate');
    console.log(JSON.stringify(r).slice(0, 300));
    await waitForText(page, 'Correlation id:');
    await page.waitForTimeout(500);
    await page.screenshot({ path: '/tmp/elev/2-done.png', fullPage: true });
    writeFileSync('/tmp/elev/2.html', await conversation(page).innerHTML());
    console.log(await cards(page).count(), JSON.stringify(sandbox!.simulator!.calls, null, 1));
    await sendMessage(page, 'elevate me in contoso test');
    await waitForText(page, 'Several environments match');
    await page.waitForTimeout(500);
    await page.screenshot({ path: '/tmp/elev/3-pick.png', fullPage: true });
    writeFileSync('/tmp/elev/3.html', await conversation(page).innerHTML());
  });
});
