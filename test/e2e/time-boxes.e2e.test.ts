/**
 * Time-boxed elevation end to end, as people use it (issue #13's Playground acceptance): `elevate
 * me in <env> for 1m`, the confirmation with its duration and "Until …", Elevate, the outcome with
 * until when; a minute later (real time: the sandbox's clock is the wall clock) the bot removes the
 * role through the simulated Dataverse and says so in the chat and in a subscribed channel. I'm
 * done removes at once, Extend moves the end, and a role held before the elevation is left in
 * place. The real bot (sandbox mode), the simulated Power Platform API and Dataverse, and the
 * Microsoft 365 Agents Playground driven through its web UI in headless chromium. One sandbox, one
 * Playground and one page for the whole file; only the first test waits for an end.
 *
 * With UPDATE_SCREENSHOTS=1 it also saves docs/screenshots/time-box-*.png, and refreshes
 * confirmation-card.png and elevation-succeeded.png.
 */
import path from 'node:path';
import type { Locator } from 'playwright-core';
import { PLAYGROUND_CURRENT_USER, SANDBOX_USERS } from '../../src/sandbox/directory';
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator';
import type { DataverseCall } from '../../src/sandbox/dataverse-simulator';
import {
  channelPosts,
  clickAction,
  conversation,
  fillInput,
  postAuthor,
  sendMessage,
  sendMessageAs,
  switchToChannel,
  switchToGroupChat,
  switchToPersonalChat,
  switchUser,
} from './support/playground';
import { SCREENSHOTS, useSandboxSession } from './support/sandbox-session';

const WAIT_MS = 15_000;
/** A 1-minute elevation's end, plus the runner's slack and the Playground's polling. */
const END_WAIT_MS = 100_000;
const ALEX = 'Alex Wilber';
/** Holds System Administrator in Contoso Dev before any elevation (SANDBOX_HELD_ROLES). */
const LYNNE = 'Lynne Robbins';
const BOT = 'Elevation Bot';
const CHANNEL = 'Announcements';
const ORG = 'contoso-dev';

/** Adaptive Cards, without the nested ones Action.ShowCard opens. */
const CARD = '.ac-adaptiveCard:not(.ac-adaptiveCard .ac-adaptiveCard)';
/** One message from the bot: a text, or a card with the banner the Playground adds under it. */
const BOT_MESSAGE = '.fai-OutputCard';
/** The Playground's banner under a clicked card ("Your response was sent to the app", or the bot's text). */
const INVOKE_BANNER = '[aria-label="Display Invoked Message"]';
/** A clock time as the cards write it: "15:40 (your time)" or "14:40 UTC", maybe with a day. */
const CLOCK = String.raw`(?:\w+ )?\d{2}:\d{2}(?: \(your time\)| UTC)`;

function sandboxUser(name: string): (typeof SANDBOX_USERS)[number] {
  const user = SANDBOX_USERS.find((u) => u.name === name);
  if (!user) throw new Error(`no sandbox user ${name}`);
  return user;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** "Label value" as a card's fact shows in innerText (label and value on their own lines). */
function fact(label: string, value: string | RegExp): RegExp {
  const v = typeof value === 'string' ? escapeRegExp(value) : value.source;
  return new RegExp(`(^|\\n)${escapeRegExp(label)}\\s+${v}(\\n|$)`);
}

/** The value of a card's fact, as shown. */
function factValue(text: string, label: string): string | undefined {
  return text.match(new RegExp(`(?:^|\\n)${escapeRegExp(label)}\\s+([^\\n]+)`))?.[1];
}

describe('time-boxed elevation in the Agents Playground', () => {
  const session = useSandboxSession('time-boxes');
  const { logLines, page } = session;
  const alex = sandboxUser(ALEX);

  beforeEach(async () => {
    // Whatever a failed test left behind: clicks come from the current user again.
    await switchUser(page(), ALEX);
  });

  function dataverse() {
    const simulated = session.sandbox().dataverse;
    if (!simulated) throw new Error('the sandbox has no Dataverse simulator');
    return simulated;
  }

  /** What a test caused: bot messages, Dataverse DELETEs and log lines from here on. */
  async function mark(): Promise<{ messages: number; deletes: number; logs: number }> {
    return {
      messages: await botMessages().count(),
      deletes: dataverse().deleteCalls().length,
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
    timeout = WAIT_MS,
  ): Promise<Locator> {
    const message = botMessages().nth(since.messages + index);
    await message.filter({ hasText: text }).waitFor({ timeout });
    return message;
  }

  /** Waits until `card` shows `text` (the bot replaces cards in place). */
  async function cardShows(card: Locator, text: string | RegExp): Promise<string> {
    await card.filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
    return card.innerText();
  }

  function deletesSince(since: { deletes: number }): DataverseCall[] {
    return dataverse().deleteCalls().slice(since.deletes);
  }

  function errorsLogged(since: { logs: number }): string[] {
    return logLines.slice(since.logs).filter((line) => line.includes('"level":"error"'));
  }

  /** The user's own chat bubble with exactly this text (the newest one). */
  function ownMessage(text: string): Locator {
    return conversation(page()).getByText(text, { exact: true }).last();
  }

  async function buttons(card: Locator): Promise<string[]> {
    return (await card.getByRole('button').allInnerTexts()).map((t) => t.trim());
  }

  /** The Playground-only "Your response was sent to the app" banner; Teams shows none. */
  async function dismissInvokeBanner(message: Locator): Promise<void> {
    const dismiss = message.locator(INVOKE_BANNER).getByRole('button', {
      name: 'Dismiss Invoke Message',
    });
    if (await dismiss.count()) await dismiss.click();
  }

  /** Asks for an elevation and waits for its confirmation card. */
  async function ask(
    since: { messages: number },
    text: string,
    as?: string,
  ): Promise<{ message: Locator; card: Locator }> {
    if (as) await sendMessageAs(page(), as, text);
    else await sendMessage(page(), text);
    const message = await botMessage(since, 0, 'Confirm elevation');
    return { message, card: message.locator(CARD) };
  }

  /** Fills the justification, presses Elevate and waits for the outcome on the card. */
  async function confirm(card: Locator, justification: string): Promise<string> {
    await fillInput(page(), 'Justification', justification, { card });
    const answer = await clickAction(page(), 'Elevate', { card });
    expect(answer.status).toBe(200);
    return cardShows(card, /✅ Elevated|✅ Elevation over|❌ Elevation failed/);
  }

  /**
   * Saves the conversation column from `top` down to `bottom`, when UPDATE_SCREENSHOTS=1 (what a
   * README reader needs, without the Playground's chat list and log panel).
   */
  async function snap(file: string, top: Locator, bottom: Locator): Promise<void> {
    // Tracked pictures change with every run (ids, times): only rewrite them when asked to.
    if (process.env.UPDATE_SCREENSHOTS !== '1') return;
    const p = page();
    const viewport = p.viewportSize();
    await p.setViewportSize({ width: 1400, height: 1500 });
    try {
      await p.mouse.move(0, 0);
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

  /** A channel post on its own. */
  async function snapPost(file: string, post: Locator): Promise<void> {
    await snap(file, post, post);
  }

  /** The post that became the newest one after there were `before` posts. */
  async function newPost(before: number, text: string | RegExp): Promise<Locator> {
    const post = channelPosts(page()).first();
    await channelPosts(page()).nth(before).waitFor({ timeout: WAIT_MS });
    await post.filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
    return post;
  }

  test('elevate me for 1m: the duration and Until on the card, the outcome until when, and at the end "role removed" in the chat and in the subscribed channel', async () => {
    const env = WELL_KNOWN.contosoDev;
    const justification = 'INC-4711: the payroll flow fails after the update';

    // A channel subscribed by a bot admin (the Playground's current user, in the sandbox).
    expect(alex).toBe(PLAYGROUND_CURRENT_USER);
    await switchToChannel(page(), CHANNEL);
    const before = await channelPosts(page()).count();
    await sendMessage(page(), 'notify here');
    await newPost(before, /🔔 Subscri(bed|ption updated)/);
    const postsBefore = await channelPosts(page()).count();

    await switchToPersonalChat(page());
    const since = await mark();
    const text = `elevate me in ${env.displayName} for 1m`;
    const { message, card } = await ask(since, text);

    // The confirmation: the duration asked for is chosen, with its end beside it.
    const confirmation = await card.innerText();
    expect(confirmation).toContain(
      `You are about to make yourself System Administrator in ${env.displayName}.`,
    );
    expect(confirmation).toMatch(new RegExp(`Until ${CLOCK} if you elevate now\\.`));
    const duration = card.getByRole('combobox');
    await expect(duration.count()).resolves.toBe(1);
    // A Fluent combobox: the chosen value in its input, the choices in a list it opens.
    const chosen = await duration.inputValue();
    expect(chosen).toMatch(/^1 minute \(until \d{2}:\d{2}\)$/);
    // The line above the choice says the same end.
    expect(confirmation).toContain(`Until ${chosen.match(/until (\d{2}:\d{2})/)![1]}`);
    await duration.click();
    const options = page().getByRole('option');
    await options.first().waitFor({ timeout: WAIT_MS });
    const offered = (await options.allInnerTexts()).map((o) => o.trim());
    await page().keyboard.press('Escape');
    // The default and longer ones are offered too.
    expect(offered[0]).toBe(chosen);
    expect(offered).toContainEqual(expect.stringMatching(/^1 hour \(until \d{2}:\d{2}\)$/));
    await fillInput(page(), 'Justification', justification, { card });
    await snap('time-box-confirmation.png', ownMessage(text), message);

    // Elevate: the outcome says until when, with I'm done and Extend.
    expect(await clickAction(page(), 'Elevate', { card })).toMatchObject({ status: 200 });
    const outcome = await cardShows(card, '✅ Elevated: you are System Administrator');
    expect(outcome).toMatch(new RegExp(`Until ${CLOCK} · (1 minute|\\d+ seconds) left`));
    expect(outcome).toMatch(fact('Justification', justification));
    const endsAt = factValue(outcome, 'Ends at');
    expect(endsAt).toMatch(new RegExp(`^${CLOCK}$`));
    expect(outcome).toContain(`The role is removed at ${endsAt}.`);
    expect(await buttons(card)).toEqual(["I'm done", 'Extend']);
    const said = await botMessage(since, 1, /Elevated/);
    await dismissInvokeBanner(message);
    await snap('time-box-outcome.png', ownMessage(text), said);

    // While it lasts, `elevations` lists it with the time left.
    await sendMessage(page(), 'elevations');
    const list = await botMessage(since, 2, env.displayName);
    const listed = await list.innerText();
    expect(listed).toMatch(new RegExp(`Until ${CLOCK} · (1 minute|\\d+ seconds) left`));
    await snap('time-box-elevations.png', ownMessage('elevations'), list);
    expect(deletesSince(since)).toEqual([]);

    // The end, a minute after the grant: one DELETE as Alex, told in the chat and on the card.
    const ended = await botMessage(
      since,
      3,
      `System Administrator removed in ${env.displayName}`,
      END_WAIT_MS,
    );
    const endedText = await ended.innerText();
    expect(endedText).toContain(`Your elevation in ${env.displayName} has ended`);
    expect(endedText).toContain(
      "The elevation's time is up, and Dataverse removed the System Administrator role: you no longer hold it here.",
    );
    const deletes = deletesSince(since);
    expect(deletes).toHaveLength(1);
    expect(deletes[0]).toMatchObject({ org: ORG, oid: alex.oid, status: 204 });
    expect(endedText).toMatch(fact('Result', 'Removed'));
    expect(endedText).toMatch(fact('HTTP status', '204 No Content'));
    expect(endedText).toMatch(fact('Dataverse request id', deletes[0]!.requestId!));
    expect(endedText).toMatch(fact('Ended at', endsAt!));
    expect(dataverse().holdsRole(ORG, alex.oid)).toBe(false);
    const over = await cardShows(card, 'Elevation over: System Administrator removed');
    expect(over).not.toMatch(/ left\b/);
    expect(await buttons(card)).toEqual([]);
    await snap('time-box-role-removed.png', ended, ended);
    await snap('time-box-outcome-over.png', message, message);

    // The subscribed channel: a new post, "Role removed", with who and where.
    await switchToChannel(page(), CHANNEL);
    const post = await newPost(postsBefore + 1, 'Role removed');
    expect(await postAuthor(post)).toBe(BOT);
    const posted = await post.locator(CARD).innerText();
    expect(posted).toMatch(fact('Who', `${ALEX} (${alex.upn})`));
    expect(posted).toMatch(fact('Environment', env.displayName));
    expect(posted).toMatch(/^🔒 Role removed\n/);
    expect(posted).toMatch(fact('Result', 'Removed'));
    expect(posted).toMatch(fact('HTTP status', '204 No Content'));
    expect(posted).toMatch(fact('Dataverse request id', deletes[0]!.requestId!));
    await snapPost('time-box-channel-role-removed.png', post);
    await switchToPersonalChat(page());
    expect(errorsLogged(since)).toEqual([]);
  }, 240_000);

  /** When a card's `label` fact says, as minutes of the day (the cards show no seconds). */
  function minuteOfDay(text: string, label: string): number {
    const [h, m] = (factValue(text, label)?.match(/(\d{2}):(\d{2})/) ?? []).slice(1).map(Number);
    if (h === undefined || m === undefined) throw new Error(`no ${label} in:\n${text}`);
    return h * 60 + m;
  }

  test("I'm done removes the role at once, without waiting for the end", async () => {
    const env = WELL_KNOWN.contosoDev;
    await switchToPersonalChat(page());
    const since = await mark();
    // Without a duration: the default one (ELEVATION_DEFAULT_MINUTES, an hour).
    const text = `elevate me in ${env.displayName}`;
    const { message, card } = await ask(since, text);
    const duration = card.getByRole('combobox');
    expect(await duration.inputValue()).toMatch(/^1 hour \(until \d{2}:\d{2}\)$/);
    await fillInput(page(), 'Justification', 'INC-4711: the payroll flow fails after the update', {
      card,
    });
    await snap('confirmation-card.png', ownMessage(text), message);

    const outcome = await confirm(card, 'INC-4711: the payroll flow fails after the update');
    expect(outcome).toMatch(new RegExp(`Until ${CLOCK} · (1 hour|59 minutes) left`));
    const said = await botMessage(since, 1, /Elevated/);
    expect(await said.innerText()).toMatch(
      new RegExp(`Until ${CLOCK}: then the role is removed again\\.`),
    );
    await dismissInvokeBanner(message);
    await snap('elevation-succeeded.png', ownMessage(text), said);
    expect(dataverse().holdsRole(ORG, alex.oid)).toBe(true);

    const answer = await clickAction(page(), "I'm done", { card });
    expect(answer.status).toBe(200);
    // Removed before the click was answered: one DELETE, as Alex, and the role is gone.
    const deletes = deletesSince(since);
    expect(deletes).toHaveLength(1);
    expect(deletes[0]).toMatchObject({ org: ORG, oid: alex.oid, status: 204 });
    expect(dataverse().holdsRole(ORG, alex.oid)).toBe(false);
    const over = await cardShows(card, 'Elevation over: System Administrator removed');
    expect(over).toContain(
      'You ended the elevation before its time, and Dataverse removed the System Administrator role: you no longer hold it here.',
    );
    expect(over).toMatch(fact('Removal', 'Removed, ended early'));
    expect(over).toMatch(fact('Dataverse request id', deletes[0]!.requestId!));
    expect(await buttons(card)).toEqual([]);
    const ended = await botMessage(since, 2, `System Administrator removed in ${env.displayName}`);
    const endedText = await ended.innerText();
    expect(endedText).toMatch(fact('Result', 'Removed, ended early'));
    expect(endedText).toMatch(fact('Was to end at', new RegExp(CLOCK)));
    await dismissInvokeBanner(message);
    await snap('time-box-done.png', ended, ended);

    // Nothing is left for `elevations`, and nothing more is removed.
    await sendMessage(page(), 'elevations');
    await botMessage(since, 3, /no (active )?elevation/i);
    expect(deletesSince(since)).toHaveLength(1);
    expect(errorsLogged(since)).toEqual([]);
  });

  test('Extend moves the end by the default duration, with the justification on the card', async () => {
    const env = WELL_KNOWN.contosoDev;
    await switchToPersonalChat(page());
    const since = await mark();
    const text = `elevate me in ${env.displayName} for 1m`;
    const { message, card } = await ask(since, text);
    const outcome = await confirm(card, 'CHG-204: fix a broken connection reference');
    const firstEnd = minuteOfDay(outcome, 'Ends at');

    // Extend opens a box for why, with the button that extends (the last one named Extend…).
    await card.getByRole('button', { name: 'Extend', exact: true }).click();
    await fillInput(page(), 'Why do you need longer?', 'The import needs another run', { card });
    const extend = card.getByRole('button', { name: /^Extend/ }).last();
    expect((await extend.innerText()).trim()).toMatch(new RegExp(`^Extend( to ${CLOCK})?$`));
    await snap('time-box-extend.png', ownMessage(text), message);
    const invoked = page().waitForResponse((r) => /\/_conversation\/v1\/invoke$/.test(r.url()));
    await extend.click();
    expect((await invoked).status()).toBe(200);

    const extended = await cardShows(card, /by 1 hour at/);
    const newEnd = minuteOfDay(extended, 'Ends at');
    expect((newEnd - firstEnd + 1440) % 1440).toBe(60);
    expect(extended).toMatch(new RegExp(`Until ${CLOCK} · 1 hour( 1 minute)? left`));
    expect(extended).toMatch(
      fact('Extended', new RegExp(`by 1 hour at ${CLOCK}: The import needs another run`)),
    );
    expect(extended).toContain(`The role is removed at ${factValue(extended, 'Ends at')}.`);
    expect(await buttons(card)).toContain("I'm done");
    await dismissInvokeBanner(message);
    await snap('time-box-extended.png', ownMessage(text), message);
    expect(deletesSince(since)).toEqual([]);

    // Ended by hand, so that no removal comes later.
    await clickAction(page(), "I'm done", { card });
    await cardShows(card, 'Elevation over: System Administrator removed');
    expect(deletesSince(since)).toHaveLength(1);
    expect(errorsLogged(since)).toEqual([]);
  });

  test("group chat: the outcome names the requester, and I'm done removes the role for everyone to see", async () => {
    const env = WELL_KNOWN.contosoDev;
    await switchToGroupChat(page());
    try {
      const since = await mark();
      const { message, card } = await ask(since, `elevate me in ${env.displayName} for 1m`);
      const outcome = await confirm(card, 'INC-90: a flow in the shared team');
      expect(outcome).toMatch(/^✅ Elevated: Alex Wilber is now System Administrator\n/);
      expect(outcome).toMatch(new RegExp(`Until ${CLOCK} · (1 minute|\\d+ seconds) left`));
      expect(outcome).toContain(`${ALEX} can press I'm done when finished, or Extend for longer.`);
      expect(await buttons(card)).toEqual(["I'm done", 'Extend']);
      await dismissInvokeBanner(message);
      await snap('time-box-group-outcome.png', message, message);

      await clickAction(page(), "I'm done", { card });
      const over = await cardShows(card, 'Elevation over: System Administrator removed');
      expect(over).toContain(`${ALEX} ended the elevation before its time`);
      expect(deletesSince(since)).toHaveLength(1);
      const ended = await botMessage(
        since,
        2,
        `System Administrator removed in ${env.displayName}`,
      );
      expect(await ended.innerText()).toContain(
        `${ALEX}'s elevation in ${env.displayName} has ended`,
      );
      await dismissInvokeBanner(message);
      await snap('time-box-group-done.png', ended, ended);
      expect(errorsLogged(since)).toEqual([]);
    } finally {
      await switchToPersonalChat(page());
    }
  });

  test('group chat: a role held before the elevation is left in place, and the card says why', async () => {
    const env = WELL_KNOWN.contosoDev;
    const lynne = sandboxUser(LYNNE);
    expect(dataverse().holdsRole(ORG, lynne.oid)).toBe(true);
    await switchToGroupChat(page());
    try {
      const since = await mark();
      const { message, card } = await ask(since, `elevate me in ${env.displayName} for 1m`, LYNNE);
      expect(await card.innerText()).toMatch(
        new RegExp(`Until ${CLOCK} if ${LYNNE} elevates now\\.`),
      );
      await switchUser(page(), LYNNE);
      const outcome = await confirm(card, 'INC-88: check the held role');
      // Held before (Dataverse said so before the grant): kept from the start, with no buttons.
      expect(outcome).toMatch(
        /^✅ Elevated: .+ already held System Administrator, so it is kept\n/,
      );
      expect(outcome).toContain(
        `${LYNNE} already held System Administrator here before this elevation, so the bot did not grant it and does not remove it: it only removes what it granted.`,
      );
      expect(outcome).toMatch(
        fact('Role check', `${LYNNE} already held System Administrator before this elevation.`),
      );
      expect(outcome).toMatch(fact('Time box', 'Kept: held before this elevation, so not removed'));
      // The role does not end with the elevation: the card names no end time.
      expect(factValue(outcome, 'Ends at')).toBeUndefined();
      await dismissInvokeBanner(message);
      await snap('time-box-group-held.png', message, message);
      expect(await buttons(card)).toEqual([]);
      expect(deletesSince(since)).toEqual([]);
      expect(dataverse().holdsRole(ORG, lynne.oid)).toBe(true);
      expect(errorsLogged(since)).toEqual([]);
    } finally {
      await switchUser(page(), ALEX);
      await switchToPersonalChat(page());
    }
  });
});
