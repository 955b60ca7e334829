/**
 * Second-person approval end to end, as people use it (issue #15's Playground acceptance): a
 * Production elevation waits for approval, another member of My Team approves in the approvers'
 * channel, and the requester elevates with their own sign-in; the requester pressing Approve on
 * their own request is refused. The real bot (sandbox mode) with a policy whose Production rule
 * asks the Announcements channel of My Team, the simulated Power Platform API, and the Microsoft
 * 365 Agents Playground driven through its web UI in headless chromium.
 *
 * Beside it, a rate limit reached at Elevate: two cards opened side by side, each within the
 * limit, and the second Elevate refused on its card.
 *
 * With UPDATE_SCREENSHOTS=1 it also saves docs/screenshots/approval-*.png and
 * rate-limit-at-elevate.png.
 */
import path from 'node:path';
import type { Locator } from 'playwright-core';
import type { Policy } from '../../src/policy/policy';
import { SANDBOX_USERS } from '../../src/sandbox/directory';
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator';
import {
  channelPosts,
  clickAction,
  conversation,
  fillInput,
  postAuthor,
  sendMessage,
  switchToChannel,
  switchToPersonalChat,
  switchUser,
} from './support/playground';
import { SCREENSHOTS, useSandboxSession } from './support/sandbox-session';

const WAIT_MS = 15_000;
const ALEX = 'Alex Wilber';
const MEGAN = 'Megan Bowen';
const BOT = 'Elevation Bot';
const CHANNEL = 'Announcements';
/** The Announcements channel of the Playground's "My Team" (src/sandbox/directory.ts). */
const CHANNEL_ID = '19:my-team-announcements@thread.tacv2';

const POLICY: Policy = {
  source: 'approvals e2e',
  rules: [
    {
      name: 'production',
      match: { types: ['Production'] },
      approval: { channel: { team: 'My Team', channel: CHANNEL_ID }, timeoutMinutes: 30 },
    },
    {
      name: 'sandboxes',
      match: { types: ['Sandbox'] },
      rateLimit: { perUser: { count: 1, windowMinutes: 60 } },
    },
    { name: 'everything else', match: {} },
  ],
};

const CARD = '.ac-adaptiveCard:not(.ac-adaptiveCard .ac-adaptiveCard)';
const BOT_MESSAGE = '.fai-OutputCard';
const INVOKE_BANNER = '[aria-label="Display Invoked Message"]';

function sandboxUser(name: string): (typeof SANDBOX_USERS)[number] {
  const user = SANDBOX_USERS.find((u) => u.name === name);
  if (!user) throw new Error(`no sandbox user ${name}`);
  return user;
}

describe('approval in the Agents Playground', () => {
  const session = useSandboxSession('approvals', { policy: POLICY });
  const { logLines, page } = session;

  function botMessages(): Locator {
    return conversation(page()).locator(BOT_MESSAGE);
  }

  async function botMessage(since: number, index: number, text: string | RegExp) {
    const message = botMessages().nth(since + index);
    await message.filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
    return message;
  }

  async function cardShows(card: Locator, text: string | RegExp): Promise<string> {
    await card.filter({ hasText: text }).waitFor({ timeout: WAIT_MS });
    return card.innerText();
  }

  /** The card's action buttons (the duration drop-down's own button has no text). */
  async function buttons(card: Locator): Promise<string[]> {
    return (await card.getByRole('button').allInnerTexts())
      .map((t) => t.trim())
      .filter((t) => t !== '');
  }

  function ownMessage(text: string): Locator {
    return conversation(page()).getByText(text, { exact: true }).last();
  }

  async function dismissInvokeBanner(message: Locator): Promise<void> {
    const dismiss = message.locator(INVOKE_BANNER).getByRole('button', {
      name: 'Dismiss Invoke Message',
    });
    if (await dismiss.count()) await dismiss.click();
  }

  /** The conversation column from `top` to `bottom`, saved when UPDATE_SCREENSHOTS=1. */
  async function snap(file: string, top: Locator, bottom: Locator): Promise<void> {
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

  async function newPost(before: number, text: string | RegExp): Promise<Locator> {
    await channelPosts(page()).nth(before).waitFor({ timeout: WAIT_MS });
    const post = channelPosts(page()).filter({ hasText: text }).first();
    await post.waitFor({ timeout: WAIT_MS });
    return post;
  }

  test('a Production elevation waits for approval, Megan approves in the channel, Alex elevates; Alex pressing Approve is refused', async () => {
    const env = WELL_KNOWN.contosoProd;
    const alex = sandboxUser(ALEX);
    const megan = sandboxUser(MEGAN);
    const justification = 'CHG0042: hotfix the invoice flow';
    const logsBefore = logLines.length;

    // The bot learns the approvers' channel (and subscribes it, to hear of the decision).
    await switchToChannel(page(), CHANNEL);
    const before = await channelPosts(page()).count();
    await sendMessage(page(), 'notify here');
    await newPost(before, /🔔 Subscri(bed|ption updated)/);
    const postsBefore = await channelPosts(page()).count();

    // Alex asks: the card names the rule and who approves, and offers Ask for approval.
    await switchToPersonalChat(page());
    const since = await botMessages().count();
    const text = `elevate me in ${env.displayName}`;
    await sendMessage(page(), text);
    const message = await botMessage(since, 0, 'Approval needed');
    const card = message.locator(CARD);
    const asking = await card.innerText();
    expect(asking).toContain(
      "Production needs approval by a member of the approvers' channel of My Team.",
    );
    expect(asking).toContain('production (its type is Production)');
    expect(await buttons(card)).toEqual(['Ask for approval', 'Cancel']);
    await fillInput(page(), 'Justification', justification, { card });
    await snap('approval-ask.png', ownMessage(text), message);

    expect(await clickAction(page(), 'Ask for approval', { card })).toMatchObject({ status: 200 });
    const waiting = await cardShows(
      card,
      "Waiting for approval from a member of the approvers' channel of My Team",
    );
    expect(waiting).toContain(justification);
    expect(await buttons(card)).toEqual(['Cancel']);
    await dismissInvokeBanner(message);
    await snap('approval-waiting.png', ownMessage(text), message);

    // The approvers' card: a new post in the channel.
    await switchToChannel(page(), CHANNEL);
    await newPost(postsBefore, `Approval asked: ${ALEX} in ${env.displayName}`);
    // Found by what stays on it once decided (the headline changes; the decision's post comes).
    const post = channelPosts(page()).filter({ hasText: 'Requester id' }).first();
    expect(await postAuthor(post)).toBe(BOT);
    const approverCard = post.locator(CARD).first();
    const asked = await approverCard.innerText();
    expect(asked).toContain(justification);
    expect(asked).toContain(env.id);
    expect(await buttons(approverCard)).toEqual(['Approve', 'Deny']);

    // Alex presses Approve on his own request: refused, and the card still waits.
    const self = await clickAction(page(), 'Approve', { card: approverCard });
    expect(JSON.stringify(self.body)).toContain('cannot approve or deny it');
    expect(await buttons(approverCard)).toEqual(['Approve', 'Deny']);

    // Megan, a member of My Team, approves with a reason.
    await switchUser(page(), MEGAN);
    await fillInput(page(), 'Reason (required to deny)', 'Change approved in CAB', {
      card: approverCard,
    });
    await snap('approval-approver-card.png', post, post);
    expect(await clickAction(page(), 'Approve', { card: approverCard })).toMatchObject({
      status: 200,
    });
    const decided = await cardShows(approverCard, `Approved by ${MEGAN}`);
    expect(decided).toContain('Change approved in CAB');
    expect(await buttons(approverCard)).toEqual([]);
    await switchUser(page(), ALEX);
    // The subscribed channel hears of the decision.
    await newPost(postsBefore + 1, 'Elevation approved');

    // Alex's card now offers Elevate, with the approved justification, and he is told.
    await switchToPersonalChat(page());
    const approved = await cardShows(card, `Approved by ${MEGAN}`);
    expect(approved).toContain(justification);
    expect(await buttons(card)).toEqual(['Elevate', 'Cancel']);
    const told = await botMessage(since, 1, `${MEGAN} approved your elevation`);
    await snap('approval-approved.png', message, told);

    const grantsBefore = session.sandbox().simulator!.grants.length;
    expect(await clickAction(page(), 'Elevate', { card })).toMatchObject({ status: 200 });
    await cardShows(card, /✅ Elevated/);
    const grants = session.sandbox().simulator!.grants.slice(grantsBefore);
    expect(grants.map((g) => [g.environmentId, g.oid])).toEqual([[env.id, alex.oid]]);
    expect(grants.map((g) => g.oid)).not.toContain(megan.oid);
    expect(logLines.slice(logsBefore).filter((l) => l.includes('"level":"error"'))).toEqual([]);
  }, 180_000);

  test('two cards opened side by side: the second Elevate is over the rate limit and refused on its card', async () => {
    const first = 'Contoso Dev';
    const second = 'Northwind Sales Dev';
    await switchToPersonalChat(page());
    const since = await botMessages().count();
    await sendMessage(page(), `elevate me in ${first}`);
    const firstMessage = await botMessage(since, 0, 'Elevate');
    await sendMessage(page(), `elevate me in ${second}`);
    const secondMessage = await botMessage(since, 1, 'Elevate');
    const firstCard = firstMessage.locator(CARD);
    const secondCard = secondMessage.locator(CARD);

    const grantsBefore = session.sandbox().simulator!.grants.length;
    await fillInput(page(), 'Justification', 'INC-51: a stuck flow', { card: secondCard });
    expect(await clickAction(page(), 'Elevate', { card: secondCard })).toMatchObject({
      status: 200,
    });
    await cardShows(secondCard, /✅ Elevated/);

    await fillInput(page(), 'Justification', 'INC-52: another one', { card: firstCard });
    expect(await clickAction(page(), 'Elevate', { card: firstCard })).toMatchObject({
      status: 200,
    });
    const refused = await cardShows(firstCard, "Refused: too many elevations (rule 'sandboxes')");
    expect(refused).toContain(
      "You have had 1 elevation under the rule 'sandboxes' in the last hour; it allows 1 per person per hour.",
    );
    expect(await buttons(firstCard)).toContain('Elevate');
    expect(session.sandbox().simulator!.grants.length).toBe(grantsBefore + 1);
    await dismissInvokeBanner(firstMessage);
    await snap('rate-limit-at-elevate.png', firstMessage, firstMessage);
  }, 120_000);
});
