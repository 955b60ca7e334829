/**
 * Cancel and expiry are written with their audit events, in one write: when the store refuses the
 * audit event (a failure at its edge, as a crash between two writes would), the request stays as it
 * was, rather than being cancelled or expired with no record of it. Over the real bot, on SQLite and
 * on Azure Table Storage (Azurite, behind a proxy that refuses audit writes).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Azurite, startAzurite } from '../support/azurite';
import {
  AUDIT_EVENT_WRITE,
  refuseSqliteAuditEvents,
  startTableEdge,
  type TableEdge,
} from '../support/storage-edge';
import { actionData, ALEX, cardOf, startTestBot, TENANT, type TestBot } from '../support/test-bot';

const MINUTE = 60_000;

interface Setup {
  bot: TestBot;
  /** Makes the store refuse audit events until the returned function is called. */
  refuseAudit(): () => void;
}

describe.each([
  { name: 'SQLite', azure: false },
  { name: 'Azure Table Storage', azure: true },
])('on $name', ({ azure }) => {
  let azurite: Azurite | undefined;
  let edge: TableEdge | undefined;
  let dir: string;
  let setup: Setup;

  beforeAll(async () => {
    if (azure) azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'atomicity-'));
    const path = join(dir, 'bot.db');
    if (azurite) {
      edge = await startTableEdge(azurite);
      const bot = await startTestBot({
        env: {
          STORAGE: 'azure-table',
          AZURE_STORAGE_CONNECTION_STRING: edge.connectionString,
          AZURE_TABLE_PREFIX: `a${randomUUID().replace(/-/g, '').slice(0, 20)}`,
          TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
        },
      });
      const theEdge = edge;
      setup = {
        bot,
        refuseAudit: () => {
          theEdge.refuse(AUDIT_EVENT_WRITE);
          return () => theEdge.allow();
        },
      };
    } else {
      const bot = await startTestBot({ env: { SQLITE_PATH: path } });
      setup = { bot, refuseAudit: () => refuseSqliteAuditEvents(path) };
    }
  });

  afterEach(async () => {
    await setup.bot.stop();
    await edge?.stop();
    edge = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function openRequest(): Promise<string> {
    const asked = await setup.bot.say(ALEX, 'elevate me in Contoso Dev');
    return actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId as string;
  }

  async function eventsOf(requestId: string): Promise<string[]> {
    const events = await setup.bot.app.store.readAudit({ chain: TENANT, limit: 10_000 });
    return events.filter((e) => e.requestId === requestId).map((e) => e.type);
  }

  it('Cancel whose audit event is refused leaves the request waiting, as it was', async () => {
    const requestId = await openRequest();
    const allow = setup.refuseAudit();
    try {
      const click = await setup.bot.click(ALEX, 'cancel', { requestId });
      expect(JSON.stringify(click.body)).not.toContain('Elevation cancelled');
    } finally {
      allow();
    }
    expect((await setup.bot.app.store.findRequest(requestId))?.state).toBe('requested');
    expect(await eventsOf(requestId)).toEqual(['requested']);

    // Pressed again once the store takes writes: cancelled, and recorded.
    const again = await setup.bot.click(ALEX, 'cancel', { requestId });
    expect(JSON.stringify(again.body)).toContain('Elevation cancelled');
    expect((await setup.bot.app.store.findRequest(requestId))?.state).toBe('cancelled');
    expect(await eventsOf(requestId)).toEqual(['requested', 'cancelled']);
  });

  it('expiry whose audit event is refused leaves the request waiting; the next sweep expires and records it', async () => {
    const requestId = await openRequest();
    setup.bot.clock.advance(11 * MINUTE);
    const allow = setup.refuseAudit();
    try {
      await expect(setup.bot.app.sweeper.sweep()).rejects.toHaveProperty(
        'message',
        expect.stringMatching(/refused/),
      );
    } finally {
      allow();
    }
    expect((await setup.bot.app.store.findRequest(requestId))?.state).toBe('requested');
    expect(await eventsOf(requestId)).toEqual(['requested']);

    expect(await setup.bot.app.sweeper.sweep()).toBe(1);
    expect((await setup.bot.app.store.findRequest(requestId))?.state).toBe('expired');
    expect(await eventsOf(requestId)).toEqual(['requested', 'expired']);
  });
});
