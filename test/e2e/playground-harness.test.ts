/**
 * Proves the Agents Playground harness: a tiny in-process bot, the real Playground CLI and headless
 * chromium. The bot answers any message with a form card (Input.Text + Action.Execute) and the
 * click with a card that echoes what was typed and who clicked.
 */
import type { AddressInfo } from 'node:net';
import {
  CardFactory,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  MessageFactory,
  TeamsActivityHandler,
  TurnContext,
  type Activity,
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
} from 'botbuilder';
import * as restify from 'restify';
import {
  clickAction,
  fillInput,
  lastCardText,
  openPlaygroundPage,
  playgroundConfig,
  screenshot,
  sendMessage,
  sendMessageAs,
  startPlayground,
  switchToChannel,
  switchToGroupChat,
  switchUser,
  waitForText,
  type Playground,
  type PlaygroundPage,
} from './support/playground';

const FORM_TITLE = 'Request elevation';

function formCard(): Record<string, unknown> {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.5',
    body: [
      { type: 'TextBlock', text: FORM_TITLE, weight: 'Bolder', wrap: true },
      {
        type: 'Input.Text',
        id: 'justification',
        label: 'Justification',
        placeholder: 'Why do you need it?',
        isRequired: true,
        errorMessage: 'A justification is required',
      },
    ],
    actions: [{ type: 'Action.Execute', title: 'Submit', verb: 'submit', data: { env: 'env-1' } }],
  };
}

function echoCard(clicker: string, justification: string): Record<string, unknown> {
  return {
    type: 'AdaptiveCard',
    version: '1.5',
    body: [{ type: 'TextBlock', text: `${clicker} typed: ${justification}`, wrap: true }],
  };
}

class FormBot extends TeamsActivityHandler {
  readonly received: Partial<Activity>[] = [];

  constructor() {
    super();
    this.onTurn(async (context, next) => {
      // A copy: removeRecipientMention below rewrites activity.text in place.
      this.received.push(structuredClone(context.activity));
      await next();
    });
    this.onMessage(async (context, next) => {
      const text = TurnContext.removeRecipientMention(context.activity)?.trim() ?? '';
      if (text.startsWith('hello')) {
        await context.sendActivity(`Hello ${context.activity.from.name}`);
      } else {
        await context.sendActivity(MessageFactory.attachment(CardFactory.adaptiveCard(formCard())));
      }
      await next();
    });
  }

  protected override async onAdaptiveCardInvoke(
    context: TurnContext,
    invokeValue: AdaptiveCardInvokeValue,
  ): Promise<AdaptiveCardInvokeResponse> {
    const data = invokeValue.action.data as { justification?: string };
    return {
      statusCode: 200,
      type: 'application/vnd.microsoft.card.adaptive',
      value: echoCard(context.activity.from.name, data.justification ?? ''),
    };
  }

  invokesReceived(): Partial<Activity>[] {
    return this.received.filter((a) => a.type === 'invoke');
  }
}

/** The bot on 127.0.0.1 and a free port, without authentication (as the Playground expects). */
async function startBot(bot: FormBot): Promise<{ endpoint: string; close(): Promise<void> }> {
  const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}));
  adapter.onTurnError = async (_context, error) => {
    console.error('bot turn failed', error);
  };
  const server = restify.createServer();
  server.use(restify.plugins.bodyParser());
  server.post('/api/messages', async (req, res) => {
    await adapter.process(req, res, (context) => bot.run(context));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/api/messages`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the Agents Playground harness', () => {
  const bot = new FormBot();
  let botServer: { endpoint: string; close(): Promise<void> } | undefined;
  let playground: Playground | undefined;
  let ui: PlaygroundPage | undefined;

  const page = () => {
    if (!ui) throw new Error('the Playground page did not open');
    return ui.page;
  };

  beforeAll(async () => {
    botServer = await startBot(bot);
    playground = await startPlayground({ botEndpoint: botServer.endpoint });
    ui = await openPlaygroundPage(playground.url);
  }, 90_000);

  afterEach(async () => {
    const state = expect.getState();
    if (ui && state.currentTestName) {
      const name = state.currentTestName.replace(/\W+/g, '-');
      await screenshot(ui.page, `/tmp/playground-harness/${name}.png`).catch(() => undefined);
    }
  });

  afterAll(async () => {
    await ui?.close();
    await playground?.stop();
    await botServer?.close();
  });

  test('a typed justification comes back in the card that replaces the form', async () => {
    await sendMessage(page(), 'elevate me');
    await waitForText(page(), FORM_TITLE);

    await fillInput(page(), 'Justification', 'Fix the payroll flow');
    const result = await clickAction(page(), 'Submit');

    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ type: 'application/vnd.microsoft.card.adaptive' });
    await waitForText(page(), 'Alex Wilber typed: Fix the payroll flow');
    expect(await lastCardText(page())).not.toContain(FORM_TITLE);
    expect(bot.invokesReceived().at(-1)).toMatchObject({
      name: 'adaptiveCard/action',
      from: { id: 'user-id-0', name: 'Alex Wilber' },
      conversation: { conversationType: 'personal' },
      value: {
        action: { verb: 'submit', data: { env: 'env-1', justification: 'Fix the payroll flow' } },
      },
    });
  });

  test('a required input left empty sends no invoke', async () => {
    await sendMessage(page(), 'elevate me again');
    await waitForText(page(), FORM_TITLE);

    await expect(clickAction(page(), 'Submit', { timeoutMs: 2_000 })).rejects.toThrow(/no invoke/);
    await waitForText(page(), 'A justification is required');
  });

  test('in a group chat the bot is mentioned and another member can click the card', async () => {
    const megan = playgroundConfig(page()).users.find((u) => u.name === 'Megan Bowen');
    await switchToGroupChat(page());
    await sendMessage(page(), 'elevate me');
    await waitForText(page(), FORM_TITLE);

    await switchUser(page(), 'Megan Bowen');
    await fillInput(page(), 'Why do you need it?', 'I am not the requester');
    await clickAction(page(), 'Submit');
    await switchUser(page(), 'Alex Wilber');

    await waitForText(page(), 'Megan Bowen typed: I am not the requester');
    const [message, invoke] = [
      bot.received.filter((a) => a.type === 'message').at(-1),
      bot.invokesReceived().at(-1),
    ];
    expect(message).toMatchObject({
      text: '<at>Test Bot</at> elevate me',
      from: { name: 'Alex Wilber' },
      conversation: { conversationType: 'groupChat', isGroup: true },
    });
    expect(invoke).toMatchObject({ from: { id: megan?.id, aadObjectId: megan?.aadObjectId } });
  });

  test('a message from another user reaches the bot', async () => {
    await sendMessageAs(page(), 'Adele Vance', 'hello');
    await waitForText(page(), 'Hello Adele Vance');
  });

  test('in a channel a mention starts a thread whose card can be used', async () => {
    await switchToChannel(page(), 'General');
    await sendMessage(page(), 'elevate me');
    await waitForText(page(), FORM_TITLE);

    await fillInput(page(), 'Justification', 'Channel request');
    await clickAction(page(), 'Submit');

    await waitForText(page(), 'Alex Wilber typed: Channel request');
    expect(bot.invokesReceived().at(-1)).toMatchObject({
      conversation: {
        conversationType: 'channel',
        id: expect.stringMatching(/^team-id;messageid=/),
      },
      channelData: { team: { id: 'team-id' }, channel: { id: 'team-id' } },
    });
  });
});
