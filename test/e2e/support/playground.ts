/**
 * Drives the Microsoft 365 Agents Playground (the local Teams emulator) from jest e2e tests: starts
 * its CLI on a free port, opens its web UI in headless Debian chromium, and acts like a Teams user
 * (send a message, @mention the bot, fill card inputs, click Action.Execute buttons, act as another
 * user). Facts this relies on were observed with @microsoft/m365agentsplayground 0.2.28.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  freePort,
  type Playground,
  type PlaygroundOptions,
  startPlayground,
} from '../../../src/sandbox/playground';
import { chromium, type Locator, type Page, type Route } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS } from './chromium';

const DEFAULTS = {
  startTimeoutMs: 30_000,
  stopTimeoutMs: 5_000,
  waitTimeoutMs: 15_000,
  viewport: { width: 1400, height: 900 },
};

/** The compose boxes (Lexical editors): the chat's, a channel's "Start a new post" and thread replies. */
const EDITOR = '[data-lexical-editor="true"]';
/** Adaptive Cards, not the cards that Action.ShowCard opens inside them. */
const CARD = '.ac-adaptiveCard:not(.ac-adaptiveCard .ac-adaptiveCard)';
const MESSAGES_API = /\/_conversation\/v1\/conversations\/[^/]+\/messages$/;
const INVOKE_API = /\/_conversation\/v1\/invoke$/;
/** Card clicks go to these; both take the clicking user from the body's `from.id`. */
const CARD_ACTION_API = /\/_conversation\/v1\/(invoke|submit)$/;

export interface PlaygroundUser {
  id: string;
  name: string;
  aadObjectId: string;
}

/** The mock tenant, as the Playground's UI loads it from `/_internal/v1/config`. */
export interface PlaygroundConfig {
  tenantId: string;
  bot: { id: string; name: string };
  currentUser: PlaygroundUser;
  users: PlaygroundUser[];
  personalChat: { id: string };
  groupChats: { id: string; name: string }[];
  teams: { id: string; name: string; channels: { id: string; name: string }[] }[];
}

export interface PlaygroundPage {
  page: Page;
  close(): Promise<void>;
}

/** The bot's answer to a card click, as the Playground hands it to its UI. */
export interface InvokeResult {
  /** 200 when the bot answered 2xx; 502 (`UserBotError`) when it answered with an error status. */
  status: number;
  /** For 200 the bot's body without `statusCode`, e.g. `{ type, value }`. */
  body: unknown;
}

type View = 'personal' | 'group' | 'channel';

interface PageState {
  playgroundUrl: string;
  config: PlaygroundConfig;
  view: View;
  /** The conversation on screen: personal chat, group chat or channel id. */
  conversationId: string;
  stopActingAs?: () => Promise<void>;
}

const pageStates = new WeakMap<Page, PageState>();

export { freePort, startPlayground, type Playground, type PlaygroundOptions };

/** Opens the Playground's UI in headless chromium with a fresh profile, ready to type. */
export async function openPlaygroundPage(url: string): Promise<PlaygroundPage> {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'playground-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: DEFAULTS.viewport,
  });
  const close = async (): Promise<void> => {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  try {
    // The page also asks a CDN for fonts; nothing outside this machine is reachable or needed.
    await context.route('**/*', (route) =>
      isLocal(route.request().url()) ? route.continue() : route.abort(),
    );
    const page = context.pages()[0] ?? (await context.newPage());
    // The UI's first request; the Playground answers it once the bot endpoint accepts connections.
    const configLoaded = page.waitForResponse((r) => r.url().endsWith('/_internal/v1/config'), {
      timeout: DEFAULTS.startTimeoutMs,
    });
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    const { config } = (await (await configLoaded).json()) as { config: PlaygroundConfig };
    await page.locator(EDITOR).first().waitFor({ timeout: DEFAULTS.startTimeoutMs });
    pageStates.set(page, {
      playgroundUrl: url,
      config,
      view: 'personal',
      conversationId: config.personalChat.id,
    });
    return { page, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The mock tenant shown by this page (bot, users, chat and channel ids). */
export function playgroundConfig(page: Page): PlaygroundConfig {
  return stateOf(page).config;
}

/**
 * The conversation on screen: the outermost element that holds a compose box but neither the chat
 * list nor the log panel (which both repeat message text).
 */
export function conversation(page: Page): Locator {
  return page
    .locator('div')
    .filter({ has: page.locator(EDITOR) })
    .filter({ hasNot: page.getByRole('tree') })
    .filter({ hasNot: page.getByRole('button', { name: 'Hide log panel' }) })
    .first();
}

/**
 * Types `text` and sends it. Outside the personal chat the bot only hears messages that @mention
 * it, so the mention is added there by default. In a channel this starts a new post, or replies
 * in `thread` when given. Resolves once the Playground accepted the message.
 */
export async function sendMessage(
  page: Page,
  text: string,
  options: { mentionBot?: boolean; thread?: Locator } = {},
): Promise<void> {
  const { view, config } = stateOf(page);
  const editor = (options.thread ?? conversation(page)).locator(EDITOR).first();
  await editor.click();
  if (options.mentionBot ?? view !== 'personal') {
    await page.keyboard.type('@');
    const botName = new RegExp(`^${escapeRegExp(config.bot.name)}`);
    await page.getByRole('menuitem', { name: botName }).click();
    await page.keyboard.type(' ');
  }
  await page.keyboard.type(text);
  const accepted = page.waitForResponse(
    (r) => r.request().method() === 'POST' && MESSAGES_API.test(new URL(r.url()).pathname),
  );
  await page.keyboard.press('Enter');
  const response = await accepted;
  if (!response.ok()) {
    throw new Error(
      `The Playground refused the message: ${response.status()} ${await response.text()}`,
    );
  }
}

/** Waits until `text` shows in the conversation (in a message, card or post, the user's included). */
export async function waitForText(
  page: Page,
  text: string,
  timeoutMs = DEFAULTS.waitTimeoutMs,
): Promise<void> {
  await conversation(page).getByText(text).last().waitFor({ timeout: timeoutMs });
}

/** Every Adaptive Card in the conversation, in page order. */
export function cards(page: Page): Locator {
  return conversation(page).locator(CARD);
}

/**
 * The newest card: the last one in a chat; in a channel, whose threads are listed newest first,
 * the last card of the newest thread that has one.
 */
export function lastCard(page: Page): Locator {
  if (stateOf(page).view !== 'channel') return cards(page).last();
  return conversation(page)
    .getByRole('group')
    .filter({ has: page.locator(CARD) })
    .first()
    .locator(CARD)
    .last();
}

/**
 * The posts of the channel on screen, newest first, each with its replies (the thread), without
 * the "Start a new post" box. A bot's proactive post to the channel is a post of its own; its
 * answer to an @mention is a reply in the thread of the message that mentioned it.
 */
export function channelPosts(page: Page): Locator {
  return conversation(page)
    .getByRole('group')
    .filter({ hasNot: page.getByRole('button', { name: 'Post', exact: true }) });
}

/** Who wrote a channel post (the name on its first avatar). */
export async function postAuthor(post: Locator): Promise<string | null> {
  return post.getByRole('img').first().getAttribute('aria-label');
}

export async function lastCardText(page: Page): Promise<string> {
  return lastCard(page).innerText({ timeout: DEFAULTS.waitTimeoutMs });
}

/** Types into a card's Input.Text found by its label or placeholder. */
export async function fillInput(
  page: Page,
  labelOrPlaceholder: string,
  value: string,
  options: { card?: Locator } = {},
): Promise<void> {
  const card = options.card ?? lastCard(page);
  const input = card
    .getByLabel(labelOrPlaceholder)
    .or(card.getByPlaceholder(labelOrPlaceholder))
    .first();
  // Moving the mouse onto a channel post re-renders its card and drops what was typed: hover first.
  await input.hover();
  await input.fill(value);
}

/**
 * Clicks a card's Action.Execute button by its title and returns the bot's answer to the
 * `adaptiveCard/action` invoke. Throws when no invoke goes out (a required input left empty).
 */
export async function clickAction(
  page: Page,
  title: string,
  options: { card?: Locator; timeoutMs?: number } = {},
): Promise<InvokeResult> {
  const card = options.card ?? lastCard(page);
  const timeout = options.timeoutMs ?? DEFAULTS.waitTimeoutMs;
  const invoked = page.waitForResponse(
    (r) => r.request().method() === 'POST' && INVOKE_API.test(new URL(r.url()).pathname),
    { timeout },
  );
  invoked.catch(() => undefined); // awaited below; this only silences it if the click throws first
  await card.getByRole('button', { name: title, exact: true }).click();
  const response = await invoked.catch(() => {
    throw new Error(
      `Clicking "${title}" sent no invoke within ${timeout} ms (required input empty?)`,
    );
  });
  const body = await response.text();
  return { status: response.status(), body: body ? (JSON.parse(body) as unknown) : undefined };
}

export async function switchToPersonalChat(page: Page): Promise<void> {
  const state = stateOf(page);
  await page
    .getByRole('tree', { name: 'Personal and Group Chat' })
    .getByRole('treeitem', { name: 'Personal Chat', exact: true })
    .click();
  await showsChat(page);
  Object.assign(state, { view: 'personal', conversationId: state.config.personalChat.id });
}

/** Opens the group chat (there is one; its name comes from the config, "Group Chat" by default). */
export async function switchToGroupChat(page: Page): Promise<void> {
  const state = stateOf(page);
  const chat = state.config.groupChats[0];
  if (!chat) throw new Error('The Playground config has no group chat.');
  await page.getByRole('treeitem', { name: chat.name, exact: true }).click();
  await showsChat(page);
  Object.assign(state, { view: 'group', conversationId: chat.id });
}

/** Opens a channel of the team ("My Team" by default, with "General" and "Announcements"). */
export async function switchToChannel(page: Page, channelName = 'General'): Promise<void> {
  const state = stateOf(page);
  const team = state.config.teams[0];
  const channel = team?.channels.find((c) => c.name === channelName);
  if (!team || !channel) throw new Error(`The Playground team has no channel "${channelName}".`);
  await page.getByRole('treeitem', { name: `${team.name} - ${channel.name}`, exact: true }).click();
  await conversation(page).getByRole('button', { name: 'Post', exact: true }).waitFor();
  Object.assign(state, { view: 'channel', conversationId: channel.id });
}

/**
 * Makes card clicks (Action.Execute and Action.Submit) come from another mock user, by rewriting
 * `from.id` in the UI's requests; the Playground fills in that user's name and aadObjectId.
 * Typed messages still come from the configured current user (use `sendMessageAs`), and the
 * personal chat refuses other users (400 UserNotFound). The current user's name switches back.
 */
export async function switchUser(page: Page, name: string): Promise<void> {
  const state = stateOf(page);
  await state.stopActingAs?.();
  state.stopActingAs = undefined;
  const user = findUser(state.config, name);
  if (user.id === state.config.currentUser.id) return;
  const actAs = async (route: Route): Promise<void> => {
    const body = route.request().postDataJSON() as Record<string, unknown>;
    await route.continue({ postData: JSON.stringify({ ...body, from: { id: user.id } }) });
  };
  await page.route(CARD_ACTION_API, actAs);
  state.stopActingAs = () => page.unroute(CARD_ACTION_API, actAs);
}

/**
 * Sends a message from any mock user into the conversation on screen, as a custom activity (the
 * Playground's "Mock an Activity"). The bot's replies show in the UI; the message itself does not.
 * In a group chat or channel the bot is @mentioned. Nothing confirms delivery: wait for the reply.
 * `displayName` replaces the user's name as Teams would send it (anyone can set theirs).
 */
export async function sendMessageAs(
  page: Page,
  name: string,
  text: string,
  options: { displayName?: string } = {},
): Promise<void> {
  const { playgroundUrl, config, view, conversationId } = stateOf(page);
  const found = findUser(config, name);
  const user = { ...found, name: options.displayName ?? found.name };
  const bot = { id: config.bot.id, name: config.bot.name };
  const mention = `<at>${bot.name}</at>`;
  const team = config.teams[0];
  const activity = {
    type: 'message',
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: `http://localhost:${new URL(playgroundUrl).port}/_connector`,
    from: user,
    recipient: bot,
    conversation: {
      id: conversationId,
      tenantId: config.tenantId,
      conversationType: view === 'group' ? 'groupChat' : view,
      ...(view === 'personal' ? {} : { isGroup: true }),
    },
    text: view === 'personal' ? text : `${mention} ${text}`,
    textFormat: 'plain',
    entities: view === 'personal' ? [] : [{ type: 'mention', mentioned: bot, text: mention }],
    channelData: {
      tenant: { id: config.tenantId },
      ...(view === 'channel' && team
        ? { team: { id: team.id }, channel: { id: conversationId } }
        : {}),
    },
  };
  const response = await page.request.post(`${playgroundUrl}/_internal/v1/customActivities`, {
    data: activity,
  });
  if (!response.ok()) throw new Error(`Custom activity refused: ${response.status()}`);
}

export async function screenshot(page: Page, file: string): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
}

function stateOf(page: Page): PageState {
  const state = pageStates.get(page);
  if (!state) throw new Error('Open the page with openPlaygroundPage first.');
  return state;
}

function findUser(config: PlaygroundConfig, name: string): PlaygroundUser {
  const user = [config.currentUser, ...config.users].find((u) => u.name === name);
  if (!user) {
    const known = [config.currentUser, ...config.users].map((u) => u.name).join(', ');
    throw new Error(`No Playground user "${name}"; there are: ${known}.`);
  }
  return { id: user.id, name: user.name, aadObjectId: user.aadObjectId };
}

/** A chat (not a channel) is on screen: a compose box and no "Post" button. */
async function showsChat(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Post', exact: true }).waitFor({ state: 'detached' });
  await page.locator(EDITOR).first().waitFor();
}

function isLocal(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:') return true;
  return ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
