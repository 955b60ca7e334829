/**
 * Step-up MFA through the real bot: a rule asks authentication context c1 for Production, Elevate
 * gets Entra's claims challenge from the on-behalf-of exchange (the local identity provider, real
 * msal-node), the card offers the sign-in link, and the test follows it as a browser would (the
 * bot's /step-up, the provider's authorize endpoint, the bot's callback). The elevation then
 * carries on by itself with a token carrying acrs c1. Another person's sign-in, a used link and an
 * expired one are refused, and nothing is elevated.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Policy } from '../../src/policy/policy';
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator/seed';
import { auditEvents } from '../support/store-rows';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  MEGAN,
  personalChat,
  startTestBot,
  type TestBot,
} from '../support/test-bot';
import { waitFor } from '../support/wait-for';

const POLICY: Policy = {
  rules: [
    { name: 'production', match: { types: ['Production'] }, stepUp: 'c1' },
    { name: 'everything else', match: {} },
  ],
  source: 'test',
};

/** The bot the helpers below talk to. */
let bot: TestBot;

function applyAdminRoleCalls(): number {
  return bot.simulator.calls.filter((c) => c.path.includes('/applyAdminRole')).length;
}

/** Opens a request for Contoso Prod and presses Elevate: the card that comes back, and its link. */
async function elevateProduction(justification = 'CHG-1234 hotfix') {
  const asked = await bot.say(ALEX, 'elevate me in Contoso Prod');
  const messageId = asked.calls[0]!.assignedId!;
  const requestId = actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId as string;
  const click = await bot.click(
    ALEX,
    'elevate',
    { requestId, justification, minutes: '30' },
    { replyToId: messageId },
  );
  const card = cardOf(click.body)!;
  const link = (card.actions as Array<{ type: string; title: string; url: string }>).find(
    (a) => a.type === 'Action.OpenUrl',
  );
  return { requestId, messageId, card, link };
}

/** GET without following redirects, as each hop of a browser. */
async function hop(url: string): Promise<{ status: number; location?: string; text: string }> {
  const response = await fetch(url, { redirect: 'manual' });
  return {
    status: response.status,
    location: response.headers.get('location') ?? undefined,
    text: await response.text(),
  };
}

/** Follows redirects like a browser; `change` may rewrite a hop's URL (someone else signs in). */
async function browse(url: string, change: (next: URL) => URL = (next) => next) {
  const visited: string[] = [];
  let next = url;
  for (let i = 0; i < 5; i++) {
    const target = change(new URL(next)).toString();
    visited.push(target);
    const answer = await hop(target);
    if (answer.status !== 302 || !answer.location) return { ...answer, visited };
    next = answer.location;
  }
  throw new Error(`too many redirects: ${visited.join(' -> ')}`);
}

function oboRequestsWithClaims() {
  return bot.identity.identityProvider.tokenRequests.filter(
    (r) => r.requestedTokenUse === 'on_behalf_of' && r.claims !== undefined,
  );
}

function stepUpAudit(type: string) {
  return auditEvents(bot).filter((e) => e.type === type);
}

describe('step-up MFA', () => {
  beforeEach(async () => {
    bot = await startTestBot({ policy: POLICY });
  });
  afterEach(async () => {
    await bot.stop();
  });

  it('Elevate asks for a fresh sign-in, the browser round trip completes it, and the elevation carries on with a c1 token', async () => {
    const { requestId, messageId, card, link } = await elevateProduction();

    // The card asks for the step-up; nothing was called at the API.
    expect(cardText(card)).toContain(
      "Contoso Prod needs a fresh MFA sign-in (rule 'production'). Verify, then the elevation carries on by itself.",
    );
    expect(link?.title).toBe('Verify sign-in');
    expect(link?.url).toMatch(new RegExp(`^${bot.app.url}/step-up\\?ticket=`));
    expect(applyAdminRoleCalls()).toBe(0);
    // The on-behalf-of request carried the claims, and Entra answered with the challenge.
    const [obo] = oboRequestsWithClaims();
    expect(JSON.parse(obo!.claims!)).toMatchObject({
      access_token: { acrs: { essential: true, value: 'c1' } },
    });
    expect(obo).toMatchObject({
      status: 400,
      error: 'interaction_required',
      oid: ALEX.aadObjectId,
    });
    // The click's choices wait on the request, which still waits for confirmation.
    const waiting = await bot.app.service.findRequest(requestId);
    expect(waiting).toMatchObject({
      state: 'requested',
      justification: 'CHG-1234 hotfix',
      minutes: 30,
      policy: { rule: 'production', stepUp: 'c1' },
    });
    expect(stepUpAudit('step-up-required')).toHaveLength(1);

    const before = bot.connector.calls.length;
    const done = await browse(link!.url);
    expect(done.visited).toHaveLength(3);
    expect(done.visited[1]).toContain(bot.identity.identityProvider.url);
    expect(new URL(done.visited[1]!).searchParams.get('claims')).toContain('"c1"');
    expect(done.status).toBe(200);
    expect(done.text).toContain('Verified');

    const finished = await waitFor(async () => {
      const request = await bot.app.service.findRequest(requestId);
      return request?.state === 'succeeded' ? request : undefined;
    }, 'the elevation to carry on after the step-up');
    expect(finished.justification).toBe('CHG-1234 hotfix');
    expect(finished.minutes).toBe(30);
    expect(bot.simulator.grants).toEqual([
      expect.objectContaining({
        environmentId: WELL_KNOWN.contosoProd.id,
        oid: ALEX.aadObjectId,
        acrs: ['c1'],
      }),
    ]);
    // The stepped-up token came from a refresh with the claims (the sign-in's refresh token).
    expect(
      bot.identity.identityProvider.tokenRequests.some(
        (r) => r.grantType === 'refresh_token' && r.status === 200 && r.claims?.includes('"c1"'),
      ),
    ).toBe(true);
    expect(stepUpAudit('stepped-up')).toEqual([
      expect.objectContaining({ requestId, actor: ALEX.aadObjectId }),
    ]);

    // Told in the conversation: the card updated for everyone, and the outcome posted.
    const told = await waitFor(() => {
      const calls = bot.connector.calls.slice(before);
      return calls.some((c) => c.method === 'POST') ? calls : undefined;
    }, 'the outcome in the chat');
    const update = told.find((c) => c.method === 'PUT' && c.activityId === messageId);
    expect(cardText(cardOf(update!.activity))).toContain('Elevated');
    const posted = told.find((c) => c.method === 'POST');
    expect(posted!.conversationId).toBe(personalChat(ALEX).id);
    expect(String(posted!.activity.text)).toContain('Contoso Prod');
  });

  it('another person signing in with the link is refused, nothing is elevated, and the requester can still use it', async () => {
    const { requestId, link } = await elevateProduction();
    const megan = { oid: MEGAN.aadObjectId, tid: MEGAN.tenantId, name: MEGAN.name };
    bot.identity.identityProvider.addUser(megan);
    const asMegan = (next: URL) => {
      if (next.href.startsWith(bot.identity.identityProvider.url))
        next.searchParams.set('login_hint', MEGAN.aadObjectId);
      return next;
    };

    const refused = await browse(link!.url, asMegan);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('Signed in as someone else');
    expect(stepUpAudit('refused')).toEqual([
      expect.objectContaining({
        requestId,
        actor: MEGAN.aadObjectId,
        details: expect.objectContaining({ reason: 'step-up-another-user' }),
      }),
    ]);
    expect(stepUpAudit('stepped-up')).toHaveLength(0);
    expect(applyAdminRoleCalls()).toBe(0);
    expect((await bot.app.service.findRequest(requestId))?.state).toBe('requested');

    // The link was not used up by the refused sign-in.
    const mine = await browse(link!.url);
    expect(mine.status).toBe(200);
    await waitFor(async () => {
      const request = await bot.app.service.findRequest(requestId);
      return request?.state === 'succeeded' ? request : undefined;
    }, 'the elevation after the requester signed in');
    expect(bot.simulator.grants.map((g) => g.oid)).toEqual([ALEX.aadObjectId]);
  });

  it('a sign-in that did not ask the context (the claims taken off the way) is refused at the callback', async () => {
    const { requestId, link } = await elevateProduction();
    const withoutClaims = (next: URL) => {
      if (next.href.startsWith(bot.identity.identityProvider.url))
        next.searchParams.delete('claims');
      return next;
    };

    const refused = await browse(link!.url, withoutClaims);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('did not satisfy the authentication context');
    expect(stepUpAudit('refused')).toEqual([
      expect.objectContaining({
        requestId,
        actor: ALEX.aadObjectId,
        details: { reason: 'step-up-context-missing' },
      }),
    ]);
    expect(applyAdminRoleCalls()).toBe(0);
    expect((await bot.app.service.findRequest(requestId))?.state).toBe('requested');
  });

  it('a used link and a replayed callback are refused; the API is called once', async () => {
    const { requestId, link } = await elevateProduction();
    const first = await browse(link!.url);
    expect(first.status).toBe(200);
    await waitFor(async () => {
      const request = await bot.app.service.findRequest(requestId);
      return request?.state === 'succeeded' ? request : undefined;
    }, 'the elevation');

    const again = await browse(link!.url);
    expect(again.status).toBe(404);
    expect(again.text).toContain('unknown or was already used');
    const replayedCallback = await hop(first.visited[2]!);
    expect(replayedCallback.status).toBe(404);
    expect(stepUpAudit('refused')).toEqual([
      expect.objectContaining({ details: { reason: 'step-up-ticket-unknown' } }),
    ]);
    expect(stepUpAudit('stepped-up')).toHaveLength(1);
    expect(applyAdminRoleCalls()).toBe(1);
  });

  it("Elevate pressed in the card's last minute: the request waits for the sign-in, and the elevation carries on after the card's own end", async () => {
    const asked = await bot.say(ALEX, 'elevate me in Contoso Prod');
    const requestId = actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId as string;
    const opened = await bot.app.service.findRequest(requestId);
    // Nine of the card's ten minutes go by; then Elevate, and the MFA takes five more.
    bot.clock.advance(Date.parse(opened!.expiresAt) - bot.clock.now().getTime() - 60_000);
    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'CHG-77 slow MFA', minutes: '30' },
      { replyToId: asked.calls[0]!.assignedId },
    );
    const link = (cardOf(click.body)!.actions as Array<{ type: string; url: string }>).find(
      (a) => a.type === 'Action.OpenUrl',
    );
    const waiting = await bot.app.service.findRequest(requestId);
    expect(Date.parse(waiting!.expiresAt)).toBeGreaterThan(Date.parse(opened!.expiresAt));
    bot.clock.advance(5 * 60_000);
    // The sweeper runs past the card's own end: it must leave the request alone.
    await bot.app.sweeper.sweep();

    expect((await browse(link!.url)).text).toContain('Verified');
    const finished = await waitFor(async () => {
      const request = await bot.app.service.findRequest(requestId);
      return request?.state === 'succeeded' ? request : undefined;
    }, 'the elevation to carry on after a slow step-up');
    expect(finished.justification).toBe('CHG-77 slow MFA');
    expect(applyAdminRoleCalls()).toBe(1);
  });

  it('a link whose ten minutes ran out is refused at the callback, and nothing is elevated', async () => {
    const { requestId, link } = await elevateProduction();
    // The browser gets as far as the way back to the bot, then waits too long.
    const start = await hop(link!.url);
    const back = await hop(start.location!);
    expect(back.location).toContain('/step-up/callback');
    bot.clock.advance(11 * 60_000);

    const late = await hop(back.location!);
    expect(late.status).toBe(410);
    expect(late.text).toContain('expired');
    expect(stepUpAudit('refused')).toEqual([
      expect.objectContaining({
        requestId,
        details: expect.objectContaining({ reason: 'step-up-ticket-expired' }),
      }),
    ]);
    expect(stepUpAudit('stepped-up')).toHaveLength(0);
    expect(applyAdminRoleCalls()).toBe(0);
  });

  it('an environment whose rule asks no step-up elevates as before, without claims', async () => {
    const asked = await bot.say(ALEX, 'elevate me in Contoso Dev');
    const requestId = actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId as string;
    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'INC-1' },
      { replyToId: asked.calls[0]!.assignedId },
    );
    expect(cardText(cardOf(click.body))).toContain('Elevated');
    expect(oboRequestsWithClaims()).toHaveLength(0);
    expect(bot.simulator.grants[0]).not.toHaveProperty('acrs');
  });
});

describe('step-up MFA across instances (TOKEN_CACHE_KEY)', () => {
  let dir: string;
  const others: TestBot[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'step-up-instances-'));
  });
  afterEach(async () => {
    for (const other of others.splice(0)) await other.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a step-up done through one instance satisfies the next Production elevation on another, without a new sign-in', async () => {
    const env = {
      SQLITE_PATH: join(dir, 'bot.db'),
      TOKEN_CACHE_KEY: randomBytes(32).toString('hex'),
    };
    const a = await startTestBot({ policy: POLICY, env });
    others.push(a);
    const b = await startTestBot({
      policy: POLICY,
      env,
      simulator: a.simulator,
      connector: a.connector,
      shareIdentityProviderWith: a,
    });
    others.push(b);
    bot = a;

    const { requestId, link } = await elevateProduction();
    expect((await browse(link!.url)).status).toBe(200);
    await waitFor(async () => {
      const request = await a.app.service.findRequest(requestId);
      return request?.state === 'succeeded' ? request : undefined;
    }, 'the elevation on the first instance');

    // The next elevation lands on the other instance: its token comes from the stored step-up.
    const asked = await b.say(ALEX, 'elevate me in Woodgrove Finance');
    // The first instance may still be telling its outcome in the same chat: find the new card.
    const confirm = asked.calls.find((c) => actionData(cardOf(c.activity), 'elevate'))!;
    const nextId = actionData(cardOf(confirm.activity), 'elevate')!.requestId as string;
    const click = await b.click(
      ALEX,
      'elevate',
      { requestId: nextId, justification: 'CHG-1235 follow-up' },
      { replyToId: confirm.assignedId },
    );
    expect(cardText(cardOf(click.body))).toContain('Elevated');
    expect(a.simulator.grants.map((g) => [g.oid, g.acrs])).toEqual([
      [ALEX.aadObjectId, ['c1']],
      [ALEX.aadObjectId, ['c1']],
    ]);
    // One challenge in all: the second elevation needed no new sign-in.
    expect(oboRequestsWithClaims()).toHaveLength(1);
  });
});
