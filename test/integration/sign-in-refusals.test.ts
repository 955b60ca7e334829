/**
 * Refused sign-in tokens in the audit chain, over real HTTP: forged tokens sent the two ways Teams
 * sends tokens (the signin/tokenExchange invoke, an Adaptive Card action after a loginRequest),
 * counted per window so that a flood stays a few events, and one channel card when one user's
 * refusals pass the threshold. The real bot, its SQLite store, the local identity provider.
 */
import { randomUUID } from 'node:crypto';
import { verifyChain } from '../../src/elevation/audit-chain';
import type { StoredAuditEvent } from '../../src/elevation/audit-chain';
import type { MintOptions } from '../../src/sandbox/identity-provider';
import {
  ALEX,
  cardOf,
  cardText,
  channel,
  type Conversation,
  GROUP_CHAT,
  startTestBot,
  TENANT,
  type TestBot,
  type TestUser,
} from '../support/test-bot';
import { waitFor } from '../support/wait-for';
import { auditEvents as storedAuditEvents, outbox } from '../support/store-rows';

const WINDOW_MS = 15 * 60_000;
const SECURITY = '19:security@thread.tacv2';
const TEAM = '19:team-general@thread.tacv2';

let bot: TestBot;

beforeEach(async () => {
  bot = await startTestBot({
    signIn: 'teams',
    env: {
      BOT_ADMIN_IDS: ALEX.aadObjectId,
      NOTIFICATION_POLL_MS: '200',
      NOTIFICATION_RETRY_BASE_MS: '50',
    },
  });
  // One minute into a counting window, so that no test straddles two windows.
  const now = bot.clock.now().getTime();
  bot.clock.advance(WINDOW_MS - (now % WINDOW_MS) + 60_000);
});

afterEach(async () => {
  await bot.stop();
});

function ssoToken(user: TestUser, options?: MintOptions): Promise<string> {
  return bot.identity.identityProvider.mintSsoToken(
    { oid: user.aadObjectId, tid: user.tenantId, name: user.name },
    options,
  );
}

/** A token signed with a key the identity provider never published under that kid. */
function forgedToken(user: TestUser): Promise<string> {
  return ssoToken(user, { signWith: 'foreign-key-known-kid' });
}

function auditEvents(): StoredAuditEvent[] {
  return storedAuditEvents(bot);
}

function signInRefusals(): StoredAuditEvent[] {
  return auditEvents().filter(
    (e) =>
      e.type === 'refused' &&
      (e.details?.reason === 'sign-in-token-refused' ||
        e.details?.reason === 'sign-in-refusals-over-cap'),
  );
}

function exchange(user: TestUser, token: string, conversation?: Conversation) {
  return bot.invoke(user, 'signin/tokenExchange', { id: randomUUID(), token }, conversation);
}

/** Runs the hourly housekeeping now (it records the counts of windows that are over). */
async function housekeepingAfter(ms: number): Promise<void> {
  bot.clock.advance(ms);
  await bot.app.sweeper.sweep();
}

describe('a refused sign-in token', () => {
  it('from a token exchange is an audit event with the reason, the user and the conversation, and no token anywhere', async () => {
    const forged = await forgedToken(ALEX);
    const answer = await exchange(ALEX, forged, GROUP_CHAT);
    expect(answer.status).toBe(500);

    const events = signInRefusals();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'refused',
      actor: ALEX.aadObjectId,
      tenantId: TENANT,
      details: {
        reason: 'sign-in-token-refused',
        check: 'bad-signature',
        conversationId: GROUP_CHAT.id,
        conversationType: 'groupChat',
        via: 'signin/tokenExchange',
        refusalsInWindow: 1,
      },
    });
    expect(verifyChain(auditEvents(), TENANT.toLowerCase()).ok).toBe(true);

    const stored = JSON.stringify(auditEvents());
    const logs = bot.logs.join('\n');
    for (const text of [stored, logs]) {
      expect(text).not.toContain(forged);
      for (const part of forged.split('.')) expect(text).not.toContain(part);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    }
    // The log line says what was refused, for whom, without the token either.
    expect(logs).toContain('sign-in token refused');
  });

  it('carried by an Adaptive Card action after a loginRequest is audited too, and nothing is done', async () => {
    const answer = await bot.click(
      ALEX,
      'elevate',
      { requestId: randomUUID(), justification: 'x' },
      { authentication: { id: 'auth-1', token: await ssoToken(ALEX, { claims: { aud: 'x' } }) } },
    );
    expect(String(answer.body.value)).toContain('Could not sign you in');
    expect(signInRefusals()).toMatchObject([
      {
        actor: ALEX.aadObjectId,
        details: {
          reason: 'sign-in-token-refused',
          check: 'wrong-audience',
          conversationId: `a:personal-${ALEX.aadObjectId}`,
          via: 'adaptiveCard/action',
        },
      },
    ]);
  });

  it('a valid sign-in, a consent prompt or an outage is not a refused token', async () => {
    await exchange(ALEX, await ssoToken(ALEX));
    bot.identity.identityProvider.setUserBehavior(ALEX.aadObjectId, 'consent-required');
    expect((await exchange(ALEX, await ssoToken(ALEX))).status).toBe(412);
    const token = await ssoToken(ALEX);
    await bot.identity.identityProvider.stop();
    // The identity provider is down: the user is told, but the token was not refused.
    expect(String((await exchange(ALEX, token)).calls[0]?.activity.text)).toContain(
      'I could not sign you in',
    );
    expect(signInRefusals()).toEqual([]);
  });
});

describe('a flood of refused tokens', () => {
  it('40 refusals of one user are 3 audit events in the window, and 2 more with the counts when it is over', async () => {
    const forged = await forgedToken(ALEX);
    const answers = await Promise.all(Array.from({ length: 40 }, () => exchange(ALEX, forged)));
    expect(answers.every((a) => a.status === 500)).toBe(true);

    const summary = (e: StoredAuditEvent) => [
      e.details?.reason,
      e.details?.refusalsInWindow ?? e.details?.refusalsOfUser,
    ];
    // The first, the threshold (5), and the tenant passing its cap (20): the other 37 are counted.
    expect(signInRefusals().map(summary)).toEqual([
      ['sign-in-token-refused', 1],
      ['sign-in-token-refused', 5],
      ['sign-in-refusals-over-cap', undefined],
    ]);
    expect(signInRefusals()[1]!.details).toMatchObject({ threshold: 5 });

    await housekeepingAfter(2 * 3600_000);
    const closing = signInRefusals().slice(3);
    expect(closing.map(summary).sort()).toEqual([
      ['sign-in-refusals-over-cap', 40],
      ['sign-in-token-refused', 40],
    ]);
    expect(closing.find((e) => e.details?.reason === 'sign-in-token-refused')).toMatchObject({
      actor: ALEX.aadObjectId,
      details: { check: 'bad-signature', windowEnd: expect.any(String) },
    });
    // Recorded once: another housekeeping run finds nothing more to record.
    await housekeepingAfter(2 * 3600_000);
    expect(signInRefusals()).toHaveLength(5);
    expect(verifyChain(auditEvents(), TENANT.toLowerCase()).ok).toBe(true);
  });

  it('refusals for different checks add up to the one threshold of the user', async () => {
    const tokens = [
      await forgedToken(ALEX),
      await ssoToken(ALEX, { claims: { aud: 'https://graph.microsoft.com' } }),
      await ssoToken(ALEX, { claims: { scp: 'User.Read' } }),
    ];
    for (let i = 0; i < 6; i += 1) await exchange(ALEX, tokens[i % 3]!);
    const events = signInRefusals();
    // The first of each check, and the threshold on the fifth refusal, whatever its check.
    expect(events.map((e) => e.details?.check)).toEqual([
      'bad-signature',
      'wrong-audience',
      'missing-scope',
      'wrong-audience',
    ]);
    expect(events[3]!.details).toMatchObject({ refusalsOfUser: 5, threshold: 5 });
    expect(events[3]!.actor).toBe(ALEX.aadObjectId);
  });

  it('refusals of ever new user ids stay bounded by the per-tenant cap', async () => {
    const users: TestUser[] = Array.from({ length: 30 }, (_, i) => ({
      aadObjectId: randomUUID(),
      name: `Mallory ${i}`,
      tenantId: TENANT,
    }));
    for (const user of [...users, ...users]) {
      expect((await exchange(user, await forgedToken(user))).status).toBe(500);
    }
    // 60 refusals: the first of each of the first 20 users, and one event for passing the cap.
    const events = signInRefusals();
    expect(events.filter((e) => e.details?.reason === 'sign-in-token-refused')).toHaveLength(20);
    expect(events.filter((e) => e.details?.reason === 'sign-in-refusals-over-cap')).toHaveLength(1);

    await housekeepingAfter(2 * 3600_000);
    // When the window is over: each followed user's count (2 each), and the tenant's total.
    const closing = signInRefusals().slice(events.length);
    expect(closing).toHaveLength(21);
    expect(
      closing.find((e) => e.details?.reason === 'sign-in-refusals-over-cap')!.details,
    ).toMatchObject({ refusalsInWindow: 60, tenantCap: 20 });
  });
});

describe('channels', () => {
  it('get exactly one card when one user passes the threshold', async () => {
    const subscribed = await bot.say(
      ALEX,
      '<at>Elevation</at> notify here',
      channel(SECURITY, TEAM),
    );
    expect(cardText(cardOf(subscribed.calls[0]!.activity))).toContain('Subscribed');

    const forged = await forgedToken(ALEX);
    await Promise.all(Array.from({ length: 12 }, () => exchange(ALEX, forged, GROUP_CHAT)));

    await waitFor(() => {
      const deliveries = outbox(bot);
      return deliveries.length > 0 && deliveries.every((d) => d.state === 'delivered')
        ? deliveries
        : undefined;
    }, 'the notification to be delivered');
    const posted = bot.connector.calls.filter(
      (c) => c.conversationId === SECURITY && c.method === 'POST',
    );
    expect(posted).toHaveLength(1);
    const text = cardText(cardOf(posted[0]!.activity));
    expect(text).toContain('Refused sign-in tokens');
    expect(text).toContain('Alex Wilber');
    expect(text).toContain('5 refused sign-in tokens within 15 minutes');
    expect(text).toContain('bad-signature');
    expect(text).toContain(GROUP_CHAT.id);
    expect(text).not.toContain(forged.split('.')[2]!);
  });
});
