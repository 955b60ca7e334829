/**
 * Refused sign-in tokens as a security team sees them in the Agents Playground: a channel is
 * subscribed with `notify here`, then forged Teams SSO tokens arrive for Alex in his personal chat
 * (as Teams' token exchange invoke, through the Playground's "Mock an Activity"); past the
 * threshold the channel gets one card saying so. The real bot (sandbox mode) and the Playground in
 * headless chromium.
 *
 * With SHOW_SCREENSHOTS=1 it saves the card as sign-in-refusals-card.png in the temporary directory.
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PLAYGROUND_CURRENT_USER } from '../../src/sandbox/directory';
import {
  channelPosts,
  conversation,
  playgroundConfig,
  sendMessage,
  switchToChannel,
  switchToPersonalChat,
} from './support/playground';
import { useSandboxSession } from './support/sandbox-session';

const WAIT_MS = 15_000;
const CHANNEL = 'Announcements';
const CARD = '.ac-adaptiveCard:not(.ac-adaptiveCard .ac-adaptiveCard)';

describe('refused sign-in tokens in the Agents Playground', () => {
  const session = useSandboxSession('sign-in-refusals');
  const { page, sandbox, logLines } = session;

  /** Teams' token exchange invoke for the current user, sent through the Playground. */
  async function tokenExchange(token: string): Promise<void> {
    const p = page();
    const config = playgroundConfig(p);
    const playgroundUrl = sandbox().playground!.url;
    const response = await p.request.post(`${playgroundUrl}/_internal/v1/customActivities`, {
      data: {
        type: 'invoke',
        name: 'signin/tokenExchange',
        id: randomUUID(),
        timestamp: new Date().toISOString(),
        channelId: 'msteams',
        serviceUrl: `http://localhost:${new URL(playgroundUrl).port}/_connector`,
        from: config.currentUser,
        recipient: { id: config.bot.id, name: config.bot.name },
        conversation: {
          id: config.personalChat.id,
          tenantId: config.tenantId,
          conversationType: 'personal',
        },
        channelData: { tenant: { id: config.tenantId } },
        value: { id: randomUUID(), connectionName: '', token },
      },
    });
    expect(response.ok()).toBe(true);
  }

  test('past the threshold, the subscribed channel gets one card naming the user and the failed check', async () => {
    await switchToChannel(page(), CHANNEL);
    await sendMessage(page(), 'notify here');
    await channelPosts(page())
      .first()
      .filter({ hasText: '🔔 Subscribed' })
      .waitFor({ timeout: WAIT_MS });

    const alex = PLAYGROUND_CURRENT_USER;
    const forged = await sandbox().identity.identityProvider.mintSsoToken(
      { oid: alex.oid, tid: playgroundConfig(page()).tenantId, name: alex.name },
      { signWith: 'foreign-key-known-kid' },
    );
    await switchToPersonalChat(page());
    // Nine: even split over two counting windows, one of them reaches the threshold (5), once.
    for (let i = 0; i < 9; i += 1) await tokenExchange(forged);
    await conversation(page())
      .getByText('Your Teams sign-in was refused (bad-signature)')
      .first()
      .waitFor({ timeout: WAIT_MS });

    await switchToChannel(page(), CHANNEL);
    const post = channelPosts(page()).first();
    await post.filter({ hasText: 'Refused sign-in tokens' }).waitFor({ timeout: WAIT_MS });
    // One card (the exact count across refusals is proven in test/integration/sign-in-refusals).
    await expect(
      channelPosts(page()).filter({ hasText: 'Refused sign-in tokens' }).count(),
    ).resolves.toBe(1);
    const text = await post.locator(CARD).innerText();
    expect(text).toContain(`Refused sign-in tokens for ${alex.name}`);
    expect(text).toContain(
      '5 refused sign-in tokens within 15 minutes (the latest failed check: bad-signature,',
    );
    expect(text).toContain(alex.oid);
    expect(text).toMatch(/Outcome\s+Sign-in refused/);
    expect(text).not.toContain(forged.split('.')[2]!);
    expect(logLines.join('\n')).not.toContain(forged.split('.')[2]!);

    // To look at it: SHOW_SCREENSHOTS=1 saves the post in the temporary directory.
    if (process.env.SHOW_SCREENSHOTS === '1') {
      await post.scrollIntoViewIfNeeded();
      await post.screenshot({ path: path.join(tmpdir(), 'sign-in-refusals-card.png') });
    }
  });
});
