/**
 * The elevation flow end to end, as a person uses it: the real bot (sandbox mode), the simulated
 * Power Platform API and the Microsoft 365 Agents Playground, driven through its web UI in headless
 * chromium (type, fill, pick, click, read the screen). One sandbox, one Playground and one page for
 * the whole file; each test scopes itself to the bot messages and API calls it caused.
 *
 * With UPDATE_SCREENSHOTS=1 it also saves the README's screenshots into docs/screenshots/.
 */
import path from 'node:path';
import type { Locator } from 'playwright-core';
import { type RecordedCall, WELL_KNOWN } from '../../src/sandbox/power-platform-simulator';
import { PLAYGROUND_CURRENT_USER } from '../../src/sandbox/directory';
import {
  clickAction,
  conversation,
  fillInput,
  playgroundConfig,
  sendMessage,
  switchToGroupChat,
  switchToPersonalChat,
  switchUser,
} from './support/playground';
import { SCREENSHOTS, useSandboxSession } from './support/sandbox-session';

const WAIT_MS = 15_000;
/** The Playground's default current user and another member of its group chat. */
const ALEX = 'Alex Wilber';
const MEGAN = 'Megan Bowen';

/** Adaptive Cards, without the nested ones Action.ShowCard opens. */
const CARD = '.ac-adaptiveCard:not(.ac-adaptiveCard .ac-adaptiveCard)';
/** One message from the bot: a text, or a card with the banner the Playground adds under it. */
const BOT_MESSAGE = '.fai-OutputCard';
/** The Playground's banner under a clicked card ("Your response was sent to the app", or the bot's text). */
const INVOKE_BANNER = '[aria-label="Display Invoked Message"]';

describe('elevation in the Agents Playground', () => {
  const session = useSandboxSession('elevation');
  const { logLines, page, simulatorCalls } = session;

  beforeEach(async () => {
    // Whatever a failed test left behind: clicks come from the current user again.
    await switchUser(page(), ALEX);
  });

  /** What a test caused: bot messages, API calls and log lines from here on. */
  async function mark(): Promise<{ messages: number; calls: number; logs: number }> {
    return {
      messages: await botMessages().count(),
      calls: simulatorCalls().length,
      logs: logLines.length,
    };
  }

  function botMessages(): Locator {
    return conversation(page()).locator(BOT_MESSAGE);
  }

  /** The `index`th bot message after the mark, once it holds `text`. */
  async function botMessage(
    since: { messages: number },
    index: number,
    text: string | RegExp,
  ): Promise<Locator> {
    const message = botMessages().nth(since.messages + index);
    await message.filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
    return message;
  }

  /** Waits until `card` shows `text` (the bot replaces cards in place). */
  async function cardShows(card: Locator, text: string | RegExp): Promise<string> {
    await card.filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
    return card.innerText();
  }

  function applyAdminRoleCalls(since: { calls: number }): RecordedCall[] {
    return simulatorCalls()
      .slice(since.calls)
      .filter((call) => call.operation === 'applyAdminRole');
  }

  function errorsLogged(since: { logs: number }): string[] {
    return logLines.slice(since.logs).filter((line) => line.includes('"level":"error"'));
  }

  /** The user's own chat bubble with exactly this text (the newest one). */
  function ownMessage(text: string): Locator {
    return conversation(page()).getByText(text, { exact: true }).last();
  }

  /** The Playground-only "Your response was sent to the app" banner; Teams shows none. */
  async function dismissInvokeBanner(message: Locator): Promise<void> {
    const dismiss = message.locator(INVOKE_BANNER).getByRole('button', {
      name: 'Dismiss Invoke Message',
    });
    if (await dismiss.count()) await dismiss.click();
  }

  /**
   * Saves the conversation column from `top` down to `bottom` (what a README reader needs, without
   * the Playground's chat list and log panel). The page is made tall enough to hold both.
   */
  async function snap(file: string, top: Locator, bottom: Locator): Promise<void> {
    // Tracked pictures change with every run (ids, times): only rewrite them when asked to.
    if (process.env.UPDATE_SCREENSHOTS !== '1') return;
    const p = page();
    const viewport = p.viewportSize();
    await p.setViewportSize({ width: 1400, height: 1500 });
    try {
      await bottom.scrollIntoViewIfNeeded();
      await p.evaluate(() => document.fonts.ready);
      const pane = await conversation(p).boundingBox();
      const from = await top.boundingBox();
      const to = await bottom.boundingBox();
      if (!pane || !from || !to) throw new Error(`nothing to screenshot for ${file}`);
      // Above the user's bubble: room for its time stamp.
      const y = Math.max(pane.y, from.y - 30);
      const bottomEdge = Math.min(pane.y + pane.height, to.y + to.height + 16);
      await p.screenshot({
        path: path.join(SCREENSHOTS, file),
        clip: { x: pane.x, y, width: pane.width, height: bottomEdge - y },
        animations: 'disabled',
        caret: 'hide',
      });
    } finally {
      if (viewport) await p.setViewportSize(viewport);
    }
  }

  test('success: the card turns into the outcome with the correlation id the API answered', async () => {
    const env = WELL_KNOWN.contosoDev;
    const ask = `elevate me in ${env.displayName}`;
    const since = await mark();

    await sendMessage(page(), ask);
    const message = await botMessage(since, 0, 'Confirm elevation');
    const card = message.locator(CARD);
    const confirmation = await card.innerText();
    expect(confirmation).toContain(
      `You are about to make yourself System Administrator in ${env.displayName}.`,
    );
    expect(confirmation).toMatch(new RegExp(`Environment\\s+${env.displayName}`));
    expect(confirmation).toMatch(new RegExp(`Id\\s+${env.id}`));
    expect(confirmation).toMatch(new RegExp(`Requested by\\s+${ALEX}`));
    expect(applyAdminRoleCalls(since)).toHaveLength(0);

    await fillInput(page(), 'Justification', 'INC-4711: the payroll flow fails after the update', {
      card,
    });
    // confirmation-card.png is drawn by time-boxes.e2e.test.ts (with its duration choice).

    const answer = await clickAction(page(), 'Elevate', { card });
    expect(answer).toMatchObject({
      status: 200,
      body: { type: 'application/vnd.microsoft.card.adaptive' },
    });

    const outcome = await cardShows(card, '✅ Elevated: you are System Administrator');
    const calls = applyAdminRoleCalls(since);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call).toMatchObject({ method: 'POST', environmentId: env.id, status: 200 });
    const correlationId = call?.correlationId;
    expect(correlationId).toMatch(/^[0-9a-f-]{36}$/);
    // The id on screen is the one the API answered with, verbatim.
    expect(outcome.match(/Correlation id\s+(\S+)/)?.[1]).toBe(correlationId);
    expect(outcome).toMatch(new RegExp(`Environment\\s+${env.displayName}`));
    expect(outcome).toMatch(/Justification\s+INC-4711: the payroll flow fails after the update/);
    expect(outcome).toMatch(/HTTP status\s+200 OK/);
    expect(outcome).not.toContain('Confirm elevation');
    // Time-boxed: the only buttons left end it early or extend it (time-boxes.e2e covers them).
    const buttons = (await card.getByRole('button').allInnerTexts()).map((b) => b.trim());
    expect(buttons).toContain("I'm done");
    expect(buttons).toContain('Extend');
    expect(buttons.filter((b) => /Elevate|Cancel|Try again/.test(b))).toEqual([]);

    const text = await botMessage(since, 1, `Correlation id: ${correlationId}`);
    expect((await text.innerText()).trim()).toMatch(
      new RegExp(
        `^✅ Elevated: you are System Administrator in ${env.displayName}\\.\\s+Until .+: then the role is removed again\\.\\s+Correlation id: ${correlationId}$`,
      ),
    );
    await dismissInvokeBanner(message);
    // elevation-succeeded.png is drawn by time-boxes.e2e.test.ts (with until, I'm done, Extend).

    expect(applyAdminRoleCalls(since)).toHaveLength(1);
    expect(errorsLogged(since)).toEqual([]);
  });

  test('failure: a 2xx answer with userNotPartOfSecurityGroup shows as a failure with its code', async () => {
    const env = WELL_KNOWN.securityGroup;
    const ask = `elevate me in ${env.displayName}`;
    const since = await mark();

    await sendMessage(page(), ask);
    const message = await botMessage(since, 0, 'Confirm elevation');
    const card = message.locator(CARD);
    expect(await card.innerText()).toMatch(new RegExp(`Id\\s+${env.id}`));
    await fillInput(page(), 'Justification', 'CHG-204: fix a broken connection reference', {
      card,
    });
    await clickAction(page(), 'Elevate', { card });

    const outcome = await cardShows(card, '❌ Elevation failed');
    const [call, ...more] = applyAdminRoleCalls(since);
    expect(more).toHaveLength(0);
    expect(call).toMatchObject({ environmentId: env.id, status: 200 });
    expect(outcome).toMatch(/Error code\s+userNotPartOfSecurityGroup/);
    // The reason first, and the status says the 200 carried a failure.
    expect(outcome).toMatch(/HTTP status\s+200 OK \(with errors in the answer\)/);
    expect(outcome.match(/Correlation id\s+(\S+)/)?.[1]).toBe(call?.correlationId);
    expect(outcome).not.toContain('Elevated: you are');

    const text = await botMessage(since, 1, `Correlation id: ${call?.correlationId}`);
    expect((await text.innerText()).trim()).toMatch(
      new RegExp(
        `^❌ Elevation failed: you are not in the environment's security group in ${env.displayName}\\.\\s+Correlation id: `,
      ),
    );
    await dismissInvokeBanner(message);
    await snap('elevation-failed.png', ownMessage(ask), text);
    expect(errorsLogged(since)).toEqual([]);
  });

  test('several matches: the picked environment gets the confirmation and the elevation', async () => {
    const picked = WELL_KNOWN.contosoTestHyphen;
    const other = WELL_KNOWN.contosoTest;
    const ask = 'elevate me in contoso test';
    const since = await mark();

    await sendMessage(page(), ask);
    const message = await botMessage(since, 0, 'Several environments match');
    const card = message.locator(CARD);
    // One button per candidate, named after it; its type, region and id beside it.
    for (const env of [picked, other]) {
      await expect(
        card.getByRole('button', { name: env.displayName, exact: true }).count(),
      ).resolves.toBe(1);
      expect(await card.innerText()).toContain(env.id);
    }

    await snap('pick-environment.png', ownMessage(ask), message);
    await clickAction(page(), picked.displayName, { card });

    const confirmation = await cardShows(card, 'Confirm elevation');
    expect(confirmation).toMatch(new RegExp(`Environment\\s+${picked.displayName}`));
    expect(confirmation).toMatch(new RegExp(`Id\\s+${picked.id}`));
    expect(confirmation).not.toContain(other.id);
    expect(applyAdminRoleCalls(since)).toHaveLength(0);

    await fillInput(page(), 'Justification', 'Test a solution import', { card });
    await clickAction(page(), 'Elevate', { card });
    await cardShows(card, '✅ Elevated: you are System Administrator');
    const calls = applyAdminRoleCalls(since);
    expect(calls.map((c) => c.environmentId)).toEqual([picked.id]);
    expect(calls[0]?.path).toContain(`/environments/${picked.id}/user/applyAdminRole`);
    await botMessage(since, 1, `in ${picked.displayName}.`);
    expect(errorsLogged(since)).toEqual([]);
  });

  test('cancel: the card says cancelled and the API is never asked', async () => {
    const env = WELL_KNOWN.contosoProd;
    const ask = `elevate me in ${env.displayName}`;
    const since = await mark();

    await sendMessage(page(), ask);
    const message = await botMessage(since, 0, 'Confirm elevation');
    const card = message.locator(CARD);
    expect(await card.innerText()).toContain('This is a Production environment.');
    await clickAction(page(), 'Cancel', { card });

    const cancelled = await cardShows(card, '🚫 Elevation cancelled');
    expect(cancelled).toContain('Nothing was changed.');
    expect(cancelled).toMatch(new RegExp(`Environment\\s+${env.displayName}`));
    expect(await card.getByRole('button').count()).toBe(0);
    await dismissInvokeBanner(message);
    await snap('elevation-cancelled.png', ownMessage(ask), message);

    // The bot calls the API before it answers the click, so any call would be recorded by now.
    expect(applyAdminRoleCalls(since)).toEqual([]);
    expect(await botMessages().count()).toBe(since.messages + 1);
    expect(errorsLogged(since)).toEqual([]);
  });

  test('slow API: the card says in progress at once, then shows the outcome when it arrives', async () => {
    const env = WELL_KNOWN.contosoProd;
    // Longer than the bot's default 4 s budget for answering a click.
    session.sandbox().simulator!.override('delay-ms=6000;times=1', {
      operation: 'applyAdminRole',
      environmentId: env.id,
    });
    const since = await mark();
    await sendMessage(page(), `elevate me in ${env.displayName}`);
    const message = await botMessage(since, 0, 'Confirm elevation');
    const card = message.locator(CARD);
    await fillInput(page(), 'Justification', 'INC-5150: month-end close', { card });

    const answer = await clickAction(page(), 'Elevate', { card, timeoutMs: WAIT_MS });
    expect(answer.status).toBe(200);
    const inProgress = await cardShows(card, 'Elevation in progress');
    expect(inProgress).toMatch(/Client request id\s+[0-9a-f-]{36}/);

    const outcome = await cardShows(card, '✅ Elevated: you are System Administrator');
    const calls = applyAdminRoleCalls(since);
    expect(calls).toHaveLength(1);
    expect(outcome.match(/Correlation id\s+(\S+)/)?.[1]).toBe(calls[0]?.correlationId);
    await botMessage(since, 1, `Correlation id: ${calls[0]?.correlationId}`);
    expect(errorsLogged(since)).toEqual([]);
  });

  test('two cards for one environment: the older says it was replaced, and its Elevate calls nothing', async () => {
    const env = WELL_KNOWN.contosoDev;
    const ask = `elevate me in ${env.displayName}`;
    const since = await mark();

    await sendMessage(page(), ask);
    const older = await botMessage(since, 0, 'Confirm elevation');
    const olderCard = older.locator(CARD);
    const [olderRequest] = await session
      .sandbox()
      .app.store.openRequestsOf(
        { tenantId: playgroundConfig(page()).tenantId, aadObjectId: PLAYGROUND_CURRENT_USER.oid },
        env.id,
      );
    expect(olderRequest).toBeDefined();

    await sendMessage(page(), ask);
    const newer = await botMessage(since, 1, 'Confirm elevation');
    const newerCard = newer.locator(CARD);

    // The older card changes for everyone as soon as the newer one is there: no Elevate left.
    const replaced = await cardShows(olderCard, 'Replaced by a newer request');
    expect(replaced).toContain('only the newest card can be used');
    expect(replaced).toMatch(new RegExp(`Environment\\s+${env.displayName}`));
    expect(await olderCard.getByRole('button').count()).toBe(0);

    // Elevate on the newer card: one call, the outcome.
    await fillInput(page(), 'Justification', 'INC-7: the newer card', { card: newerCard });
    const pressed = page().waitForRequest((r) => /\/_conversation\/v1\/invoke$/.test(r.url()));
    await clickAction(page(), 'Elevate', { card: newerCard });
    // Contoso Dev may hold the role from an earlier test: then it is kept, and says so.
    await cardShows(newerCard, /✅ Elevated: you (are|already held) System Administrator/);
    expect(applyAdminRoleCalls(since)).toHaveLength(1);

    // A Teams client that still shows the older card (it missed the update) presses its Elevate:
    // the same invoke, for the older request. The bot answers with the closed card; no call.
    const invoke = await pressed;
    const stale = JSON.parse(invoke.postData() ?? '{}') as {
      value: { action: { data: Record<string, unknown> } };
    };
    stale.value.action.data = { ...stale.value.action.data, requestId: olderRequest!.id };
    const answer = await page().request.post(invoke.url(), {
      data: stale,
      headers: { 'content-type': 'application/json' },
    });
    expect(answer.status()).toBe(200);
    expect(JSON.stringify(await answer.json())).toContain('Replaced by a newer request');
    expect(applyAdminRoleCalls(since)).toHaveLength(1);

    await dismissInvokeBanner(newer);
    await snap('card-replaced.png', older, newer);
    expect(errorsLogged(since)).toEqual([]);
  });

  test('group chat: only the requester can confirm; another member is refused and nothing is called', async () => {
    const env = WELL_KNOWN.contosoDev;
    await switchToGroupChat(page());
    try {
      const since = await mark();
      await sendMessage(page(), `elevate me in ${env.displayName}`); // the harness @mentions the bot
      const message = await botMessage(since, 0, 'Confirm elevation');
      const card = message.locator(CARD);
      expect(await card.innerText()).toMatch(new RegExp(`Requested by\\s+${ALEX}`));

      await switchUser(page(), MEGAN);
      await fillInput(page(), 'Justification', 'I will do it for Alex', { card });
      const refusal = `Only ${ALEX} can confirm or cancel this request.`;
      const refused = {
        status: 200,
        body: { type: 'application/vnd.microsoft.activity.message', value: refusal },
      };
      expect(await clickAction(page(), 'Elevate', { card })).toEqual(refused);
      // Megan sees the refusal under the card, which stays as it was.
      await message
        .locator(INVOKE_BANNER)
        .getByText(refusal, { exact: true })
        .waitFor({ timeout: WAIT_MS });
      expect(await card.innerText()).toContain('Confirm elevation');
      await snap('group-chat-not-requester.png', ownMessageInGroup(env.displayName), message);
      expect(applyAdminRoleCalls(since)).toEqual([]);

      // Megan cannot cancel it either; Alex still can.
      expect(await clickAction(page(), 'Cancel', { card })).toEqual(refused);
      expect(await card.innerText()).toContain('Confirm elevation');

      await switchUser(page(), ALEX);
      await clickAction(page(), 'Cancel', { card });
      await cardShows(card, '🚫 Elevation cancelled');
      expect(applyAdminRoleCalls(since)).toEqual([]);
      expect(errorsLogged(since)).toEqual([]);
    } finally {
      await switchUser(page(), ALEX);
      await switchToPersonalChat(page());
    }
  });

  /** In a group chat the user's bubble starts with the @mention of the bot. */
  function ownMessageInGroup(environmentName: string): Locator {
    return conversation(page())
      .getByText(new RegExp(`elevate me in ${environmentName}$`))
      .last();
  }
});
