/**
 * The whole elevation story over real HTTP: activities posted to the real restify server and
 * CloudAdapter, the simulated Power Platform API, a SQLite file, replies captured by a connector stub.
 */
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator/seed';
import {
  actionData,
  executeActions,
  ALEX,
  cardOf,
  cardText,
  GROUP_CHAT,
  MEGAN,
  startTestBot,
  type TestBot,
  type TestUser,
} from '../support/test-bot';
import { markdownTexts, textRuns } from '../support/card-inspection';
import { auditEvents } from '../support/store-rows';

let bot: TestBot;

beforeEach(async () => {
  bot = await startTestBot();
});

afterEach(async () => {
  await bot.stop();
});

function applyAdminRoleCalls(): number {
  return bot.simulator.calls.filter(
    (c) => c.method === 'POST' && c.path.includes('/applyAdminRole'),
  ).length;
}

/** Asks for an elevation and returns the confirmation card, its message id and request id. */
async function ask(user: TestUser, text: string, conversation = GROUP_CHAT) {
  const { status, calls } = await bot.say(user, text, conversation);
  expect(status).toBe(200);
  expect(calls).toHaveLength(1);
  const card = cardOf(calls[0]!.activity);
  const data = actionData(card, 'elevate');
  return {
    card: card!,
    messageId: calls[0]!.assignedId!,
    requestId: data?.requestId as string,
    conversation,
  };
}

describe('elevation flow', () => {
  it('elevate me in <name> answers with a confirmation card for that environment', async () => {
    const { card, requestId } = await ask(ALEX, 'elevate me in Contoso Dev');
    const text = cardText(card);
    expect(text).toContain('Confirm elevation');
    expect(text).toContain('Contoso Dev');
    expect(text).toContain(WELL_KNOWN.contosoDev.id);
    expect(text).toContain('Sandbox');
    expect(text).toContain('https://contoso-dev.crm.dynamics.com');
    expect(text).toContain('Alex Wilber');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(applyAdminRoleCalls()).toBe(0);
  });

  it('Elevate calls the API once, replaces the card for everyone and posts the outcome with the correlation id', async () => {
    const { messageId, requestId, conversation } = await ask(ALEX, 'elevate me in contoso-dev');
    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'INC-4711 outage' },
      { replyToId: messageId, conversation },
    );

    expect(click.status).toBe(200);
    expect(click.body.statusCode).toBe(200);
    const outcome = cardText(cardOf(click.body));
    expect(outcome).toContain('Elevated');
    expect(outcome).toContain('INC-4711 outage');

    const sent = bot.simulator.calls.filter((c) => c.path.includes('/applyAdminRole'));
    expect(sent).toHaveLength(1);
    const correlationId = sent[0]!.correlationId;
    expect(correlationId).toMatch(/[0-9a-f-]{36}/);
    expect(outcome).toContain(correlationId);

    const update = click.calls.find((c) => c.method === 'PUT');
    expect(update?.activityId).toBe(messageId);
    expect(cardText(cardOf(update!.activity))).toContain(correlationId);

    const message = click.calls.find((c) => c.method === 'POST');
    expect(message?.activity.text).toContain(`Correlation id: ${correlationId}`);
    expect(message?.activity.text).toContain('Contoso Dev');

    const request = await bot.app.service.findRequest(requestId);
    expect(request?.state).toBe('succeeded');
    expect(request?.outcome?.response.correlationId).toBe(correlationId);
  });

  it('a second click on Elevate does not call the API again', async () => {
    const { messageId, requestId } = await ask(ALEX, 'elevate me in Contoso Dev');
    await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'first' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    const second = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'second' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    expect(applyAdminRoleCalls()).toBe(1);
    expect(cardText(cardOf(second.body))).toContain('Elevated');
    expect(cardText(cardOf(second.body))).toContain('first');
  });

  it('20 concurrent clicks on Elevate call the API exactly once', async () => {
    const { messageId, requestId } = await ask(ALEX, 'elevate me in Contoso Dev');
    const clicks = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        bot.click(
          ALEX,
          'elevate',
          { requestId, justification: `click ${i}` },
          { replyToId: messageId, conversation: GROUP_CHAT },
        ),
      ),
    );
    expect(applyAdminRoleCalls()).toBe(1);
    expect(clicks.every((c) => c.status === 200)).toBe(true);
    // One outcome message in the conversation, not one per click.
    const outcomes = bot.connector.calls.filter(
      (c) => c.method === 'POST' && String(c.activity.text).includes('Correlation id'),
    );
    expect(outcomes).toHaveLength(1);
    const updates = bot.connector.calls.filter((c) => c.method === 'PUT');
    expect(updates).toHaveLength(1);
  });

  it("another user's click in a group chat is refused and calls nothing", async () => {
    const { messageId, requestId } = await ask(ALEX, 'elevate me in Contoso Dev');
    const click = await bot.click(
      MEGAN,
      'elevate',
      { requestId, justification: 'mine now' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    expect(click.body.type).toBe('application/vnd.microsoft.activity.message');
    expect(click.body.value).toBe('Only Alex Wilber can confirm or cancel this request.');
    expect(click.calls).toHaveLength(0);
    expect(applyAdminRoleCalls()).toBe(0);
    expect((await bot.app.service.findRequest(requestId))?.state).toBe('requested');
    const refused = auditEvents(bot).filter((e) => e.type === 'refused');
    expect(refused).toMatchObject([
      { requestId, actor: MEGAN.aadObjectId, details: { reason: 'not-requester' } },
    ]);

    // The requester can still confirm afterwards.
    await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'ok' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    expect(applyAdminRoleCalls()).toBe(1);
  });

  it("another user cannot cancel the requester's card", async () => {
    const { requestId } = await ask(ALEX, 'elevate me in Contoso Dev');
    const click = await bot.click(MEGAN, 'cancel', { requestId }, { conversation: GROUP_CHAT });
    expect(click.body.value).toBe('Only Alex Wilber can confirm or cancel this request.');
    expect((await bot.app.service.findRequest(requestId))?.state).toBe('requested');
  });

  it('an expired card calls nothing and says it expired', async () => {
    const { messageId, requestId } = await ask(ALEX, 'elevate me in Contoso Dev');
    bot.clock.advance(10 * 60_000 + 1);
    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'late' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    expect(applyAdminRoleCalls()).toBe(0);
    expect(cardText(cardOf(click.body))).toContain('expired');
    expect(click.calls.find((c) => c.method === 'PUT')?.activityId).toBe(messageId);
    expect((await bot.app.service.findRequest(requestId))?.state).toBe('expired');
  });

  it('an unconfirmed card turns into an expired card by itself', async () => {
    const { messageId, requestId } = await ask(ALEX, 'elevate me in Contoso Dev');
    bot.clock.advance(10 * 60_000 + 1);
    const before = bot.connector.calls.length;
    expect(await bot.app.sweeper.sweep()).toBe(1);
    const update = bot.connector.calls.slice(before).find((c) => c.method === 'PUT');
    expect(update?.activityId).toBe(messageId);
    expect(cardText(cardOf(update!.activity))).toContain('expired');
    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'late' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    expect(cardText(cardOf(click.body))).toContain('expired');
    expect(applyAdminRoleCalls()).toBe(0);
  });

  it('Cancel replaces the card, and a later Elevate calls nothing', async () => {
    const { messageId, requestId } = await ask(ALEX, 'elevate me in Contoso Dev');
    const cancel = await bot.click(
      ALEX,
      'cancel',
      { requestId },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    expect(cardText(cardOf(cancel.body))).toContain('cancelled');
    expect(cancel.calls.find((c) => c.method === 'PUT')?.activityId).toBe(messageId);
    await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'changed my mind' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    expect(applyAdminRoleCalls()).toBe(0);
    expect((await bot.app.service.findRequest(requestId))?.state).toBe('cancelled');
  });

  it('Elevate without a justification asks for one and calls nothing', async () => {
    const { requestId } = await ask(ALEX, 'elevate me in Contoso Dev');
    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: '   ' },
      { conversation: GROUP_CHAT },
    );
    expect(cardText(cardOf(click.body))).toContain('A justification is required');
    expect(actionData(cardOf(click.body), 'elevate')).toEqual({ requestId });
    expect(applyAdminRoleCalls()).toBe(0);
  });

  it('a 2xx answer with errors[] is reported as a failure, with the API text and the correlation id', async () => {
    const { messageId, requestId } = await ask(
      ALEX,
      `elevate me in ${WELL_KNOWN.securityGroup.displayName}`,
    );
    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'audit' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    const text = cardText(cardOf(click.body));
    expect(text).toContain('Elevation failed');
    expect(text).not.toContain('Elevated:');
    expect(text).toContain('userNotPartOfSecurityGroup');
    expect(text).toContain('security group');
    const correlationId = bot.simulator.calls.find((c) =>
      c.path.includes('/applyAdminRole'),
    )!.correlationId;
    expect(text).toContain(correlationId);
    expect((await bot.app.service.findRequest(requestId))?.state).toBe('failed');
  });

  it.each([
    ['missingPermission', 'lacks a permission', '403'],
    ['notTenantAdmin', 'not a tenant administrator', '403'],
    ['serverError', 'unavailable', '500'],
    ['proxyError', 'unavailable', '502'],
    ['deleted', 'not found', '404'],
  ] as const)('a %s answer is reported specifically', async (name, headline, status) => {
    const { messageId, requestId } = await ask(
      ALEX,
      `elevate me in ${WELL_KNOWN[name].displayName}`,
    );
    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'test' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    const text = cardText(cardOf(click.body));
    expect(text).toContain(headline);
    expect(text).toContain(status);
    const correlationId = bot.simulator.calls
      .filter((c) => c.path.includes('/applyAdminRole'))
      .at(-1)!.correlationId;
    expect(text).toContain(correlationId);
  });

  it('a justification with Markdown or a link is shown as plain text', async () => {
    const justification = '**now** [details](https://evil.example/x)';
    const { messageId, requestId } = await ask(ALEX, 'elevate me in Contoso Dev');
    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    const card = cardOf(click.body);
    expect(textRuns(card)).toContain(justification);
    expect(markdownTexts(card).join('\n')).not.toContain('evil.example');
  });

  it('two environments with confusable names give a pick card, and picking one leads to its confirmation', async () => {
    const { calls } = await bot.say(ALEX, 'elevate me in contoso test', GROUP_CHAT);
    const pick = cardOf(calls[0]!.activity)!;
    expect(cardText(pick)).toContain('Several environments match');
    expect(cardText(pick)).toContain('Contoso Test');
    expect(cardText(pick)).toContain('Contoso-Test');
    const data = actionData(pick, 'pick')!;
    const picked = await bot.click(
      ALEX,
      'pick',
      { ...data, environmentId: WELL_KNOWN.contosoTestHyphen.id },
      { replyToId: calls[0]!.assignedId, conversation: GROUP_CHAT },
    );
    const confirmation = cardOf(picked.body)!;
    expect(cardText(confirmation)).toContain('Confirm elevation');
    expect(cardText(confirmation)).toContain(WELL_KNOWN.contosoTestHyphen.id);
    const requestId = actionData(confirmation, 'elevate')!.requestId as string;
    await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'x' },
      { replyToId: calls[0]!.assignedId, conversation: GROUP_CHAT },
    );
    const sent = bot.simulator.calls.filter((c) => c.path.includes('/applyAdminRole'));
    expect(sent.map((c) => c.path)).toEqual([
      expect.stringContaining(WELL_KNOWN.contosoTestHyphen.id),
    ]);
  });

  it("another user cannot pick from the requester's pick card", async () => {
    const { calls } = await bot.say(ALEX, 'elevate me in contoso test', GROUP_CHAT);
    const data = actionData(cardOf(calls[0]!.activity), 'pick')!;
    const picked = await bot.click(
      MEGAN,
      'pick',
      { ...data, environmentId: WELL_KNOWN.contosoTest.id },
      { conversation: GROUP_CHAT },
    );
    expect(picked.body.type).toBe('application/vnd.microsoft.activity.message');
    expect(String(picked.body.value)).toContain('Only the person who asked');
  });

  it.each([
    ['an environment id', `elevate me in ${WELL_KNOWN.contosoDev.id.toUpperCase()}`, 'Contoso Dev'],
    [
      'the Default-<tenant> id',
      `elevate me in ${WELL_KNOWN.contosoDefault.id}`,
      'Contoso (default)',
    ],
    ['a Dataverse URL', 'elevate https://contoso-dev.crm.dynamics.com/main.aspx', 'Contoso Dev'],
    ['a quoted name with punctuation', 'Elevate in  "contoso PROD"!', 'Contoso Prod'],
  ])('an environment named by %s is found', async (_, text, name) => {
    const { card } = await ask(ALEX, text);
    expect(cardText(card)).toContain(name);
  });

  it('a Production environment is flagged on the confirmation card', async () => {
    const { card } = await ask(ALEX, 'elevate me in Contoso Prod');
    expect(cardText(card)).toContain('Production environment');
  });

  it('an unknown environment is named as unknown, with the closest names suggested', async () => {
    const { calls } = await bot.say(ALEX, 'elevate me in Contoso Dve');
    const card = cardOf(calls[0]!.activity)!;
    // A list of near names is a question, not a "not found" above it.
    expect(cardText(card)).toContain('Did you mean one of these?');
    expect(cardText(card)).not.toContain('No environment found');
    expect(cardText(card)).toContain('Contoso Dve');
    expect(executeActions(card).map((a) => [a.title, a.verb])).toContainEqual([
      'Contoso Dev',
      'pick',
    ]);
    expect(applyAdminRoleCalls()).toBe(0);
  });

  it('an environment without Dataverse is explained, with no card to confirm', async () => {
    const { calls } = await bot.say(ALEX, `elevate me in ${WELL_KNOWN.noDataverse.displayName}`);
    const card = cardOf(calls[0]!.activity)!;
    expect(cardText(card)).toContain('no Dataverse');
    expect(actionData(card, 'elevate')).toBeUndefined();
  });

  it('a disabled environment is refused with its state', async () => {
    const { calls } = await bot.say(ALEX, `elevate me in ${WELL_KNOWN.disabled.displayName}`);
    expect(cardText(cardOf(calls[0]!.activity))).toContain('Disabled');
  });

  it('a typing indicator shows while the environment is looked up, before the card', async () => {
    await bot.say(ALEX, 'elevate me in Contoso Dev');
    const types = bot.connector.calls.map((c) => c.activity.type);
    expect(types).toEqual(['typing', 'message']);
  });

  it('a name missing from a list older than a few seconds is looked up in a fresh list once', async () => {
    await bot.say(ALEX, 'elevate me in Contoso Dev');
    const gets = () => bot.simulator.calls.filter((c) => c.method === 'GET').length;
    const firstListing = gets();
    await bot.say(ALEX, 'elevate me in Contoso Nowhere');
    expect(gets()).toBe(firstListing); // the list was just fetched: no second look
    bot.clock.advance(6_000);
    await bot.say(ALEX, 'elevate me in Contoso Prod');
    expect(gets()).toBe(firstListing); // found in the cached list
    const { calls } = await bot.say(ALEX, 'elevate me in Contoso Nowhere');
    expect(gets()).toBe(2 * firstListing); // one fresh listing before saying it is unknown
    expect(cardText(cardOf(calls[0]!.activity))).toMatch(/No environment found|Did you mean/);
  });

  it('after a 404 the next request lists the environments afresh', async () => {
    const { messageId, requestId } = await ask(
      ALEX,
      `elevate me in ${WELL_KNOWN.deleted.displayName}`,
    );
    const gets = () => bot.simulator.calls.filter((c) => c.method === 'GET').length;
    const listed = gets();
    await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'x' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    await bot.say(ALEX, 'elevate me in Contoso Dev', GROUP_CHAT);
    expect(gets()).toBe(2 * listed);
  });

  it('the environment state is shown on the card', async () => {
    const { card } = await ask(ALEX, 'elevate me in Contoso Dev');
    expect(cardText(card)).toMatch(/State\nEnabled/);
  });

  it('the environment list is fetched once and reused for the next request', async () => {
    await bot.say(ALEX, 'elevate me in Contoso Dev');
    const listed = bot.simulator.calls.filter((c) => c.method === 'GET').length;
    expect(listed).toBeGreaterThanOrEqual(3); // several pages
    await bot.say(ALEX, 'elevate me in Contoso Prod');
    expect(bot.simulator.calls.filter((c) => c.method === 'GET').length).toBe(listed);
  });
});

describe('bad input gets a clear answer and leaves nothing half-done', () => {
  it('an empty "elevate me in" asks which environment', async () => {
    const { calls } = await bot.say(ALEX, 'elevate me in');
    expect(calls[0]!.activity.text).toContain('Which environment?');
    expect(bot.simulator.calls).toHaveLength(0);
  });

  it('10,000 characters of text are refused without calling anything', async () => {
    const { status, calls } = await bot.say(ALEX, 'elevate me in ' + 'x'.repeat(10_000));
    expect(status).toBe(200);
    expect(calls[0]!.activity.text).toContain('too long');
    expect(bot.simulator.calls).toHaveLength(0);
  });

  it('anything else gets help, never silence', async () => {
    const { calls } = await bot.say(ALEX, 'what can you do for me?');
    const text = cardText(cardOf(calls[0]!.activity));
    expect(text).toContain('I did not understand that');
    expect(text).toContain('elevate me in');
  });

  it('help explains the commands', async () => {
    const { calls } = await bot.say(ALEX, 'help');
    // A Markdown message: a code span and a placeholder, no raw "<" that Teams would show escaped.
    expect(calls[0]!.activity.text).toContain('`elevate me in` _environment_');
    expect(calls[0]!.activity.text).not.toContain('<');
  });

  it('invalid JSON posted to /api/messages is refused with 400 and the bot keeps working', async () => {
    const bodies = [
      '{"type": "message", ',
      'null',
      '[1,2]',
      '"text"',
      '{}',
      '{"type":"message"}',
      '{"type":"message","from":42}',
    ];
    for (const body of bodies) {
      const response = await bot.post(body);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(response.text).not.toMatch(/at .*\.js:\d+/);
    }
    expect((await bot.say(ALEX, 'help')).calls).toHaveLength(1);
  });

  it('a body over the size limit is refused with 413 and the bot keeps working', async () => {
    const huge = JSON.stringify({ type: 'message', text: 'x'.repeat(300 * 1024) });
    const response = await bot.post(huge);
    expect(response.status).toBe(413);
    expect(bot.simulator.calls).toHaveLength(0);
    expect((await bot.say(ALEX, 'help')).calls).toHaveLength(1);
  });

  it('an environment id that is neither a GUID nor Default-<GUID> never reaches a URL', async () => {
    for (const target of [
      '../../usermanagement',
      'Default-../x',
      '%2e%2e%2fadmin',
      'a8d2d8c5-2541-43b3-81db-73b5541a77b9/../x',
    ]) {
      const { calls } = await bot.say(ALEX, `elevate me in ${target}`);
      expect(actionData(cardOf(calls[0]!.activity), 'elevate')).toBeUndefined();
    }
    const forged = await bot.click(ALEX, 'pick', {
      environmentId: '../../x',
      query: 'x',
      requesterId: ALEX.aadObjectId,
    });
    expect(cardText(cardOf(forged.body))).toContain('No environment found');
    expect(
      bot.simulator.calls.every(
        (c) => !c.path.includes('..') && !c.path.includes('/applyAdminRole'),
      ),
    ).toBe(true);
  });

  it('an elevation asked in a channel is redirected to a chat', async () => {
    const { calls } = await bot.say(ALEX, '<at>Elevation</at> elevate me in Contoso Dev', {
      id: '19:channel@thread.tacv2',
      conversationType: 'channel',
    });
    expect(calls[0]!.activity.text).toContain('in our personal chat');
    expect(calls[0]!.activity.text).toContain('`@Elevation elevate me in` _environment_');
    expect(bot.simulator.calls).toHaveLength(0);
  });
});

describe('tenant allow-list', () => {
  it('a user from a tenant that is not allowed is refused and nothing is called', async () => {
    await bot.stop();
    bot = await startTestBot({
      env: { ALLOWED_TENANT_IDS: '11111111-2222-3333-4444-555555555555' },
    });
    const { calls } = await bot.say(ALEX, 'elevate me in Contoso Dev');
    expect(calls[0]!.activity.text).toContain('not enabled for your organisation');
    const click = await bot.click(ALEX, 'elevate', { requestId: 'anything', justification: 'x' });
    expect(click.body.value).toContain('not enabled for your organisation');
    expect(bot.simulator.calls).toHaveLength(0);
  });
});
