/**
 * Channel notifications over real HTTP: subscriptions typed in a channel, elevations in personal
 * chats, and the notification cards the bot posts to the local connector stub (which can answer
 * 429, 5xx or 403 on demand), delivered from the SQLite outbox.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_USERS } from '../../src/sandbox/directory';
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator/seed';
import type { ElevationStore } from '../../src/elevation/ports';
import { markdownTexts, textRuns } from '../support/card-inspection';
import { type ConnectorCall, startConnectorStub } from '../support/connector-stub';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  channel,
  type Conversation,
  MEGAN,
  startTestBot,
  TENANT,
  type TestBot,
  type TestBotOptions,
  type TestUser,
} from '../support/test-bot';
import { waitFor } from '../support/wait-for';
import { auditEvents, outbox } from '../support/store-rows';

const TEAM = '19:team-general@thread.tacv2';
const SECURITY = '19:security@thread.tacv2';
const PLATFORM = '19:platform@thread.tacv2';
const ISAIAH: TestUser = {
  aadObjectId: SANDBOX_USERS.find((u) => u.name === 'Isaiah Langer')!.oid,
  name: 'Isaiah Langer',
  tenantId: TENANT,
};

/** Fast retries, so that tests of retrying do not wait for the production backoff. */
const ENV = {
  BOT_ADMIN_IDS: ALEX.aadObjectId,
  NOTIFICATION_RETRY_BASE_MS: '50',
  NOTIFICATION_POLL_MS: '200',
};

let bot: TestBot;
const started: TestBot[] = [];

async function start(options: TestBotOptions = {}): Promise<TestBot> {
  const created = await startTestBot({ ...options, env: { ...ENV, ...options.env } });
  started.push(created);
  return created;
}

afterEach(async () => {
  for (const b of started.splice(0)) await b.stop();
});

function store(of: TestBot = bot): ElevationStore {
  return of.app.store;
}

/** The bot's answer to a command typed in a channel, as text. */
async function inChannel(user: TestUser, channelId: string, command: string): Promise<string> {
  const { status, calls } = await bot.say(
    user,
    `<at>Elevation</at> ${command}`,
    channel(channelId, TEAM),
  );
  expect(status).toBe(200);
  expect(calls).toHaveLength(1);
  return cardText(cardOf(calls[0]!.activity)) || String(calls[0]!.activity.text);
}

/** Elevates `user` in an environment from their personal chat; returns the outcome message. */
async function elevate(
  user: TestUser,
  environment: string,
  justification = 'INC-1 outage',
  of: TestBot = bot,
): Promise<{ requestId: string; outcomeText: string; correlationId: string }> {
  const asked = await of.say(user, `elevate me in ${environment}`);
  const card = cardOf(asked.calls[0]!.activity);
  const requestId = actionData(card, 'elevate')?.requestId as string;
  expect(requestId).toBeDefined();
  const click = await of.click(
    user,
    'elevate',
    { requestId, justification },
    { replyToId: asked.calls[0]!.assignedId },
  );
  const message = click.calls.find((c) => typeof c.activity.text === 'string');
  const outcomeText = String(message?.activity.text ?? '');
  const correlationId = /Correlation id: (\S+)/.exec(outcomeText)?.[1] ?? '';
  return { requestId, outcomeText, correlationId };
}

/** Notification cards posted to a channel, as the channel's members would read them. */
function postedTo(channelId: string, of: TestBot = bot): string[] {
  return of.connector.calls
    .filter((c: ConnectorCall) => c.conversationId === channelId && c.method === 'POST')
    .map((c) => cardText(cardOf(c.activity)));
}

async function subscribe(channelId: string, filter = ''): Promise<void> {
  const answer = await inChannel(ALEX, channelId, `notify here ${filter}`.trim());
  expect(answer).toContain('Subscribed');
}

describe('subscriptions', () => {
  beforeEach(async () => {
    bot = await start();
  });

  it('notify here, notify status and notify off, by a bot administrator', async () => {
    expect(await inChannel(ALEX, SECURITY, 'notify status')).toContain(
      'This channel is not subscribed',
    );

    const subscribed = await inChannel(ALEX, SECURITY, 'notify here');
    expect(subscribed).toContain('Subscribed');
    expect(subscribed).toContain('every elevation');
    expect((await store().findSubscription(SECURITY))?.filter).toEqual({ kind: 'all' });

    const status = await inChannel(MEGAN, SECURITY, 'notify status');
    expect(status).toContain('This channel is subscribed');
    expect(status).toContain('every elevation');
    expect(status).toContain('Subscribed by Alex Wilber');

    const narrowed = await inChannel(ALEX, SECURITY, 'notify here for production');
    expect(narrowed).toContain('Subscription updated');
    expect(narrowed).toContain('elevations in production environments');

    expect(await inChannel(ALEX, SECURITY, 'notify off')).toContain('Unsubscribed');
    expect(await store().findSubscription(SECURITY)).toBeUndefined();
    expect(await inChannel(ALEX, SECURITY, 'notify off')).toContain('was not subscribed');
    expect(await inChannel(ALEX, SECURITY, 'notify status')).toContain('not subscribed');

    const audit = auditEvents(bot).filter(
      (e) => e.type === 'subscribed' || e.type === 'unsubscribed',
    );
    expect(audit.map((e) => e.type)).toEqual(['subscribed', 'subscribed', 'unsubscribed']);
    expect(audit.every((e) => e.actor === ALEX.aadObjectId)).toBe(true);
  });

  it('someone who is not a bot administrator can neither subscribe nor unsubscribe a channel', async () => {
    const refused = await inChannel(MEGAN, SECURITY, 'notify here');
    expect(refused).toContain('you are not one of them');
    expect(await store().findSubscription(SECURITY)).toBeUndefined();

    await subscribe(SECURITY);
    expect(await inChannel(MEGAN, SECURITY, 'notify off')).toContain('you are not one of them');
    expect(await store().findSubscription(SECURITY)).toBeDefined();

    const refusals = auditEvents(bot).filter((e) => e.type === 'refused');
    expect(refusals.map((e) => [e.actor, e.details?.reason, e.details?.command])).toEqual([
      [MEGAN.aadObjectId, 'not-bot-admin', 'notify here'],
      [MEGAN.aadObjectId, 'not-bot-admin', 'notify off'],
    ]);
  });

  it('with no BOT_ADMIN_IDS nobody can subscribe', async () => {
    const noAdmins = await start({ env: { BOT_ADMIN_IDS: '' } });
    const { calls } = await noAdmins.say(ALEX, 'notify here', channel(SECURITY, TEAM));
    expect(cardText(cardOf(calls[0]!.activity))).toContain('you are not one of them');
    expect(await store(noAdmins).findSubscription(SECURITY)).toBeUndefined();
  });

  it('notify here outside a channel, or with a filter it cannot read, changes nothing', async () => {
    const personal = await bot.say(ALEX, 'notify here');
    expect(cardText(cardOf(personal.calls[0]!.activity))).toContain(
      'Notifications go to team channels',
    );
    expect(await inChannel(ALEX, SECURITY, 'notify here sometimes')).toContain('Nothing changed');
    expect(await inChannel(ALEX, SECURITY, 'notify here for *')).toContain('Nothing changed');
    expect(await inChannel(ALEX, SECURITY, `notify here for ${'x'.repeat(150)}`)).toContain(
      'at most 100',
    );
    expect(await store().findSubscription(SECURITY)).toBeUndefined();
  });

  it('a name pattern is shown as plain text, never as a link', async () => {
    const answer = await inChannel(ALEX, SECURITY, 'notify here for [x](https://evil.example)');
    expect(answer).toContain('whose name contains "[x](https://evil.example)"');
    const reply = cardOf(bot.connector.calls.at(-1)!.activity);
    expect(markdownTexts(reply).join('\n')).not.toContain('evil.example');
  });
});

describe('notification cards', () => {
  beforeEach(async () => {
    bot = await start();
  });

  it('a success reaches every subscribed channel once, with who, where, why, outcome, correlation id and time', async () => {
    await subscribe(SECURITY);
    await subscribe(PLATFORM);
    const justification = '[urgent](https://evil.example) **INC-42**';
    const { correlationId, outcomeText } = await elevate(ALEX, 'Contoso Dev', justification);
    expect(outcomeText).toContain('✅');
    expect(correlationId).not.toBe('');

    for (const channelId of [SECURITY, PLATFORM]) {
      const [card] = await waitFor(
        () => (postedTo(channelId).length ? postedTo(channelId) : undefined),
        `the notification in ${channelId}`,
      );
      expect(card).toContain('Elevation succeeded');
      expect(card).toContain('Alex Wilber');
      // The UPN comes from the user's sign-in, not from Teams.
      expect(card).toMatch(/Alex Wilber \([^)]+@[^)]+\)/);
      expect(card).toContain('Contoso Dev');
      expect(card).toContain(WELL_KNOWN.contosoDev.id);
      expect(card).toContain('Sandbox');
      expect(card).toContain(justification);
      expect(card).toContain('Succeeded');
      expect(card).toContain(correlationId);
      expect(card).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    }
    // A new post in the channel (not a reply in some thread).
    const posts = bot.connector.calls.filter((c) => c.conversationId === SECURITY);
    expect(posts.map((c) => [c.method, c.activityId])).toEqual([['POST', undefined]]);
    // Justification text stays plain: it sits in TextRuns only.
    const posted = cardOf(posts[0]!.activity);
    expect(markdownTexts(posted).join('\n')).not.toContain('evil.example');
    expect(textRuns(posted)).toContain(justification);
  });

  it('a failure is marked as such, with the error code and correlation id', async () => {
    await subscribe(SECURITY);
    bot.simulator.override('as=security-group', {
      operation: 'applyAdminRole',
      environmentId: WELL_KNOWN.contosoDev.id,
    });
    const { outcomeText, correlationId } = await elevate(ALEX, 'Contoso Dev');
    expect(outcomeText).toContain('❌');
    const [card] = await waitFor(
      () => (postedTo(SECURITY).length ? postedTo(SECURITY) : undefined),
      'the failure notification',
    );
    expect(card).toContain('Elevation FAILED');
    expect(card).toContain('Failed (functional-error)');
    expect(card).toContain('userNotPartOfSecurityGroup');
    expect(card).toContain(correlationId);
    expect(card).toContain('Contoso Dev');
  });

  it('someone without a tenant admin role trying to elevate is reported to the channels', async () => {
    await subscribe(SECURITY, 'for production');
    const { calls } = await bot.say(ISAIAH, 'elevate me in Contoso Prod');
    expect(cardText(cardOf(calls[0]!.activity))).toMatch(/admin/i);
    const [card] = await waitFor(
      () => (postedTo(SECURITY).length ? postedTo(SECURITY) : undefined),
      'the refusal notification',
    );
    expect(card).toContain('Elevation refused: not a tenant admin');
    expect(card).toContain('Isaiah Langer');
    expect(card).toContain('Contoso Prod');
    expect(bot.simulator.calls.filter((c) => c.path.includes('applyAdminRole'))).toHaveLength(0);
  });

  it('filters: a channel gets only the environment types or names it asked for', async () => {
    await subscribe(SECURITY, 'for production');
    await subscribe(PLATFORM, 'for contoso d*');
    await elevate(ALEX, 'Contoso Dev');
    await elevate(ALEX, 'Contoso Prod');
    await elevate(ALEX, 'Northwind Sales');
    await waitFor(
      () => (postedTo(SECURITY).length === 2 && postedTo(PLATFORM).length === 1 ? true : undefined),
      'two production notifications and one by name',
    );
    await waitFor(
      () => (outbox(bot).every((d) => d.state === 'delivered') ? true : undefined),
      'every delivery recorded',
    );
    expect(postedTo(SECURITY).map((t) => /Contoso Prod|Northwind Sales/.exec(t)?.[0])).toEqual([
      'Contoso Prod',
      'Northwind Sales',
    ]);
    expect(postedTo(PLATFORM)[0]).toContain('Contoso Dev');
  });
});

describe('delivery', () => {
  it('429 with Retry-After, then success: delivered once', async () => {
    bot = await start();
    await subscribe(SECURITY);
    bot.connector.failNext(429, 1, {
      conversationId: SECURITY,
      headers: { 'retry-after': '1' },
      body: '{"error":{"code":"Throttled","message":"Too many requests"}}',
    });
    const { outcomeText } = await elevate(ALEX, 'Contoso Dev');
    expect(outcomeText).toContain('✅');
    await waitFor(() => (postedTo(SECURITY).length ? true : undefined), 'the notification');
    await waitFor(
      () => (outbox(bot)[0]?.state === 'delivered' ? true : undefined),
      'the delivery recorded',
    );
    const attempts = bot.connector.requests.filter((r) => r.conversationId === SECURITY);
    expect(attempts.map((r) => r.status)).toEqual([429, 200]);
    expect(postedTo(SECURITY)).toHaveLength(1);
  });

  it('5xx beyond the connector client’s own retries: retried from the outbox, delivered once, the user never waits', async () => {
    bot = await start();
    await subscribe(SECURITY);
    bot.connector.failNext(503, 6, { conversationId: SECURITY });
    const { outcomeText } = await elevate(ALEX, 'Contoso Dev');
    // The user's outcome is out while the channel's delivery is still failing.
    expect(outcomeText).toContain('✅');
    expect(postedTo(SECURITY)).toHaveLength(0);

    await waitFor(() => (postedTo(SECURITY).length ? true : undefined), 'the notification', 30_000);
    await waitFor(
      () => (outbox(bot)[0]?.state === 'delivered' ? true : undefined),
      'the delivery recorded',
    );
    const [delivery] = outbox(bot);
    expect(delivery!.attempts).toBeGreaterThan(1);
    expect(postedTo(SECURITY)).toHaveLength(1);
    expect(
      bot.connector.requests.filter((r) => r.conversationId === SECURITY && r.status === 503),
    ).toHaveLength(6);
  });

  it('a post that hangs is abandoned after NOTIFICATION_SEND_TIMEOUT_MS and retried', async () => {
    bot = await start({ env: { NOTIFICATION_SEND_TIMEOUT_MS: '300' } });
    await subscribe(SECURITY);
    bot.connector.failNext(504, 1, { conversationId: SECURITY, delayMs: 3_000 });
    await elevate(ALEX, 'Contoso Dev');
    await waitFor(() => (postedTo(SECURITY).length ? true : undefined), 'the notification');
    await waitFor(
      () => (outbox(bot)[0]?.state === 'delivered' ? true : undefined),
      'the delivery recorded',
    );
    expect(outbox(bot)[0]!.attempts).toBe(2);
    expect(outbox(bot)[0]!.lastError).toContain('no answer within 300 ms');
  });

  it('403 BotNotInConversationRoster unsubscribes that channel; the others and the user are unaffected', async () => {
    bot = await start();
    await subscribe(SECURITY);
    await subscribe(PLATFORM);
    bot.connector.failNext(403, 1, {
      conversationId: SECURITY,
      body: '{"error":{"code":"BotNotInConversationRoster","message":"The bot is not part of the conversation roster."}}',
    });
    const { outcomeText } = await elevate(ALEX, 'Contoso Dev');
    expect(outcomeText).toContain('✅');
    await waitFor(() => (postedTo(PLATFORM).length ? true : undefined), 'the other channel');
    await waitFor(
      () =>
        outbox(bot).every((d) => d.state !== 'pending' && d.state !== 'sending') ? true : undefined,
      'both deliveries finished',
    );
    expect(await store().findSubscription(SECURITY)).toBeUndefined();
    expect(await store().findSubscription(PLATFORM)).toBeDefined();
    expect(bot.logs.some((l) => l.includes('unsubscribed it') && l.includes(SECURITY))).toBe(true);
    const dropped = auditEvents(bot).filter((e) => e.type === 'notification-dropped');
    expect(dropped.map((e) => e.details?.channelId)).toEqual([SECURITY]);

    // Nothing more is posted there.
    await elevate(ALEX, 'Contoso Prod');
    await waitFor(() => (postedTo(PLATFORM).length === 2 ? true : undefined), 'the next one');
    expect(bot.connector.requests.filter((r) => r.conversationId === SECURITY)).toHaveLength(1);
  });

  it('undelivered notifications survive a restart and go out once after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'notify-restart-'));
    const connector = await startConnectorStub();
    try {
      const env = { SQLITE_PATH: join(dir, 'bot.db'), NOTIFICATION_RETRY_BASE_MS: '60000' };
      bot = await start({ env, connector });
      await subscribe(SECURITY);
      connector.failNext(503, 1000, { conversationId: SECURITY });
      await elevate(ALEX, 'Contoso Dev');
      await waitFor(
        () =>
          outbox(bot)[0]?.state === 'pending' && outbox(bot)[0]!.attempts > 0 ? true : undefined,
        'a failed first attempt, waiting for its retry',
        20_000,
      );
      await bot.stop();
      started.splice(started.indexOf(bot), 1);
      expect(postedTo(SECURITY)).toHaveLength(0);

      // Teams is healthy again; the bot starts over on the same database.
      connector.clearFailures();
      bot = await start({ env: { ...env, NOTIFICATION_RETRY_BASE_MS: '50' }, connector });
      // The first process scheduled the retry up to a minute out: move the new one's clock past it.
      bot.clock.advance(61_000);
      await waitFor(
        () => (postedTo(SECURITY).length ? true : undefined),
        'the notification after the restart',
        20_000,
      );
      expect(postedTo(SECURITY)).toHaveLength(1);
    } finally {
      await connector.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a delivery left mid-post by a dead instance is dropped, not posted again (at most once)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'notify-stale-'));
    const connector = await startConnectorStub();
    try {
      const env = { SQLITE_PATH: join(dir, 'bot.db'), NOTIFICATION_SEND_TIMEOUT_MS: '60000' };
      const first = await start({ env, connector });
      bot = first;
      await subscribe(SECURITY);
      // Teams takes the post but never answers in time: whether it was shown is unknown.
      connector.failNext(504, 1, { conversationId: SECURITY, delayMs: 3_000 });
      await elevate(ALEX, 'Contoso Dev');
      await waitFor(
        () => (outbox(first)[0]?.state === 'sending' ? true : undefined),
        'the post in flight',
      );

      // Another instance on the same database, once the first one's lease has run out.
      const second = await start({ env, connector });
      second.clock.advance(10 * 60_000);
      await waitFor(
        () => (outbox(second)[0]?.state === 'dropped' ? true : undefined),
        'the abandoned delivery dropped',
      );
      const [delivery] = outbox(second);
      expect(delivery!.lastError).toContain('not sent again');
      expect(
        auditEvents(second)
          .filter((e) => e.type === 'notification-dropped')
          .map((e) => e.details?.channelId),
      ).toEqual([SECURITY]);

      // The first instance finishes its own post (its client retries the 504): one card, not two.
      await first.stop();
      started.splice(started.indexOf(first), 1);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(postedTo(SECURITY, second)).toHaveLength(1);
      // A late success is the truth: the record says delivered after all.
      expect(outbox(second)[0]!.state).toBe('delivered');
    } finally {
      await connector.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('50 concurrent elevations: exactly 50 notifications in each subscribed channel', async () => {
    bot = await start();
    await subscribe(SECURITY);
    await subscribe(PLATFORM);
    // Fifty requests waiting for confirmation (fifty admins: one person has one usable card per
    // environment), then fifty Elevate clicks at once.
    const admins: TestUser[] = Array.from({ length: 50 }, (_, i) => ({
      aadObjectId: randomUUID(),
      name: `Admin ${i}`,
      tenantId: TENANT,
    }));
    const asked: Array<{ requestId: string; messageId: string }> = [];
    for (const admin of admins) {
      const { calls } = await bot.say(admin, 'elevate me in Contoso Dev');
      const requestId = actionData(cardOf(calls[0]!.activity), 'elevate')?.requestId as string;
      asked.push({ requestId, messageId: calls[0]!.assignedId! });
    }
    const clicks = await Promise.all(
      asked.map(({ requestId, messageId }, i) =>
        bot.click(
          admins[i]!,
          'elevate',
          { requestId, justification: `burst ${i}` },
          { replyToId: messageId },
        ),
      ),
    );
    expect(clicks.every((c) => cardText(cardOf(c.body)).includes('Elevated'))).toBe(true);
    for (const channelId of [SECURITY, PLATFORM]) {
      await waitFor(
        () => (postedTo(channelId).length >= 50 ? true : undefined),
        `50 notifications in ${channelId}`,
        30_000,
      );
    }
    await waitFor(
      () => (outbox(bot).every((d) => d.state === 'delivered') ? true : undefined),
      'every delivery recorded',
    );
    for (const channelId of [SECURITY, PLATFORM]) {
      const cards = postedTo(channelId);
      expect(cards).toHaveLength(50);
      const justifications = cards.map((t) => /burst \d+/.exec(t)?.[0]);
      expect(new Set(justifications).size).toBe(50);
    }
    expect(outbox(bot)).toHaveLength(100);
  });
});

describe('conversation references', () => {
  const general: Conversation = { id: TEAM, conversationType: 'channel', teamId: TEAM };

  beforeEach(async () => {
    bot = await start();
  });

  it('installing in a team keeps the reference and welcomes the team once', async () => {
    const install = await bot.send(ALEX, { type: 'installationUpdate', action: 'add' }, general);
    const added = await bot.send(
      ALEX,
      {
        type: 'conversationUpdate',
        membersAdded: [{ id: '28:elevation-bot' }],
      },
      general,
    );
    const welcomes = [...install.calls, ...added.calls];
    expect(welcomes).toHaveLength(1);
    expect(String(welcomes[0]!.activity.text)).toContain('notify here');
    expect(welcomes[0]!.conversationId).toBe(TEAM);
    const record = await store().findConversation(TEAM);
    expect(record?.tenantId).toBe(TENANT);
    expect(record?.suspended).toBe(false);
  });

  it('using the bot keeps the reference of a personal chat; uninstalling forgets it', async () => {
    await bot.say(ALEX, 'help');
    const id = `a:personal-${ALEX.aadObjectId}`;
    const record = await store().findConversation(id);
    expect(record?.scope).toBe('personal');
    expect((record?.reference as { serviceUrl?: string }).serviceUrl).toBe(bot.connector.url);
    await bot.send(ALEX, { type: 'installationUpdate', action: 'remove' });
    expect(await store().findConversation(id)).toBeUndefined();
  });

  /** What Teams sends when the team is deleted, restored, ... */
  function teamEvent(eventType: string) {
    return bot.send(
      ALEX,
      {
        type: 'conversationUpdate',
        channelData: { eventType, team: { id: TEAM }, tenant: { id: TENANT } },
      },
      general,
    );
  }

  it('a deleted team gets nothing until it is restored; uninstalling removes its subscriptions', async () => {
    await subscribe(SECURITY);
    await teamEvent('teamDeleted');
    expect((await store().findConversation(SECURITY))?.suspended).toBe(true);
    await elevate(ALEX, 'Contoso Dev');
    await teamEvent('teamRestored');
    expect((await store().findConversation(SECURITY))?.suspended).toBe(false);
    await elevate(ALEX, 'Contoso Prod');
    await waitFor(
      () => (postedTo(SECURITY).length ? true : undefined),
      'the notification after restore',
    );
    expect(postedTo(SECURITY)).toHaveLength(1);
    expect(postedTo(SECURITY)[0]).toContain('Contoso Prod');

    await bot.send(ALEX, { type: 'installationUpdate', action: 'remove' }, general);
    expect(await store().findSubscription(SECURITY)).toBeUndefined();
    expect(await store().findConversation(SECURITY)).toBeUndefined();
  });
});
