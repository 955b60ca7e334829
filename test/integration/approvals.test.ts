/**
 * Second-person approval on the real bot (issue #15): a Production request asks for approval, the
 * approvers' card reaches the approvers' channel and the listed approver's personal chat, and only
 * an approved request elevates, with the requester's own token. Self-approval, a decision after
 * the expiry, a denied request and racing approvers (on one bot, on two bots sharing one SQLite
 * file, and on Azurite) are each checked for what people read, the audit and the API calls.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Policy } from '../../src/policy/policy';
import type { ConnectorCall } from '../support/connector-stub';
import { type Azurite, startAzurite } from '../support/azurite';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  channel,
  MEGAN,
  personalChat,
  startTestBot,
  TENANT,
  type TestBot,
  type TestUser,
} from '../support/test-bot';
import { waitFor } from '../support/wait-for';

const ADELE: TestUser = {
  aadObjectId: '6c8f0e2d-4b3a-4f7c-9d1e-0f9a8b7c6d52',
  name: 'Adele Vance',
  tenantId: TENANT,
};
const TEAM = '19:approvers-team@thread.tacv2';
const APPROVERS = '19:approvers@thread.tacv2';
const SECURITY = '19:security@thread.tacv2';
const PROD_ID = 'caf114fd-823b-4931-acf3-8cb3dfb77d5b';

const POLICY: Policy = {
  source: 'test',
  rules: [
    {
      name: 'production',
      match: { types: ['Production'] },
      approval: {
        approvers: [MEGAN.aadObjectId],
        channel: { team: 'Approvers', channel: APPROVERS },
        timeoutMinutes: 30,
      },
    },
    { name: 'everything else', match: {} },
  ],
};

const bots: TestBot[] = [];

afterEach(async () => {
  for (const b of bots.splice(0)) await b.stop();
});

async function start(options: Parameters<typeof startTestBot>[0] = {}): Promise<TestBot> {
  const bot = await startTestBot({
    policy: POLICY,
    ...options,
    env: { BOT_ADMIN_IDS: ALEX.aadObjectId, INVOKE_BUDGET_MS: '10000', ...options.env },
  });
  bots.push(bot);
  return bot;
}

/** The bot learns Megan's personal chat and the approvers' channel, and a channel subscribes. */
async function meet(bot: TestBot): Promise<void> {
  await bot.say(MEGAN, 'help');
  await bot.say(ADELE, 'help', channel(APPROVERS, TEAM));
  const subscribed = await bot.say(ALEX, 'notify here', channel(SECURITY, TEAM));
  expect(cardText(cardOf(subscribed.calls[0]!.activity))).toContain('Subscribed');
}

/** Alex asks for Contoso Prod and presses Ask for approval with a justification. */
async function askApproval(
  bot: TestBot,
  justification = 'CHG1234 hotfix for the invoice flow',
): Promise<{
  requestId: string;
  cardId: string;
  first: string;
  shown: string;
  calls: ConnectorCall[];
  answeredAt: number;
}> {
  const asked = await bot.say(ALEX, 'elevate me in Contoso Prod');
  const card = cardOf(asked.calls.at(-1)!.activity);
  const requestId = actionData(card, 'ask-approval')!.requestId as string;
  const cardId = asked.calls.at(-1)!.assignedId!;
  const click = await bot.click(
    ALEX,
    'ask-approval',
    { requestId, justification },
    { replyToId: cardId },
  );
  expect(click.status).toBe(200);
  return {
    requestId,
    cardId,
    first: cardText(card),
    shown: cardText(cardOf(click.body)),
    calls: click.calls,
    answeredAt: click.answeredAt,
  };
}

/** The approvers' card copies posted: conversation, message id, what it says. */
function approverCopies(bot: TestBot, requestId: string) {
  return bot.connector.calls
    .filter(
      (c) =>
        c.method === 'POST' && actionData(cardOf(c.activity), 'approve')?.requestId === requestId,
    )
    .map((c) => ({
      conversationId: c.conversationId,
      messageId: c.assignedId!,
      text: cardText(cardOf(c.activity)),
    }));
}

/** The latest version of a message (its PUTs after its POST), as its readers see it now. */
function latest(bot: TestBot, messageId: string): string {
  const versions = bot.connector.calls.filter(
    (c) => c.assignedId === messageId || (c.method === 'PUT' && c.activityId === messageId),
  );
  return cardText(cardOf(versions.at(-1)!.activity));
}

async function audit(bot: TestBot, requestId: string) {
  const events = await bot.app.store.readAudit({ chain: TENANT, limit: 10_000 });
  return events.filter((e) => e.requestId === requestId);
}

function grants(bot: TestBot) {
  return bot.simulator.grants.filter((g) => g.environmentId === PROD_ID);
}

describe('approval on one bot', () => {
  it('asks, reaches the channel and the approver, refuses self-approval, and elevates only once approved, with the requester’s token', async () => {
    const bot = await start();
    await meet(bot);
    const { requestId, cardId, first, shown } = await askApproval(bot);

    expect(first).toContain('Production needs approval by');
    // Before asking the bot names the listed approvers by id; the waiting card by name.
    expect(first).toContain(MEGAN.aadObjectId);
    expect(first).toContain('Ask for approval');
    expect(first).not.toMatch(/^Elevate$/m);
    expect(first).toContain('production (its type is Production)');
    expect(shown).toContain('Waiting for approval from Megan Bowen');

    const copies = approverCopies(bot, requestId);
    expect(copies.map((c) => c.conversationId).sort()).toEqual(
      [APPROVERS, personalChat(MEGAN).id].sort(),
    );
    for (const copy of copies) {
      expect(copy.text).toContain('Alex Wilber');
      expect(copy.text).toContain('Contoso Prod');
      expect(copy.text).toContain(PROD_ID);
      expect(copy.text).toContain('CHG1234 hotfix for the invoice flow');
      expect(copy.text).toContain('production (its type is Production)');
    }

    // Elevate before any decision: nothing is called.
    const early = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'x' },
      { replyToId: cardId },
    );
    expect(cardText(cardOf(early.body))).toContain('Waiting for approval from');
    expect(grants(bot)).toHaveLength(0);

    // The requester presses Approve on the channel's copy: refused and audited.
    const self = await bot.click(
      ALEX,
      'approve',
      { requestId },
      { conversation: channel(APPROVERS, TEAM) },
    );
    expect(String(self.body.value)).toContain('cannot approve or deny it');
    expect((await bot.app.service.findRequest(requestId))!.policy!.approval!.status).toBe(
      'pending',
    );
    const refusals = (await audit(bot, requestId)).filter((e) => e.type === 'refused');
    expect(refusals.map((e) => e.details?.reason)).toEqual(['self-approval']);
    expect(refusals[0]!.actor).toBe(ALEX.aadObjectId);

    // Someone neither listed nor in the channel: refused too.
    const stranger = await bot.click(ADELE, 'approve', { requestId });
    expect(String(stranger.body.value)).toContain('can decide on this request');
    const refused = (await audit(bot, requestId)).filter((e) => e.type === 'refused');
    expect(refused.map((e) => [e.details?.reason, e.actor])).toEqual([
      ['self-approval', ALEX.aadObjectId],
      ['not-approver', ADELE.aadObjectId],
    ]);

    // Megan approves in her personal chat.
    const approved = await bot.click(MEGAN, 'approve', { requestId, approvalReason: 'Go ahead' });
    expect(cardText(cardOf(approved.body))).toContain('Approved by Megan Bowen');
    for (const copy of copies) {
      const now = latest(bot, copy.messageId);
      expect(now).toContain('Approved by Megan Bowen');
      expect(now).not.toContain('Deny');
    }
    // The requester's card offers Elevate with the approved justification, and they are told.
    const requesterCard = latest(bot, cardId);
    expect(requesterCard).toContain('Approved by Megan Bowen');
    expect(requesterCard).toContain('CHG1234 hotfix for the invoice flow');
    expect(
      actionData(
        cardOf(bot.connector.calls.filter((c) => c.activityId === cardId).at(-1)!.activity),
        'elevate',
      ),
    ).toEqual({ requestId });
    expect(
      bot.connector.calls.some(
        (c) =>
          c.conversationId === personalChat(ALEX).id &&
          String(c.activity.text ?? '').includes(
            'Megan Bowen approved your elevation in Contoso Prod',
          ),
      ),
    ).toBe(true);

    // Elevate: the requester's own token, on the approved terms (another justification is ignored).
    const elevated = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'something else entirely' },
      { replyToId: cardId },
    );
    expect(cardText(cardOf(elevated.body))).toContain('Elevated');
    expect(grants(bot).map((g) => g.oid)).toEqual([ALEX.aadObjectId]);
    const done = (await bot.app.service.findRequest(requestId))!;
    expect(done.state).toBe('succeeded');
    expect(done.justification).toBe('CHG1234 hotfix for the invoice flow');

    const types = (await audit(bot, requestId))
      .map((e) => e.type)
      .filter((t) => !t.startsWith('notification-'));
    expect(types).toEqual([
      'requested',
      'approval-asked',
      'refused',
      'refused',
      'approved',
      'confirmed',
      'executed',
    ]);
    const approvedEvent = (await audit(bot, requestId)).find((e) => e.type === 'approved')!;
    expect(approvedEvent.actor).toBe(MEGAN.aadObjectId);

    // The subscribed channel hears of the decision.
    await bot.app.dispatcher.wake();
    await waitFor(
      () =>
        bot.connector.calls.find(
          (c) =>
            c.conversationId === SECURITY &&
            cardText(cardOf(c.activity)).includes('Elevation approved'),
        ),
      'the approval notification in the security channel',
    );
  });

  it('a denied request closes: Elevate is impossible, the requester reads the reason', async () => {
    const bot = await start();
    await meet(bot);
    const { requestId, cardId } = await askApproval(bot);

    // Deny needs a reason.
    const bare = await bot.click(
      ADELE,
      'deny',
      { requestId },
      { conversation: channel(APPROVERS, TEAM) },
    );
    expect(cardText(cardOf(bare.body))).toContain('Give a reason to deny');
    expect((await bot.app.service.findRequest(requestId))!.policy!.approval!.status).toBe(
      'pending',
    );

    const denied = await bot.click(
      ADELE,
      'deny',
      { requestId, approvalReason: 'No change ticket approved for today' },
      { conversation: channel(APPROVERS, TEAM) },
    );
    expect(cardText(cardOf(denied.body))).toContain('Denied by Adele Vance');
    const request = (await bot.app.service.findRequest(requestId))!;
    expect(request.state).toBe('cancelled');
    expect(request.closedBecause).toEqual({ kind: 'denied', by: ADELE.aadObjectId });
    expect(latest(bot, cardId)).toContain('Denied by Adele Vance');
    expect(latest(bot, cardId)).toContain('No change ticket approved for today');

    const elevate = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'please' },
      { replyToId: cardId },
    );
    expect(cardText(cardOf(elevate.body))).toContain('Denied by Adele Vance');
    expect(grants(bot)).toHaveLength(0);
    // A later Approve changes nothing, and says who decided first.
    const late = await bot.click(MEGAN, 'approve', { requestId });
    expect(String(late.body.value)).toContain('Adele Vance already denied this request');
    expect((await audit(bot, requestId)).map((e) => e.type)).toContain('denied');
  });

  it("the requester cancels while waiting: every approvers' card closes, and nothing is decided", async () => {
    const bot = await start();
    await meet(bot);
    const { requestId, cardId } = await askApproval(bot);
    const copies = approverCopies(bot, requestId);
    await bot.click(ALEX, 'cancel', { requestId }, { replyToId: cardId });
    for (const copy of copies) {
      expect(latest(bot, copy.messageId)).toContain('Request closed');
      expect(latest(bot, copy.messageId)).not.toContain('Approve');
    }
    const late = await bot.click(MEGAN, 'approve', { requestId });
    expect(String(late.body.value)).toContain('closed before anyone decided');
    const types = (await audit(bot, requestId)).map((e) => e.type);
    expect(types).not.toContain('approved');
  });

  it("answers within the invoke budget while Teams is slow to take the approvers' cards", async () => {
    const bot = await start({ env: { INVOKE_BUDGET_MS: '500' } });
    await meet(bot);
    // The channel's post is answered late, with a 503; the connector client then tries again.
    bot.connector.failNext(503, 1, { conversationId: APPROVERS, delayMs: 2_000 });
    const { requestId, shown, answeredAt } = await askApproval(bot);
    expect(shown).toContain('Waiting for approval from');
    const posted = await waitFor(
      () =>
        bot.connector.calls.find(
          (c) =>
            c.conversationId === APPROVERS &&
            actionData(cardOf(c.activity), 'approve')?.requestId === requestId,
        ),
      "the channel's approvers' card",
    );
    expect(posted.receivedAt).toBeGreaterThan(answeredAt);
    // Recorded once posted, so that the decision redraws it.
    await waitFor(
      async () =>
        (await bot.app.service.findRequest(requestId))?.policy?.approval?.cards?.length === 2
          ? true
          : undefined,
      'both copies recorded',
    );
  });

  it('Ask for approval after the allowed hours ended is refused on the card, naming the rule; no approver is asked', async () => {
    const HOUR = 3_600_000;
    const thisHour = Date.now() - (Date.now() % HOUR);
    const hh = (at: number) => `${String(new Date(at).getUTCHours()).padStart(2, '0')}:00`;
    const bot = await start({
      policy: {
        ...POLICY,
        rules: [
          {
            ...POLICY.rules[0]!,
            allowedHours: {
              from: hh(thisHour),
              to: hh(thisHour + HOUR),
              timeZone: 'UTC',
              outside: 'refuse',
            },
          },
          POLICY.rules[1]!,
        ],
      },
    });
    await meet(bot);
    // The card opens four minutes before the hours end; Ask for approval comes six minutes later.
    bot.clock.advance(thisHour + HOUR - 4 * 60_000 - bot.clock.now().getTime());
    const asked = await bot.say(ALEX, 'elevate me in Contoso Prod');
    const requestId = actionData(cardOf(asked.calls.at(-1)!.activity), 'ask-approval')!
      .requestId as string;
    bot.clock.advance(6 * 60_000);
    const before = bot.connector.calls.length;
    const click = await bot.click(
      ALEX,
      'ask-approval',
      { requestId, justification: 'CHG9 late fix' },
      { replyToId: asked.calls.at(-1)!.assignedId },
    );
    const shown = cardText(cardOf(click.body));
    expect(shown).toContain("Refused: outside the allowed hours (rule 'production').");
    expect(shown).not.toContain('Waiting for approval');
    expect(
      bot.connector.calls
        .slice(before)
        .filter((c) => c.conversationId === APPROVERS || c.method === 'POST'),
    ).toEqual([]);
  });

  it('says so when no approver can be reached', async () => {
    const bot = await start();
    // Megan's chat was known, until she uninstalled the bot; the channel never was.
    await bot.say(MEGAN, 'help');
    await bot.send(MEGAN, { type: 'installationUpdate', action: 'remove' });
    const { shown } = await askApproval(bot);
    expect(shown).toContain('I could not reach any approver');
    expect(shown).toContain(MEGAN.aadObjectId);
  });
});

/** Azure Table Storage settings for a fresh set of tables on `azurite`. */
function tableEnv(azurite: Azurite): Record<string, string> {
  return {
    STORAGE: 'azure-table',
    AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
    AZURE_TABLE_PREFIX: `p${randomUUID().replace(/-/g, '').slice(0, 20)}`,
    TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
  };
}

describe.each([
  { name: 'SQLite', azurite: false },
  { name: 'Azure Table Storage (Azurite)', azurite: true },
])('the expiry sweeper and approval on $name', ({ azurite: onAzurite }) => {
  let emulator: Azurite | undefined;
  beforeAll(async () => {
    if (onAzurite) emulator = await startAzurite();
  });
  afterAll(async () => {
    await emulator?.stop();
  });
  const storeEnv = (): Record<string, string> => (emulator ? tableEnv(emulator) : {});

  it('an approval after the expiry is refused; the sweeper expires the rest and tells everyone', async () => {
    const bot = await start({ env: storeEnv() });
    await meet(bot);
    const late = await askApproval(bot);
    bot.clock.advance(31 * 60_000);
    const click = await bot.click(MEGAN, 'approve', { requestId: late.requestId });
    expect(String(click.body.value)).toContain('Too late: the approval expired');
    const expired = (await bot.app.service.findRequest(late.requestId))!;
    expect(expired.state).toBe('expired');
    expect(expired.policy!.approval!.status).toBe('expired');
    const events = (await audit(bot, late.requestId)).map((e) => e.type);
    expect(events).toContain('approval-expired');
    expect(events).not.toContain('approved');
    const elevate = await bot.click(
      ALEX,
      'elevate',
      { requestId: late.requestId },
      { replyToId: late.cardId },
    );
    expect(cardText(cardOf(elevate.body))).toContain('No decision within 30 minutes');
    expect(grants(bot)).toHaveLength(0);

    // Nobody decides on the next one: the sweeper finds it.
    const idle = await askApproval(bot);
    const copies = approverCopies(bot, idle.requestId);
    bot.clock.advance(31 * 60_000);
    await bot.app.sweeper.sweep();
    expect((await bot.app.service.findRequest(idle.requestId))!.state).toBe('expired');
    expect(latest(bot, idle.cardId)).toContain('No decision within 30 minutes; ask again');
    for (const copy of copies) expect(latest(bot, copy.messageId)).toContain('Approval expired');
    expect(
      bot.connector.calls.some((c) =>
        String(c.activity.text ?? '').includes(
          'No decision within 30 minutes on your elevation in Contoso Prod',
        ),
      ),
    ).toBe(true);
  });

  it('cards that could not be posted after the write are posted by the sweeper (nothing lost)', async () => {
    const bot = await start({ env: storeEnv() });
    await meet(bot);
    // Teams refuses every post (as if the process stopped right after the write).
    bot.connector.failNext(403, 2, { conversationId: APPROVERS });
    bot.connector.failNext(403, 2, { conversationId: personalChat(MEGAN).id });
    const { requestId } = await askApproval(bot);
    expect(approverCopies(bot, requestId)).toHaveLength(0);
    expect(
      (await bot.app.service.findRequest(requestId))!.policy!.approval!.announcedAt,
    ).toBeUndefined();

    bot.connector.clearFailures();
    bot.clock.advance(61_000);
    await bot.app.sweeper.sweep();
    expect(
      approverCopies(bot, requestId)
        .map((c) => c.conversationId)
        .sort(),
    ).toEqual([APPROVERS, personalChat(MEGAN).id].sort());
    const request = (await bot.app.service.findRequest(requestId))!;
    expect(request.state).toBe('requested');
    expect(request.policy!.approval!.announcedAt).toBeDefined();
    // Still the approval's own time: 30 minutes from the ask.
    expect(Date.parse(request.expiresAt)).toBe(Date.parse(request.policy!.approval!.expiresAt!));
  });
});

/** Ten channel members and Megan press Approve or Deny at once: one decision, once. */
async function race(clickers: TestBot[], requestId: string): Promise<string[]> {
  const members = Array.from({ length: 10 }, (_, i): TestUser => ({
    aadObjectId: `7d9e1f3a-5c4b-4d8e-9f0a-${String(i).padStart(12, '0')}`,
    name: `Member ${i}`,
    tenantId: TENANT,
  }));
  const clicks = await Promise.all([
    ...members.map((member, i) =>
      clickers[i % clickers.length]!.click(
        member,
        i % 2 === 0 ? 'approve' : 'deny',
        { requestId, approvalReason: `decision ${i}` },
        { conversation: channel(APPROVERS, TEAM) },
      ),
    ),
    clickers[0]!.click(MEGAN, 'approve', { requestId }),
  ]);
  return clicks.map((c) =>
    c.body.type === 'application/vnd.microsoft.card.adaptive' ? 'card' : String(c.body.value),
  );
}

async function expectOneDecision(
  bot: TestBot,
  requestId: string,
  answers: string[],
): Promise<void> {
  expect(answers.filter((a) => a === 'card')).toHaveLength(1);
  for (const answer of answers.filter((a) => a !== 'card'))
    expect(answer).toMatch(/already (approved|denied) this request/);
  const decisions = (await audit(bot, requestId)).filter(
    (e) => e.type === 'approved' || e.type === 'denied',
  );
  expect(decisions).toHaveLength(1);
  const request = (await bot.app.service.findRequest(requestId))!;
  expect(request.policy!.approval!.decidedBy!.aadObjectId).toBe(decisions[0]!.actor);
  expect(request.state).toBe(decisions[0]!.type === 'approved' ? 'requested' : 'cancelled');
}

describe('racing approvers', () => {
  it('on one bot: one decision wins, the others are told who decided', async () => {
    const bot = await start();
    await meet(bot);
    const { requestId } = await askApproval(bot);
    await expectOneDecision(bot, requestId, await race([bot], requestId));
  });

  it('on two bots sharing one SQLite file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'approvals-'));
    try {
      const path = join(dir, 'shared.db');
      const a = await start({ env: { SQLITE_PATH: path } });
      const b = await start({
        env: { SQLITE_PATH: path },
        connector: a.connector,
        simulator: a.simulator,
      });
      await meet(a);
      const { requestId } = await askApproval(a);
      await expectOneDecision(a, requestId, await race([a, b], requestId));
    } finally {
      for (const b of bots.splice(0)) await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('on Azure Table Storage (Azurite)', () => {
    let azurite: Azurite;
    beforeAll(async () => {
      azurite = await startAzurite();
    });
    afterAll(async () => {
      await azurite?.stop();
    });

    it('two bots on one table: one decision wins', async () => {
      const env = tableEnv(azurite);
      const a = await start({ env });
      const b = await start({ env, connector: a.connector, simulator: a.simulator });
      await meet(a);
      const { requestId } = await askApproval(a);
      await expectOneDecision(a, requestId, await race([a, b], requestId));
    });
  });
});
