/**
 * What cards and replies say, as the Agents Playground renders them (issue #11, security defect 2,
 * answers 3 and 5): help and the fallback read clean, a display name with Markdown shows as typed
 * and never as a link, and an outcome in a group chat names the requester. With
 * SCREENSHOTS_DIR=<dir> it saves what it saw there, to look at.
 */
import path from 'node:path';
import type { Locator } from 'playwright-core';
import {
  clickAction,
  conversation,
  fillInput,
  sendMessage,
  sendMessageAs,
  switchToGroupChat,
  switchToPersonalChat,
  switchUser,
} from './support/playground';
import { useSandboxSession } from './support/sandbox-session';

const WAIT_MS = 15_000;
const ALEX = 'Alex Wilber';
const MEGAN = 'Megan Bowen';
const CARD = '.ac-adaptiveCard:not(.ac-adaptiveCard .ac-adaptiveCard)';
const BOT_MESSAGE = '.fai-OutputCard';
const HOSTILE_NAME = '[Approve here](https://evil.example/approve) **now**';

describe('cards and replies in the Agents Playground', () => {
  const session = useSandboxSession('cards-wording');
  const { page } = session;

  beforeEach(async () => {
    await switchUser(page(), ALEX);
  });

  function botMessages(): Locator {
    return conversation(page()).locator(BOT_MESSAGE);
  }

  async function botMessage(since: number, index: number, text: string | RegExp): Promise<Locator> {
    const message = botMessages().nth(since + index);
    await message.filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
    return message;
  }

  async function look(file: string, what: Locator): Promise<void> {
    const dir = process.env.SCREENSHOTS_DIR;
    if (!dir) return;
    await what.scrollIntoViewIfNeeded();
    await what.screenshot({ path: path.join(dir, file), animations: 'disabled', caret: 'hide' });
  }

  test('help and the fallback read clean: no entities, no raw backticks or dashes', async () => {
    let since = await botMessages().count();
    await sendMessage(page(), 'help');
    const help = await botMessage(since, 0, 'I make Power Platform tenant admins');
    const helpText = await help.innerText();
    expect(helpText).toContain('elevate me in');
    expect(helpText).not.toMatch(/&lt;|&gt;|&amp;|`|<environment>/);
    await look('help.png', help);

    since = await botMessages().count();
    await sendMessage(page(), 'make me a sandwich');
    const fallback = await botMessage(since, 0, 'I did not understand that');
    const fallbackText = await fallback.locator(CARD).innerText();
    expect(fallbackText).toContain('“help”: this message');
    expect(fallbackText).not.toMatch(/&lt;|&gt;|`|^\s*- /m);
    await look('fallback.png', fallback);
  });

  test('group chat: a display name with Markdown is shown as typed, never as a link', async () => {
    await switchToGroupChat(page());
    try {
      const since = await botMessages().count();
      await sendMessageAs(page(), MEGAN, 'elevate me in Contoso Dev', {
        displayName: HOSTILE_NAME,
      });
      const message = await botMessage(since, 0, 'Confirm elevation');
      const card = message.locator(CARD);
      const text = await card.innerText();
      expect(text).toContain(`${HOSTILE_NAME} asks to become System Administrator in Contoso Dev.`);
      expect(text).toContain(`only ${HOSTILE_NAME} can confirm`);
      expect(text).toMatch(/This card expires at \d\d:\d\d \S+; only/);
      expect(await card.locator('a[href*="evil.example"]').count()).toBe(0);
      await look('hostile-name.png', message);
    } finally {
      await switchToPersonalChat(page());
    }
  });

  test('group chat: the outcome names the requester, on the card and in the message', async () => {
    await switchToGroupChat(page());
    try {
      const since = await botMessages().count();
      await sendMessage(page(), 'elevate me in Contoso Dev');
      const message = await botMessage(since, 0, 'Confirm elevation');
      const card = message.locator(CARD);
      await fillInput(page(), 'Justification', 'INC-4711', { card });
      await clickAction(page(), 'Elevate', { card });
      await card
        .filter({ hasText: '✅ Elevated: Alex Wilber is now System Administrator' })
        .waitFor({ timeout: WAIT_MS });
      const outcome = await botMessage(
        since,
        1,
        '✅ Elevated: Alex Wilber is now System Administrator in Contoso Dev.',
      );
      expect(await card.innerText()).not.toMatch(/\byou\b/);
      await look('group-outcome-card.png', message);
      await look('group-outcome-message.png', outcome);
    } finally {
      await switchToPersonalChat(page());
    }
  });
});
