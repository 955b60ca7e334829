/**
 * Channel notifications end to end, as people use them: in a channel of the Playground's team an
 * administrator of the bot @mentions it with `notify here`; an elevation in the personal chat then
 * shows up in that channel as a new post with a card (who, where, why, outcome, correlation id).
 * The real bot (sandbox mode), the simulated Power Platform API and the Microsoft 365 Agents
 * Playground, driven through its web UI in headless chromium. One sandbox, one Playground and one
 * page for the whole file; each test scopes itself to the posts, API calls and log lines it caused.
 *
 * With UPDATE_SCREENSHOTS=1 it also saves docs/screenshots/notification-card.png.
 */
import path from 'node:path';
import type { Locator } from 'playwright-core';
import { PLAYGROUND_CURRENT_USER, SANDBOX_USERS } from '../../src/sandbox/directory';
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator';
import {
  channelPosts,
  clickAction,
  conversation,
  fillInput,
  playgroundConfig,
  postAuthor,
  sendMessage,
  sendMessageAs,
  switchToChannel,
  switchToGroupChat,
  switchToPersonalChat,
} from './support/playground';
import { SCREENSHOTS, useSandboxSession } from './support/sandbox-session';

const WAIT_MS = 15_000;
const ALEX = 'Alex Wilber';
/** A Global Administrator, but not one of the bot's administrators (BOT_ADMIN_IDS). */
const MEGAN = 'Megan Bowen';
/** Holds no tenant admin role: refused before any API call. */
const ISAIAH = 'Isaiah Langer';
const BOT = 'Elevation Bot';
/** Subscribed by the first test; the General channel (whose id is the team's) is left alone. */
const CHANNEL = 'Announcements';

/** Adaptive Cards, without the nested ones Action.ShowCard opens. */
const CARD = '.ac-adaptiveCard:not(.ac-adaptiveCard .ac-adaptiveCard)';
/** One message from the bot in a chat: a text, or a card. */
const BOT_MESSAGE = '.fai-OutputCard';

function sandboxUser(name: string): (typeof SANDBOX_USERS)[number] {
  const user = SANDBOX_USERS.find((u) => u.name === name);
  if (!user) throw new Error(`no sandbox user ${name}`);
  return user;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** "Label value" as a card's fact shows in innerText (label and value on their own lines). */
function fact(label: string, value: string): RegExp {
  return new RegExp(`(^|\\n)${escapeRegExp(label)}\\s+${escapeRegExp(value)}(\\n|$)`);
}

describe('channel notifications in the Agents Playground', () => {
  const session = useSandboxSession('notifications');
  const { logLines, page, simulatorCalls } = session;

  function channelId(name: string): string {
    const channel = playgroundConfig(page()).teams[0]?.channels.find((c) => c.name === name);
    if (!channel) throw new Error(`the Playground team has no channel ${name}`);
    return channel.id;
  }

  /** Log lines from `since` on, parsed. */
  function logged(since: number): Array<Record<string, unknown>> {
    return logLines.slice(since).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  function errorsLogged(since: number): Array<Record<string, unknown>> {
    return logged(since).filter((line) => line.level === 'error');
  }

  /**
   * The deliveries logged from `since` on, once there is at least one: the post can show in the
   * channel a moment before the dispatcher has recorded and logged it.
   */
  async function deliveries(since: number): Promise<Array<Record<string, unknown>>> {
    const delivered = () => logged(since).filter((line) => line.msg === 'notification delivered');
    for (const end = Date.now() + WAIT_MS; delivered().length === 0 && Date.now() < end;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return delivered();
  }

  /** The post that became the newest one after there were `before` posts. */
  async function newPost(before: number, text: string | RegExp): Promise<Locator> {
    const post = channelPosts(page()).first();
    try {
      await channelPosts(page()).nth(before).waitFor({ timeout: WAIT_MS });
      await post.filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
    } catch (error) {
      // What the bot said about it is the quickest way to the cause.
      const recent = logLines
        .slice(-30)
        .filter((line) => /notification|subscri|refused|"level":"(warn|error)"/.test(line));
      throw new Error(
        `No new channel post with ${String(text)}: ${(error as Error).message}\n` +
          `Bot log:\n${recent.join('\n')}`,
      );
    }
    return post;
  }

  /**
   * Writes `@Elevation Bot <text>` as a new post in the channel on screen and returns the thread,
   * once the bot's answer (a reply in it) holds `answer`.
   */
  async function askInChannel(text: string, answer: string | RegExp): Promise<Locator> {
    const before = await channelPosts(page()).count();
    await sendMessage(page(), text); // in a channel the harness @mentions the bot
    return newPost(before, answer);
  }

  /** Elevates Alex in the personal chat, as in the README; returns the outcome card's text. */
  async function elevateInPersonalChat(environment: string, justification: string) {
    await switchToPersonalChat(page());
    const messages = conversation(page()).locator(BOT_MESSAGE);
    const before = await messages.count();
    await sendMessage(page(), `elevate me in ${environment}`);
    const message = messages.nth(before);
    await message.filter({ hasText: 'Confirm elevation' }).waitFor({ timeout: WAIT_MS });
    const card = message.locator(CARD);
    await fillInput(page(), 'Justification', justification, { card });
    const answer = await clickAction(page(), 'Elevate', { card });
    expect(answer.status).toBe(200);
    await card.filter({ hasText: /✅ Elevated|❌ Elevation failed/ }).waitFor({ timeout: WAIT_MS });
    return card.innerText();
  }

  /** Saves `post` (a channel post and its reply box), when UPDATE_SCREENSHOTS=1. */
  async function snapPost(file: string, post: Locator): Promise<void> {
    // Tracked pictures change with every run (ids, times): only rewrite them when asked to.
    if (process.env.UPDATE_SCREENSHOTS !== '1') return;
    const p = page();
    const viewport = p.viewportSize();
    await p.setViewportSize({ width: 1400, height: 1500 });
    try {
      // Away from the post: hovering re-renders it with its menu open.
      await p.mouse.move(0, 0);
      await post.scrollIntoViewIfNeeded();
      await p.evaluate(() => document.fonts.ready);
      const pane = await conversation(p).boundingBox();
      const box = await post.boundingBox();
      if (!pane || !box) throw new Error(`nothing to screenshot for ${file}`);
      const y = Math.max(pane.y, box.y - 8);
      const bottom = Math.min(pane.y + pane.height, box.y + box.height + 8);
      await p.screenshot({
        path: path.join(SCREENSHOTS, file),
        clip: { x: pane.x, y, width: pane.width, height: bottom - y },
        animations: 'disabled',
        caret: 'hide',
      });
    } finally {
      if (viewport) await p.setViewportSize(viewport);
    }
  }

  test('notify here in a channel, then an elevation in the personal chat is posted there with who, where, why and the correlation id', async () => {
    const env = WELL_KNOWN.contosoDev;
    const justification = 'INC-4711: the payroll flow fails after the update';
    const alex = sandboxUser(ALEX);
    expect(alex).toBe(PLAYGROUND_CURRENT_USER);
    const logs = logLines.length;
    const calls = simulatorCalls().length;

    // 1. Subscribe the channel: a post that @mentions the bot, answered in its thread.
    await switchToChannel(page(), CHANNEL);
    const thread = await askInChannel('notify here', '🔔 Subscribed');
    expect(await postAuthor(thread)).toBe(ALEX);
    const subscribed = await thread.innerText();
    expect(subscribed).toContain(`${BOT} notify here`); // the mention, as the Playground shows it
    expect(subscribed).toContain('This channel now gets a card for every elevation');
    // In a channel the bot hears only mentions: its hint carries one.
    expect(subscribed).toContain(`Write “@${BOT} notify off” to stop.`);
    expect(logged(logs)).toContainEqual(
      expect.objectContaining({
        msg: 'channel subscribed',
        channelId: channelId(CHANNEL),
        by: alex.oid,
      }),
    );
    const postsBefore = await channelPosts(page()).count();

    // 2. Elevate in the personal chat.
    const outcome = await elevateInPersonalChat(env.displayName, justification);
    expect(outcome).toContain('✅ Elevated: you are System Administrator');
    const correlationId = outcome.match(/Correlation id\s+(\S+)/)?.[1];
    expect(correlationId).toMatch(/^[0-9a-f-]{36}$/);
    const applied = simulatorCalls()
      .slice(calls)
      .filter((call) => call.operation === 'applyAdminRole');
    expect(applied.map((call) => call.correlationId)).toEqual([correlationId]);

    // 3. The channel got a new post from the bot (not a reply in the "notify here" thread).
    await switchToChannel(page(), CHANNEL);
    const post = await newPost(postsBefore, correlationId!);
    expect(await postAuthor(post)).toBe(BOT);
    expect(await channelPosts(page()).count()).toBe(postsBefore + 1);
    const card = post.locator(CARD);
    await expect(card.count()).resolves.toBe(1);
    const text = await card.innerText();
    expect(text).toMatch(/^✅ Elevation succeeded\n/);
    expect(text).toContain(
      `${ALEX} (${alex.upn}) elevated to System Administrator in ${env.displayName}`,
    );
    expect(text).toMatch(fact('Who', `${ALEX} (${alex.upn})`));
    expect(text).toMatch(fact('User id', alex.oid));
    expect(text).toMatch(fact('Environment', env.displayName));
    expect(text).toMatch(fact('Environment id', env.id));
    expect(text).toMatch(fact('Justification', justification));
    expect(text).toMatch(fact('Outcome', 'Succeeded'));
    expect(text).toMatch(fact('HTTP status', '200 OK'));
    // The same id the personal chat showed, which is the one the API answered with.
    expect(text).toMatch(fact('Correlation id', correlationId!));
    expect(text).not.toContain('notify here');
    expect(await post.innerText()).not.toContain('notify here');

    // Delivered once, to the subscribed channel only.
    expect(await deliveries(logs)).toEqual([
      expect.objectContaining({ channelId: channelId(CHANNEL), attempt: 1 }),
    ]);
    expect(errorsLogged(logs)).toEqual([]);

    await snapPost('notification-card.png', post);
  });

  test('someone who is not an administrator of the bot cannot subscribe a channel', async () => {
    const megan = sandboxUser(MEGAN);
    const logs = logLines.length;
    await switchToChannel(page(), 'General');
    const before = await channelPosts(page()).count();

    // Typed by Megan; the Playground shows only the bot's answer (here as a post of its own).
    await sendMessageAs(page(), MEGAN, 'notify here');
    const refusal = await newPost(before, 'Sorry, you cannot do that');
    expect(await postAuthor(refusal)).toBe(BOT);
    const refused = await refusal.innerText();
    expect(refused).toContain(
      "Only the bot's administrators can change this channel's notifications, and you are not one of them. Your attempt was recorded.",
    );
    expect(refused).not.toContain('Subscribed');
    expect(logged(logs)).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'refused',
        reason: 'not-bot-admin',
        actor: megan.oid,
        channelId: channelId('General'),
      }),
    );
    expect(logged(logs).filter((line) => line.msg === 'channel subscribed')).toEqual([]);

    // Nothing changed: the channel is still not subscribed.
    const status = await askInChannel('notify status', 'This channel is not subscribed');
    expect(await status.innerText()).toContain('It gets no elevation notifications.');
    expect(errorsLogged(logs)).toEqual([]);
  });

  test('a refusal of someone without a tenant admin role is posted to the subscribed channel', async () => {
    const isaiah = sandboxUser(ISAIAH);
    const logs = logLines.length;
    const calls = simulatorCalls().length;
    await switchToChannel(page(), CHANNEL);
    // Whether or not the first test ran: subscribed (again).
    await askInChannel('notify here', /🔔 Subscri(bed|ption updated)/);
    const postsBefore = await channelPosts(page()).count();

    await switchToGroupChat(page());
    try {
      const messages = conversation(page()).locator(BOT_MESSAGE);
      const before = await messages.count();
      await sendMessageAs(page(), ISAIAH, 'elevate me in Contoso Dev');
      await messages
        .nth(before)
        .filter({ hasText: 'You are not a tenant administrator' })
        .waitFor({ timeout: WAIT_MS });
    } finally {
      await switchToPersonalChat(page());
    }

    await switchToChannel(page(), CHANNEL);
    const post = await newPost(postsBefore, 'Elevation refused: not a tenant admin');
    expect(await postAuthor(post)).toBe(BOT);
    const text = await post.locator(CARD).innerText();
    expect(text).toMatch(/^⛔ Elevation refused: not a tenant admin\n/);
    expect(text).toMatch(fact('Who', `${ISAIAH} (${isaiah.upn})`));
    expect(text).toMatch(fact('User id', isaiah.oid));
    expect(text).toMatch(fact('Asked for', 'Contoso Dev'));
    expect(text).toMatch(fact('Outcome', 'Refused before any call'));
    expect(text).not.toContain('Correlation id');
    expect(simulatorCalls().slice(calls)).toEqual([]);
    expect(await deliveries(logs)).toEqual([
      expect.objectContaining({ channelId: channelId(CHANNEL) }),
    ]);
    expect(errorsLogged(logs)).toEqual([]);
  });

  test('notify status tells who subscribed the channel; notify off stops it', async () => {
    const logs = logLines.length;
    await switchToChannel(page(), CHANNEL);
    await askInChannel('notify here', /🔔 Subscri(bed|ption updated)/);

    const status = await askInChannel('notify status', '🔔 This channel is subscribed');
    const statusText = await status.innerText();
    expect(statusText).toContain('It gets a card for every elevation, in every environment.');
    expect(statusText).toContain(`Subscribed by ${ALEX} on `);
    expect(statusText).toContain(
      `You can change this with “@${BOT} notify here” or “@${BOT} notify off”.`,
    );

    const off = await askInChannel('notify off', '🔕 Unsubscribed');
    expect(await off.innerText()).toContain('This channel no longer gets elevation notifications.');
    await askInChannel('notify status', 'This channel is not subscribed');
    expect(errorsLogged(logs)).toEqual([]);
  });
});
