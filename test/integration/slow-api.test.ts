/**
 * Teams gives up on a card action after about 10 to 15 seconds. When the API (with its retries)
 * takes longer than the bot's budget, the click is answered at once with an "in progress" card,
 * and the real outcome replaces it when it arrives.
 */
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  GROUP_CHAT,
  startTestBot,
  type TestBot,
} from '../support/test-bot';
import { waitFor } from '../support/wait-for';

let bot: TestBot;

beforeEach(async () => {
  bot = await startTestBot({ env: { INVOKE_BUDGET_MS: '300' } });
});

afterEach(async () => {
  await bot.stop();
});

describe('a slow Power Platform API', () => {
  it('answers the click with an in-progress card, then replaces it with the outcome and posts it', async () => {
    bot.simulator.override('delay-ms=1500', {
      operation: 'applyAdminRole',
      environmentId: WELL_KNOWN.contosoDev.id,
    });
    const { calls } = await bot.say(ALEX, 'elevate me in Contoso Dev', GROUP_CHAT);
    const messageId = calls[0]!.assignedId!;
    const requestId = actionData(cardOf(calls[0]!.activity), 'elevate')!.requestId as string;

    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'INC-9' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    const inProgress = cardText(cardOf(click.body));
    expect(inProgress).toContain('Elevation in progress');
    const request = await bot.app.service.findRequest(requestId);
    expect(inProgress).toContain(request!.clientRequestId!);
    expect(click.calls).toHaveLength(0);

    // A second click meanwhile calls nothing and shows the same state.
    const again = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'INC-9' },
      { replyToId: messageId, conversation: GROUP_CHAT },
    );
    expect(cardText(cardOf(again.body))).toContain('Elevation in progress');

    const update = await waitFor(
      () => bot.connector.calls.find((c) => c.method === 'PUT' && c.activityId === messageId),
      'the card update',
    );
    const correlationId = bot.simulator.calls.find(
      (c) => c.operation === 'applyAdminRole',
    )!.correlationId!;
    expect(cardText(cardOf(update.activity))).toContain('Elevated');
    expect(cardText(cardOf(update.activity))).toContain(correlationId);
    const message = await waitFor(
      () =>
        bot.connector.calls.find(
          (c) => c.method === 'POST' && String(c.activity.text).includes('Correlation id'),
        ),
      'the outcome message',
    );
    expect(message.activity.text).toContain(correlationId);
    expect(bot.simulator.calls.filter((c) => c.operation === 'applyAdminRole')).toHaveLength(1);
    expect((await bot.app.service.findRequest(requestId))?.state).toBe('succeeded');
  });

  it('a fast answer still comes back in the click itself', async () => {
    const { calls } = await bot.say(ALEX, 'elevate me in Contoso Dev', GROUP_CHAT);
    const requestId = actionData(cardOf(calls[0]!.activity), 'elevate')!.requestId as string;
    const click = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'INC-10' },
      { replyToId: calls[0]!.assignedId, conversation: GROUP_CHAT },
    );
    expect(cardText(cardOf(click.body))).toContain('Elevated');
  });
});
