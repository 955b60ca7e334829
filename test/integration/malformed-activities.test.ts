/**
 * Activities of the wrong shape, posted over real HTTP to the real bot: each is answered with a
 * 400 in the shape its sender reads (or, for invokes the bot does not handle, the answer
 * documented in src/teams/activity-schema.ts), nothing throws inside a turn, and the bot keeps
 * working after.
 */
import { activityFrom } from '../support/teams-client';
import { ALEX, startTestBot, type TestBot } from '../support/test-bot';

let bot: TestBot;

beforeAll(async () => {
  bot = await startTestBot();
});

afterAll(async () => {
  await bot.stop();
});

/** A well-formed activity from Alex in his personal chat, with `change` applied to it. */
function activity(
  fields: Record<string, unknown>,
  change: (a: Record<string, unknown>) => void = () => undefined,
): Record<string, unknown> {
  const built = { ...activityFrom(ALEX, bot.connector.url), ...fields };
  change(built);
  return JSON.parse(JSON.stringify(built)) as Record<string, unknown>;
}

const message = (change?: (a: Record<string, unknown>) => void) =>
  activity({ type: 'message', text: 'help' }, change);

const cardAction = (value: unknown) =>
  activity({ type: 'invoke', name: 'adaptiveCard/action', value });

const tokenExchange = (value: unknown) =>
  activity({ type: 'invoke', name: 'signin/tokenExchange', value });

const CARD_ERROR = {
  statusCode: 400,
  type: 'application/vnd.microsoft.error',
  value: { code: 'BadRequest', message: expect.stringContaining('Not a valid activity') },
};
const PLAIN_ERROR = { error: expect.stringContaining('Not a valid activity') };

type Row = [string, () => Record<string, unknown>, number, unknown];

const rows: Row[] = [
  ['text a number', () => message((a) => (a.text = 42)), 400, PLAIN_ERROR],
  ['text an object', () => message((a) => (a.text = { toString: 'x' })), 400, PLAIN_ERROR],
  [
    'conversation tenant id an object',
    () => message((a) => ((a.conversation as Record<string, unknown>).tenantId = { id: 'x' })),
    400,
    PLAIN_ERROR,
  ],
  [
    'channelData tenant id an object',
    () => message((a) => (a.channelData = { tenant: { id: { evil: true } } })),
    400,
    PLAIN_ERROR,
  ],
  ['from missing', () => message((a) => delete a.from), 400, PLAIN_ERROR],
  [
    'from.aadObjectId a number',
    () => message((a) => ((a.from as Record<string, unknown>).aadObjectId = 7)),
    400,
    PLAIN_ERROR,
  ],
  ['conversation missing', () => message((a) => delete a.conversation), 400, PLAIN_ERROR],
  ['entities not a list', () => message((a) => (a.entities = 'mention')), 400, PLAIN_ERROR],
  ['recipient a string', () => message((a) => (a.recipient = 'bot')), 400, PLAIN_ERROR],
  [
    'membersAdded not a list',
    () => activity({ type: 'conversationUpdate', membersAdded: { id: 'x' } }),
    400,
    PLAIN_ERROR,
  ],
  ['value of elevate a string', () => cardAction('elevate'), 400, CARD_ERROR],
  ['card action value missing', () => cardAction(undefined), 400, CARD_ERROR],
  [
    'value.action missing',
    () => cardAction({ trigger: 'manual', data: { requestId: 'x' } }),
    400,
    CARD_ERROR,
  ],
  [
    'verb a number',
    () => cardAction({ action: { type: 'Action.Execute', verb: 1 } }),
    400,
    CARD_ERROR,
  ],
  [
    'data of elevate a string',
    () => cardAction({ action: { type: 'Action.Execute', verb: 'elevate', data: 'x' } }),
    400,
    CARD_ERROR,
  ],
  [
    'authentication token an object',
    () =>
      cardAction({
        action: { type: 'Action.Execute', verb: 'elevate', data: {} },
        authentication: { token: { alg: 'none' } },
      }),
    400,
    CARD_ERROR,
  ],
  [
    'tokenExchange value without id',
    () => tokenExchange({ token: 'abc' }),
    400,
    { id: '', failureDetail: expect.stringContaining('"value.id" is missing') },
  ],
  [
    'tokenExchange token a number',
    () => tokenExchange({ id: 'x1', token: 12 }),
    400,
    { id: 'x1', failureDetail: expect.stringContaining('"value.token" must be a string') },
  ],
  [
    'tokenExchange value null',
    () => tokenExchange(null),
    400,
    { id: '', failureDetail: expect.stringContaining('Not a valid activity') },
  ],
  [
    'verifyState value a string',
    () => activity({ type: 'invoke', name: 'signin/verifyState', value: 'state' }),
    400,
    PLAIN_ERROR,
  ],
  // The documented answers to invokes the bot does not handle (src/teams/activity-schema.ts).
  [
    'signin/failure (a notification)',
    () =>
      activity({
        type: 'invoke',
        name: 'signin/failure',
        value: { code: 'resourcematchfailed', message: 'Resource match failed' },
      }),
    200,
    undefined,
  ],
  [
    'a message extension query',
    () => activity({ type: 'invoke', name: 'composeExtension/query', value: {} }),
    501,
    undefined,
  ],
  [
    'an invoke without a name',
    () => activity({ type: 'invoke', value: { any: 'thing' } }),
    501,
    undefined,
  ],
  [
    'an unknown invoke',
    () => activity({ type: 'invoke', name: 'no/such-thing', value: 'x' }),
    501,
    undefined,
  ],
];

describe('malformed activities', () => {
  it.each(rows)('%s', async (_name, build, status, body) => {
    const logsBefore = bot.logs.length;
    const answer = await bot.post(JSON.stringify(build()));
    expect(answer.status).toBe(status);
    if (body !== undefined) expect(JSON.parse(answer.text)).toEqual(body);
    const logs = bot.logs.slice(logsBefore).join('\n');
    expect(logs).not.toContain('TypeError');
    expect(logs).not.toContain('turn failed');
    expect(answer.text).not.toMatch(/at .*\.[jt]s:\d+/);
    // And the bot keeps working.
    const help = await bot.say(ALEX, 'help');
    expect(help.status).toBe(200);
    expect(String(help.calls[0]?.activity.text)).toContain('elevate me in');
  });

  it('well-formed activities with null in optional fields still work', async () => {
    const answer = await bot.post(
      JSON.stringify(
        message((a) => {
          a.entities = null;
          a.replyToId = null;
          (a.from as Record<string, unknown>).name = null;
        }),
      ),
    );
    expect(answer.status).toBe(200);
  });
});
