/**
 * The floor: the least a Teams bot on this stack can do. The same restify server (src/server.ts)
 * and the same CloudAdapter (src/teams/adapter.ts), wired the way src/app.ts wires them, with a
 * bare TeamsActivityHandler that answers every message with one Adaptive Card and every
 * Action.Execute with one card, with no logic, no store, no sign-in and no API. Whatever the bot
 * measures above this floor is what its own work costs.
 */
import {
  type AdaptiveCardInvokeResponse,
  CardFactory,
  TeamsActivityHandler,
  type TurnContext,
} from 'botbuilder';
import type restify from 'restify';
import type { Logger } from '../src/log';
import { createServer, listen } from '../src/server';
import { createAdapter } from '../src/teams/adapter';

/** About the size of the bot's confirmation card: a title, facts, an input and two buttons. */
export const FLOOR_CARD = {
  type: 'AdaptiveCard',
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
  version: '1.5',
  body: [
    { type: 'TextBlock', text: 'Floor', weight: 'Bolder', size: 'Medium', wrap: true },
    {
      type: 'FactSet',
      facts: [
        { title: 'Environment', value: 'Contoso Dev' },
        { title: 'Id', value: 'a8d2d8c5-2541-43b3-81db-73b5541a77b9' },
        { title: 'Type', value: 'Sandbox' },
        { title: 'Region', value: 'unitedstates' },
      ],
    },
    { type: 'Input.Text', id: 'justification', label: 'Justification', isRequired: true },
  ],
  actions: [
    { type: 'Action.Execute', title: 'Elevate', verb: 'elevate', data: {} },
    { type: 'Action.Execute', title: 'Cancel', verb: 'cancel', data: {} },
  ],
};

export class FloorBot extends TeamsActivityHandler {
  /**
   * @param typing  an experiment, not the floor: send a typing indicator before the card, as the
   *                bot does before each "elevate me in", to price one more connector call.
   */
  constructor(typing = false) {
    super();
    this.onMessage(async (context, next) => {
      if (typing) await context.sendActivity({ type: 'typing' });
      await context.sendActivity({ attachments: [CardFactory.adaptiveCard(FLOOR_CARD)] });
      await next();
    });
  }

  protected override async onAdaptiveCardInvoke(
    _context: TurnContext,
  ): Promise<AdaptiveCardInvokeResponse> {
    return { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: FLOOR_CARD };
  }
}

export interface FloorApp {
  url: string;
  server: restify.Server;
  stop(): Promise<void>;
}

export async function startFloorBot(options: {
  port: number;
  host: string;
  logger: Logger;
  /** See FloorBot. */
  typing?: boolean;
}): Promise<FloorApp> {
  const { logger } = options;
  // No app id: the adapter skips Bot Framework authentication, exactly as the bot's sandbox mode.
  const adapter = createAdapter({
    botType: 'MultiTenant',
    logger: logger.child({ component: 'adapter' }),
  });
  const bot = new FloorBot(options.typing);
  const server = createServer({
    logger: logger.child({ component: 'server' }),
    processActivity: (req, res) => adapter.process(req, res, (context) => bot.run(context)),
    health: () => ({ mode: 'floor' }),
  });
  const url = await listen(server, options.port, options.host);
  return {
    url,
    server,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
