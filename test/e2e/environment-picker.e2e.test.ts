/**
 * Finding the environment the user means, in the Agents Playground as a person would: a partial
 * name lists every environment it could mean (never Production straight away), a name that
 * matches nothing offers the environments list, picking from that list opens the confirmation
 * card, and Cancel closes the picker. Real bot (sandbox mode), simulated API, headless chromium.
 *
 * Screenshots of each step go to $E2E_SHOTS (default: a temporary folder) to be looked at.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Locator } from 'playwright-core';
import { defaultSeed, WELL_KNOWN } from '../../src/sandbox/power-platform-simulator';
import { clickAction, conversation, sendMessage, switchUser } from './support/playground';
import { useSandboxSession } from './support/sandbox-session';

const WAIT_MS = 15_000;
const ALEX = 'Alex Wilber';
/** Adaptive Cards, without the nested ones Action.ShowCard opens. */
const CARD = '.ac-adaptiveCard:not(.ac-adaptiveCard .ac-adaptiveCard)';
/** One message from the bot. */
const BOT_MESSAGE = '.fai-OutputCard';
const SHOTS = process.env.E2E_SHOTS ?? path.join(tmpdir(), 'environment-picker-e2e-shots');

describe('finding the environment in the Agents Playground', () => {
  const session = useSandboxSession('environment-picker');
  const { page, simulatorCalls } = session;

  beforeAll(() => mkdirSync(SHOTS, { recursive: true }));

  beforeEach(async () => {
    await switchUser(page(), ALEX);
  });

  function botMessages(): Locator {
    return conversation(page()).locator(BOT_MESSAGE);
  }

  async function mark(): Promise<{ messages: number; calls: number }> {
    return { messages: await botMessages().count(), calls: simulatorCalls().length };
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

  async function cardShows(card: Locator, text: string | RegExp): Promise<string> {
    await card.filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
    return card.innerText();
  }

  function applyAdminRoleCalls(since: { calls: number }): number {
    return simulatorCalls()
      .slice(since.calls)
      .filter((call) => call.operation === 'applyAdminRole').length;
  }

  /** Saves the message (with some room around it) for a person to look at. */
  async function shoot(file: string, message: Locator): Promise<void> {
    await message.scrollIntoViewIfNeeded();
    await message.screenshot({ path: path.join(SHOTS, file), animations: 'disabled' });
  }

  test('"elevate me in contoso" shows the picker with every Contoso environment, not Production\'s card', async () => {
    const since = await mark();
    await sendMessage(page(), 'elevate me in contoso');
    const message = await botMessage(since, 0, 'Several environments match');
    const card = message.locator(CARD);
    const text = await card.innerText();
    expect(text).not.toContain('Confirm elevation');
    // More than five: every one listed with its details, Production (the domain name's own
    // match) first, and a list to pick from.
    const contosos = defaultSeed()
      .filter((e) => /contoso/i.test(`${e.displayName} ${e.domainName ?? ''}`))
      .map((e) => e.displayName);
    const listed = text
      .split('\n')
      .map((line) => line.split(' · ')[0]!.trim())
      .filter((name) => contosos.includes(name));
    expect([...listed].sort()).toEqual([...contosos].sort());
    expect(listed[0]).toBe(WELL_KNOWN.contosoProd.displayName);
    await shoot('picker-contoso.png', message);

    // Picking one from the list opens its confirmation card; nothing is called yet.
    await card.getByRole('combobox').click();
    await page()
      .getByRole('option', { name: WELL_KNOWN.contosoDev.displayName, exact: true })
      .click();
    await clickAction(page(), 'Continue', { card });
    const confirmation = await cardShows(card, 'Confirm elevation');
    expect(confirmation).toContain(WELL_KNOWN.contosoDev.id);
    expect(confirmation).not.toContain('This is a Production environment.');
    expect(applyAdminRoleCalls(since)).toBe(0);
  });

  test('a domain name only one environment holds opens its card, which says what it matched', async () => {
    const since = await mark();
    await sendMessage(page(), 'elevate me in org6d1f0e2a');
    const message = await botMessage(since, 0, 'Confirm elevation');
    const text = await message.locator(CARD).innerText();
    expect(text).toContain('Why this environment: it matched the domain name org6d1f0e2a.');
    expect(text).toContain(WELL_KNOWN.contosoDefault.id);
    await shoot('matched-domain-name.png', message);
    expect(applyAdminRoleCalls(since)).toBe(0);
  });

  test('a name with no match offers the environments list; picking from it opens the confirmation card', async () => {
    const since = await mark();
    await sendMessage(page(), 'elevate me in Zzyzx Lab');
    const message = await botMessage(since, 0, 'No environment found');
    const card = message.locator(CARD);
    await shoot('no-match.png', message);

    await clickAction(page(), 'Show my environments', { card });
    const total = defaultSeed().length;
    await cardShows(card, `Environments you can see: 1–5 of ${total}.`);
    await shoot('environments-list.png', message);

    await clickAction(page(), 'Next', { card });
    const second = await cardShows(card, `Environments you can see: 6–10 of ${total}.`);
    const names = defaultSeed()
      .map((e) => e.displayName)
      .sort(new Intl.Collator('en', { sensitivity: 'base', numeric: true }).compare);
    const pickedName = names[5]!;
    expect(second).toContain(pickedName);
    await shoot('environments-list-page-2.png', message);

    await clickAction(page(), pickedName, { card });
    const confirmation = await cardShows(card, 'Confirm elevation');
    const picked = defaultSeed().find((e) => e.displayName === pickedName)!;
    expect(confirmation).toContain(picked.id);
    await shoot('picked-from-list.png', message);
    expect(applyAdminRoleCalls(since)).toBe(0);
  });

  test('Cancel closes the picker and says so', async () => {
    const since = await mark();
    await sendMessage(page(), 'elevate me in contoso test');
    const message = await botMessage(since, 0, 'Several environments match');
    const card = message.locator(CARD);
    await expect(
      card.getByRole('button', { name: WELL_KNOWN.contosoTest.displayName, exact: true }).count(),
    ).resolves.toBe(1);
    await shoot('picker-buttons.png', message);

    await clickAction(page(), 'Cancel', { card });
    const closed = await cardShows(card, 'Cancelled');
    expect(closed).toContain('nothing was changed');
    expect(await card.getByRole('button').count()).toBe(0);
    await shoot('picker-cancelled.png', message);
    expect(applyAdminRoleCalls(since)).toBe(0);
  });

  test('a mistyped elevation suggests the command meant, and its button runs it', async () => {
    const since = await mark();
    await sendMessage(page(), 'elevat me in Contoso Dev');
    const message = await botMessage(since, 0, 'Did you mean this?');
    expect(await message.innerText()).toContain('elevate me in Contoso Dev');
    await shoot('did-you-mean.png', message);
    const card = message.locator(CARD);
    await clickAction(page(), 'Yes, elevate me', { card });
    const confirmation = await cardShows(card, 'Confirm elevation');
    expect(confirmation).toContain(WELL_KNOWN.contosoDev.id);
    await shoot('did-you-mean-confirmation.png', message);
    expect(applyAdminRoleCalls(since)).toBe(0);
  });
});
