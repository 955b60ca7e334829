/**
 * The policy file through the real bot (restify, SQLite file, simulated Power Platform API and
 * Dataverse over HTTP): the ticket pattern at Elevate, the rule's longest duration, the rate limit
 * with its channel alert, the allowed hours on the test clock, and the `policy` commands; and a
 * bot process that refuses to start on a broken file, with one line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator/seed';
import { startBotProcess } from '../support/bot-process';
import { auditEvents } from '../support/store-rows';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  channel,
  MEGAN,
  startTestBot,
  type TestBot,
  type TestUser,
} from '../support/test-bot';
import { waitFor } from '../support/wait-for';

const TEAM = '19:team-general@thread.tacv2';
const SECURITY = '19:security@thread.tacv2';
const HOUR = 60 * 60_000;

let dir: string;
let bot: TestBot;
/** Northwind's window, written once: it starts in two hours and lasts one, so now is outside it. */
const WINDOW = { from: hourFromNow(2), to: hourFromNow(3), opens: startOfHourFromNow(2) };

/** "HH:00" in UTC, `hours` from now (the test clock starts at the real time). */
function hourFromNow(hours: number): string {
  return `${String(new Date(Date.now() + hours * HOUR).getUTCHours()).padStart(2, '0')}:00`;
}

function startOfHourFromNow(hours: number): number {
  const at = Date.now() + hours * HOUR;
  return at - (at % HOUR);
}

function writePolicy(): string {
  const path = join(dir, 'policy.yaml');
  writeFileSync(
    path,
    [
      'rules:',
      '  - name: northwind',
      '    description: Northwind is changed in its maintenance window only.',
      "    match: { namePattern: '^Northwind' }",
      '    allowedHours:',
      `      from: '${WINDOW.from}'`,
      `      to: '${WINDOW.to}'`,
      '      timeZone: UTC',
      '      outside: refuse',
      '  - name: production',
      '    match: { types: [Production] }',
      '    maxMinutes: 120',
      '    justification:',
      '      required: true',
      "      pattern: '^(INC|CHG)\\d+'",
      "      patternHelp: 'Start with the ticket: INC1234 or CHG1234.'",
      '    rateLimit:',
      '      perUser: { count: 2, windowMinutes: 60 }',
      '  - name: sandboxes',
      '    match: { types: [Sandbox] }',
      '    maxMinutes: 480',
      '',
    ].join('\n'),
  );
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'policy-'));
  bot = await startTestBot({
    env: {
      POLICY_FILE: writePolicy(),
      BOT_ADMIN_IDS: ALEX.aadObjectId,
      NOTIFICATION_POLL_MS: '200',
    },
  });
});

afterAll(async () => {
  await bot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `elevate me in ...`: the card the bot answered with, and its request id when it is a confirmation. */
async function ask(user: TestUser, text: string) {
  const asked = await bot.say(user, text);
  const card = cardOf(asked.calls[0]!.activity);
  return {
    text: cardText(card),
    requestId: actionData(card, 'elevate')?.requestId as string | undefined,
    messageId: asked.calls[0]!.assignedId,
  };
}

async function press(user: TestUser, requestId: string, justification: string, messageId?: string) {
  const click = await bot.click(
    user,
    'elevate',
    { requestId, justification },
    { replyToId: messageId },
  );
  return { text: cardText(cardOf(click.body)), click };
}

function applyAdminRoleCalls(environmentId: string): number {
  return bot.simulator.calls.filter(
    (c) => c.operation === 'applyAdminRole' && c.environmentId === environmentId,
  ).length;
}

it('the confirmation card names the rule, its longest elevation and the ticket hint; a justification without a ticket is refused with it, and audited', async () => {
  const asked = await ask(ALEX, 'elevate me in Contoso Prod');
  expect(asked.text).toContain(
    "Policy: the rule 'production' applies because its type is Production; at most 2 hours.",
  );
  expect(asked.text).toContain('Start with the ticket: INC1234 or CHG1234.');
  expect(asked.requestId).toBeDefined();

  const refused = await press(ALEX, asked.requestId!, 'restore the flows', asked.messageId);
  expect(refused.text).toContain(
    "The justification does not have the form the rule 'production' asks for. Start with the ticket: INC1234 or CHG1234.",
  );
  expect(applyAdminRoleCalls(WELL_KNOWN.contosoProd.id)).toBe(0);
  expect((await bot.app.service.findRequest(asked.requestId!))?.state).toBe('requested');
  expect(
    auditEvents(bot).filter((e) => e.type === 'refused' && e.requestId === asked.requestId),
  ).toMatchObject([
    {
      actor: ALEX.aadObjectId,
      environmentId: WELL_KNOWN.contosoProd.id,
      details: { reason: 'policy-justification', rule: 'production' },
    },
  ]);

  // The same card, with a ticket, elevates.
  await press(ALEX, asked.requestId!, 'INC4711 restore the flows', asked.messageId);
  expect(applyAdminRoleCalls(WELL_KNOWN.contosoProd.id)).toBe(1);
  const request = await bot.app.service.findRequest(asked.requestId!);
  expect(request).toMatchObject({
    state: 'succeeded',
    justification: 'INC4711 restore the flows',
    policy: { rule: 'production', why: 'its type is Production' },
  });
});

it("longer than the rule's maximum is refused naming the rule; a sandbox rule allows more than production", async () => {
  const tooLong = await ask(MEGAN, 'elevate me in Contoso Prod for 3h');
  expect(tooLong.requestId).toBeUndefined();
  expect(tooLong.text).toContain(
    "The rule 'production' allows at most 2 hours here. Ask again for 2 hours or less.",
  );
  const sandbox = await ask(MEGAN, 'elevate me in Contoso Dev for 3h');
  expect(sandbox.requestId).toBeDefined();
  expect(sandbox.text).toContain("the rule 'sandboxes' applies because its type is Sandbox");
});

it('over the rate limit: refused with the count and when the next is allowed, audited, and the subscribed channel alerted', async () => {
  const subscribed = await bot.say(ALEX, 'notify here', channel(SECURITY, TEAM));
  expect(cardText(cardOf(subscribed.calls[0]!.activity))).toContain('Subscribed');

  // Megan's two elevations under the rule (in one hour) are her limit.
  for (const ticket of ['INC1', 'INC2']) {
    const asked = await ask(MEGAN, 'elevate me in Contoso Prod');
    await press(MEGAN, asked.requestId!, `${ticket} check the flows`, asked.messageId);
  }
  const calls = applyAdminRoleCalls(WELL_KNOWN.contosoProd.id);

  const third = await ask(MEGAN, 'elevate me in Contoso Prod');
  expect(third.requestId).toBeUndefined();
  expect(third.text).toContain("Refused: too many elevations (rule 'production')");
  expect(third.text).toContain(
    "You have had 2 elevations under the rule 'production' in the last hour; it allows 2 per person per hour.",
  );
  expect(third.text).toMatch(/The next elevation is allowed at \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  expect(applyAdminRoleCalls(WELL_KNOWN.contosoProd.id)).toBe(calls);

  expect(
    auditEvents(bot).filter(
      (e) =>
        e.type === 'refused' && (e.details as { reason?: string }).reason === 'policy-rate-limit',
    ),
  ).toMatchObject([
    {
      actor: MEGAN.aadObjectId,
      environmentId: WELL_KNOWN.contosoProd.id,
      details: { rule: 'production', scope: 'user', count: 2, limit: 2, windowMinutes: 60 },
    },
  ]);
  const alert = await waitFor(
    () =>
      bot.connector.calls
        .filter((c) => c.conversationId === SECURITY && c.method === 'POST')
        .map((c) => cardText(cardOf(c.activity)))
        .find((text) => text.includes('Elevation refused: rate limit')),
    'the rate limit alert in the subscribed channel',
  );
  expect(alert).toContain('Megan Bowen');
  expect(alert).toContain('Contoso Prod');
  expect(alert).toContain("2 elevations by them in the last hour (rule 'production', at most 2)");

  // An hour later the window has moved on.
  bot.clock.advance(HOUR);
  try {
    expect((await ask(MEGAN, 'elevate me in Contoso Prod')).requestId).toBeDefined();
  } finally {
    bot.clock.advance(-HOUR);
  }
});

it('a rate limit reached after the cards opened is refused at Elevate: nothing called, audited with the request, alerted, and the card stays open', async () => {
  await bot.say(ALEX, 'notify here', channel(SECURITY, TEAM));
  // Two hours on: the elevations of the tests above are out of the window.
  bot.clock.advance(2 * HOUR);
  try {
    // Three cards at once, in three environments under the rule: each within the limit of 2.
    const cards: Array<Awaited<ReturnType<typeof ask>>> = [];
    for (const name of ['Contoso Prod', 'Adventure Works HR', 'Wide World Importers']) {
      const asked = await ask(ALEX, `elevate me in ${name}`);
      expect(asked.requestId).toBeDefined();
      cards.push(asked);
    }
    for (const [i, card] of cards.slice(0, 2).entries()) {
      const done = await press(ALEX, card.requestId!, `INC${90 + i} fix the flows`, card.messageId);
      expect(done.text).toContain('Elevated');
    }
    const before = bot.simulator.calls.filter((c) => c.operation === 'applyAdminRole').length;
    const alertsBefore = securityAlerts().length;

    const third = await press(
      ALEX,
      cards[2]!.requestId!,
      'INC92 fix the flows',
      cards[2]!.messageId,
    );
    expect(third.text).toContain("Refused: too many elevations (rule 'production').");
    expect(third.text).toContain(
      "You have had 2 elevations under the rule 'production' in the last hour; it allows 2 per person per hour.",
    );
    // The confirmation card again, with its Elevate: pressed once allowed, it can still run.
    expect(actionData(cardOf(third.click.body), 'elevate')?.requestId).toBe(cards[2]!.requestId);
    expect(bot.simulator.calls.filter((c) => c.operation === 'applyAdminRole')).toHaveLength(
      before,
    );
    expect(
      auditEvents(bot).filter(
        (e) =>
          e.type === 'refused' &&
          e.requestId === cards[2]!.requestId &&
          (e.details as { reason?: string }).reason === 'policy-rate-limit',
      ),
    ).toMatchObject([{ actor: ALEX.aadObjectId, details: { rule: 'production', count: 2 } }]);
    const alert = await waitFor(
      () =>
        securityAlerts()
          .slice(alertsBefore)
          .find((text) => text.includes('Alex')),
      'the rate limit alert for the third card',
    );
    expect(alert).toContain('Wide World Importers');
    expect(alert).toContain("2 elevations by them in the last hour (rule 'production', at most 2)");
  } finally {
    bot.clock.advance(-2 * HOUR);
  }
});

/** The rate limit alerts posted in the security channel, as text. */
function securityAlerts(): string[] {
  return bot.connector.calls
    .filter((c) => c.conversationId === SECURITY && c.method === 'POST')
    .map((c) => cardText(cardOf(c.activity)))
    .filter((text) => text.includes('Elevation refused: rate limit'));
}

it('outside the allowed hours: refused, saying when, and allowed once the test clock is inside them', async () => {
  const outside = await ask(ALEX, 'elevate me in Northwind Sales');
  expect(outside.requestId).toBeUndefined();
  expect(outside.text).toContain("Refused: outside the allowed hours (rule 'northwind')");
  expect(outside.text).toContain(
    `Elevations under the rule 'northwind' are allowed every day ${WINDOW.from}-${WINDOW.to} UTC`,
  );
  expect(
    auditEvents(bot).filter(
      (e) =>
        e.type === 'refused' &&
        (e.details as { reason?: string }).reason === 'policy-outside-hours',
    ),
  ).toMatchObject([{ actor: ALEX.aadObjectId, details: { rule: 'northwind' } }]);

  // Five minutes into the window.
  const moved = WINDOW.opens + 5 * 60_000 - bot.clock.now().getTime();
  bot.clock.advance(moved);
  try {
    expect((await ask(ALEX, 'elevate me in Northwind Sales')).requestId).toBeDefined();
  } finally {
    bot.clock.advance(-moved);
  }
});

it('a card opened inside the allowed hours and pressed after they ended is refused at Elevate, audited, with nothing called', async () => {
  // Four minutes before the window closes, then Elevate six minutes later (the card lives ten).
  const moved = WINDOW.opens + HOUR - 4 * 60_000 - bot.clock.now().getTime();
  bot.clock.advance(moved);
  try {
    const inside = await ask(ALEX, 'elevate me in Northwind Sales');
    expect(inside.requestId).toBeDefined();
    bot.clock.advance(6 * 60_000);
    try {
      const calls = bot.simulator.calls.filter((c) => c.operation === 'applyAdminRole').length;
      const late = await press(ALEX, inside.requestId!, 'restart the sync', inside.messageId);
      expect(late.text).toContain("Refused: outside the allowed hours (rule 'northwind').");
      expect(late.text).toContain(
        `Elevations under the rule 'northwind' are allowed every day ${WINDOW.from}-${WINDOW.to} UTC`,
      );
      expect(actionData(cardOf(late.click.body), 'elevate')?.requestId).toBe(inside.requestId);
      expect(bot.simulator.calls.filter((c) => c.operation === 'applyAdminRole')).toHaveLength(
        calls,
      );
      expect(
        auditEvents(bot).filter((e) => e.type === 'refused' && e.requestId === inside.requestId),
      ).toMatchObject([
        { actor: ALEX.aadObjectId, details: { reason: 'policy-outside-hours', rule: 'northwind' } },
      ]);
    } finally {
      bot.clock.advance(-6 * 60_000);
    }
  } finally {
    bot.clock.advance(-moved);
  }
});

it('`policy` is for bot administrators; `policy <env>` says which rule applies and why, to anyone', async () => {
  const refused = await bot.say(MEGAN, 'policy');
  const refusal =
    cardText(cardOf(refused.calls[0]!.activity)) || String(refused.calls[0]!.activity.text);
  expect(refusal).toContain("Only the bot's administrators can read the whole policy");
  expect(
    auditEvents(bot).filter((e) => e.type === 'refused' && e.actor === MEGAN.aadObjectId),
  ).toContainEqual(
    expect.objectContaining({ details: expect.objectContaining({ command: 'policy' }) }),
  );

  const whole = cardText(cardOf((await bot.say(ALEX, 'policy')).calls[0]!.activity));
  expect(whole).toContain(`From ${join(dir, 'policy.yaml')}.`);
  expect(whole).toMatch(/1\. 'northwind', for name matching \/\^Northwind\/i: /);
  expect(whole).toContain(
    "2. 'production', for type Production: at most 2 hours (1 hour unless asked); justification required, must match ^(INC|CHG)\\d+ (Start with the ticket: INC1234 or CHG1234.); at most 2 per person per hour.",
  );
  expect(whole).toContain(
    "4. 'default' (appended: the file has no rule for every environment), for every environment",
  );

  const one = await bot.say(MEGAN, 'policy for contoso prod');
  expect(cardText(cardOf(one.calls[0]!.activity))).toContain(
    "The rule 'production' applies because its type is Production: at most 2 hours (1 hour unless asked), justification required, must match ^(INC|CHG)\\d+ (Start with the ticket: INC1234 or CHG1234.), at most 2 per person per hour.",
  );
  // In a channel: no sign-in there, so the environment cannot be looked up.
  const inChannel = await bot.say(
    MEGAN,
    '<at>Elevation</at> policy Contoso Prod',
    channel(SECURITY, TEAM),
  );
  expect(String(inChannel.calls[0]!.activity.text)).toContain('Ask me this in our personal chat');
  const fallback = await bot.say(MEGAN, 'policy Contoso (default)');
  expect(cardText(cardOf(fallback.calls[0]!.activity))).toContain(
    "The rule 'default' applies because the rule matches every environment",
  );
});

it('a bot process with a broken POLICY_FILE refuses to start, with one line naming the file, the line, the rule and the problem', async () => {
  const path = join(dir, 'broken.yaml');
  writeFileSync(
    path,
    'rules:\n  - name: production\n    match: { types: [Production] }\n    approval:\n      approvers: [5b7e9d1c-3a2f-4e6b-8c0d-9e8f7a6b5c41]\n      timeoutMinutes: 0\n',
  );
  const started = startBotProcess({ POLICY_FILE: path, SQLITE_PATH: join(dir, 'process.db') });
  const error = await started.then(
    (process) => {
      void process.stop();
      throw new Error('the bot started');
    },
    (failure: Error) => failure,
  );
  const [first, ...output] = error.message.split('\n');
  expect(first).toBe('bot process exited (2) before it started:');
  // Node's own deprecation warnings (restify, run without --no-deprecation here) are not the bot's.
  const lines = output.filter(
    (line) => line.trim() !== '' && !/^\((node:\d+|Use `node)/.test(line),
  );
  expect(lines).toEqual([
    `Configuration error: POLICY_FILE ${path} line 6, rule "production": approval.timeoutMinutes must be >= 1 (got 0)`,
  ]);
});

it("Extend adds the rule's default, not the setting's, and its button says where that leads", async () => {
  const own = await startTestBot({
    policy: {
      source: 'test',
      rules: [{ name: 'short steps', match: {}, defaultMinutes: 20, maxMinutes: 100 }],
    },
  });
  try {
    const asked = await own.say(ALEX, 'elevate me in Contoso Dev');
    const requestId = actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId as string;
    const pressed = await own.click(
      ALEX,
      'elevate',
      { requestId, justification: 'INC-7 short steps' },
      { replyToId: asked.calls[0]!.assignedId },
    );
    const granted = (await own.app.service.findRequest(requestId))!.timeBox!;
    expect(Date.parse(granted.endsAt) - Date.parse(granted.grantedAt)).toBe(20 * 60_000);
    // The outcome card's Extend names the end 20 minutes later (in UTC: no time zone was given).
    const later = new Date(Date.parse(granted.endsAt) + 20 * 60_000).toISOString().slice(11, 16);
    expect(JSON.stringify(cardOf(pressed.body))).toContain(`Extend to ${later}`);

    await own.click(ALEX, 'extend', { requestId, extendJustification: 'INC-7 one more step' });
    const extended = (await own.app.service.findRequest(requestId))!.timeBox!;
    expect(Date.parse(extended.endsAt) - Date.parse(granted.endsAt)).toBe(20 * 60_000);
    expect(Date.parse(extended.latestEnd) - Date.parse(granted.grantedAt)).toBe(100 * 60_000);
  } finally {
    await own.stop();
  }
});
