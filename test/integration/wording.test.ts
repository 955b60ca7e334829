/**
 * Issue #11, answer 8, over the real bot: advice that fits the user's admin role, a card that says
 * when it expires (in the user's time zone), `notify here for prod`, refusals that name the bot's
 * administrators, and Try again on a failure card.
 */
import { SANDBOX_USERS } from '../../src/sandbox/directory';
import { textRuns } from '../support/card-inspection';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  channel,
  GROUP_CHAT,
  MEGAN,
  personalChat,
  startTestBot,
  TENANT,
  type Conversation,
  type TestBot,
  type TestUser,
} from '../support/test-bot';

function sandboxUser(name: string): TestUser {
  return { aadObjectId: SANDBOX_USERS.find((u) => u.name === name)!.oid, name, tenantId: TENANT };
}
/** Dynamics 365 Administrator in the sandbox directory. */
const ADELE = sandboxUser('Adele Vance');
/** Power Platform Administrator in the sandbox directory. */
const PATTI = sandboxUser('Patti Fernandez');
/** A bot administrator the bot has never heard from. */
const SILENT_ADMIN_ID = '7d6c5b4a-3e2f-4a1b-9c8d-7e6f5a4b3c2d';
const GENERAL = channel('19:general@thread.tacv2', '19:team@thread.tacv2');

let bot: TestBot;

beforeAll(async () => {
  bot = await startTestBot({
    env: {
      BOT_ADMIN_IDS: `${ALEX.aadObjectId},${SILENT_ADMIN_ID}`,
      INVOKE_BUDGET_MS: '10000',
    },
  });
});

afterAll(async () => {
  await bot.stop();
});

async function fail(
  user: TestUser,
  conversation: Conversation = personalChat(user),
): Promise<{ requestId: string; card: unknown; messageId: string }> {
  const asked = await bot.say(user, 'elevate me in Fabrikam Security Group', conversation);
  const requestId = actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId as string;
  const click = await bot.click(
    user,
    'elevate',
    { requestId, justification: 'INC-1' },
    { replyToId: asked.calls[0]!.assignedId, conversation },
  );
  return { requestId, card: cardOf(click.body), messageId: asked.calls[0]!.assignedId! };
}

function nextStep(card: unknown): string {
  const runs = textRuns(card);
  return runs[runs.indexOf('What to do: ') + 1]!;
}

describe('security-group advice fits the admin role', () => {
  it('a Dynamics 365 administrator is told the membership rule binds them', async () => {
    const { card } = await fail(ADELE);
    expect(nextStep(card)).toContain(
      "As a Dynamics 365 administrator, you must be a member of the environment's security group",
    );
  });

  it('a Power Platform administrator is not given the Dynamics 365 rule', async () => {
    const { card } = await fail(PATTI);
    expect(nextStep(card)).not.toContain('Dynamics 365');
    expect(nextStep(card)).toContain("ask the environment's owner to add you");
  });
});

describe('the confirmation card says when it expires', () => {
  async function expiryLine(extra: Record<string, unknown>): Promise<{ line: string; at: Date }> {
    const { calls } = await bot.send(ALEX, {
      type: 'message',
      text: 'elevate me in Contoso Dev',
      ...extra,
    });
    const card = cardOf(calls.find((c) => cardOf(c.activity))!.activity);
    const requestId = actionData(card, 'elevate')!.requestId as string;
    const request = await bot.app.service.findRequest(requestId);
    const line = textRuns(card).join('');
    expect(cardText(card)).not.toContain('Valid until');
    return { line, at: new Date(request!.expiresAt) };
  }

  it('in UTC when Teams does not say the time zone', async () => {
    const { line, at } = await expiryLine({});
    const hhmm = at.toISOString().slice(11, 16);
    expect(line).toContain(`This card expires at ${hhmm} UTC; only Alex Wilber can confirm.`);
  });

  it("in the user's time zone when the activity carries localTimezone", async () => {
    // India has no daylight saving time: always UTC+5:30.
    const { line, at } = await expiryLine({ localTimezone: 'Asia/Kolkata' });
    const local = new Date(at.getTime() + 330 * 60_000).toISOString().slice(11, 16);
    expect(line).toContain(`This card expires at ${local} GMT+5:30;`);
  });

  it("in the user's time zone from Teams' clientInfo entity when localTimezone is missing", async () => {
    const { line, at } = await expiryLine({
      entities: [{ type: 'clientInfo', locale: 'en-IN', timezone: 'Asia/Kolkata' }],
    });
    const local = new Date(at.getTime() + 330 * 60_000).toISOString().slice(11, 16);
    expect(line).toContain(`This card expires at ${local} GMT+5:30;`);
  });
});

describe('notify here for prod', () => {
  async function inChannel(user: TestUser, command: string): Promise<string> {
    const { calls } = await bot.say(user, `<at>Elevation</at> ${command}`, GENERAL);
    return textRuns(cardOf(calls[0]!.activity)).join('\n');
  }

  it('is read as the production type, and a near miss is said to be a name pattern', async () => {
    expect(await inChannel(ALEX, 'notify here for prod')).toContain(
      'This channel now gets a card for elevations in production environments',
    );
    const nearMiss = await inChannel(ALEX, 'notify here for produktion');
    expect(nearMiss).toContain('whose name contains "produktion"');
    expect(nearMiss).toContain(
      'I read that as a name pattern, not as an environment type. If you meant production environments, write “@Elevation notify here for production”.',
    );
    expect(await inChannel(ALEX, 'notify off')).toContain('no longer gets');
  });
});

describe('refusals of bot-admin commands say who the bot administrators are', () => {
  it('by name once the bot has heard from them, else how to find out; never by object id', async () => {
    // A fresh bot: it has heard from nobody yet.
    const fresh = await startTestBot({
      env: { BOT_ADMIN_IDS: `${ALEX.aadObjectId},${SILENT_ADMIN_ID}` },
    });
    try {
      const refusal = async (command: string, conversation: Conversation) => {
        const { calls } = await fresh.say(MEGAN, command, conversation);
        return textRuns(cardOf(calls[0]!.activity)).join('\n');
      };
      const before = await refusal('<at>Elevation</at> notify here', GENERAL);
      expect(before).toContain('Sorry, you cannot do that');
      expect(before).toContain('ask whoever runs the bot in your organisation who they are');

      await fresh.say(ALEX, 'help');
      for (const text of [
        await refusal('<at>Elevation</at> notify here', GENERAL),
        await refusal('<at>Elevation</at> notify off', GENERAL),
        await refusal('audit Contoso Dev', personalChat(MEGAN)),
      ]) {
        expect(text).toContain(
          "The bot's administrators: Alex Wilber, and 1 more the bot has not met yet.",
        );
        expect(text).not.toContain(ALEX.aadObjectId);
        expect(text).not.toContain(SILENT_ADMIN_ID);
      }
    } finally {
      await fresh.stop();
    }
  });
});

describe('Try again on a failure card', () => {
  it('opens a fresh request for the same environment, for the requester only', async () => {
    const failed = await fail(ALEX, GROUP_CHAT);
    expect(actionData(failed.card, 'try-again')).toEqual({ requestId: failed.requestId });

    // Someone else in the group chat: told so, nothing opened.
    const other = await bot.click(
      MEGAN,
      'try-again',
      { requestId: failed.requestId },
      { conversation: GROUP_CHAT },
    );
    expect(other.body.value).toBe(
      'Only Alex Wilber can try this again. To elevate yourself, ask me yourself.',
    );
    expect(other.calls.filter((c) => c.method === 'POST')).toHaveLength(0);

    const again = await bot.click(
      ALEX,
      'try-again',
      { requestId: failed.requestId },
      { conversation: GROUP_CHAT, replyToId: failed.messageId },
    );
    expect(again.status).toBe(200);
    // The failure card stays, with its correlation id; the new card is a message of its own.
    expect(cardOf(again.body)).toEqual(failed.card);
    const posted = again.calls.filter((c) => c.method === 'POST');
    expect(posted).toHaveLength(1);
    const confirmation = cardOf(posted[0]!.activity);
    expect(cardText(confirmation)).toContain('Confirm elevation');
    const newId = actionData(confirmation, 'elevate')!.requestId as string;
    expect(newId).not.toBe(failed.requestId);

    const fresh = await bot.app.service.findRequest(newId);
    const old = await bot.app.service.findRequest(failed.requestId);
    expect(fresh).toMatchObject({
      state: 'requested',
      requester: { aadObjectId: ALEX.aadObjectId },
    });
    expect(fresh!.environment.id).toBe(old!.environment.id);
    expect(old!.state).toBe('failed');
    // The new card is remembered as the new request's card (so Elevate updates it for everyone).
    expect(fresh!.cardMessageId).toBe(posted[0]!.assignedId);

    // Only a failure is tried again: a crafted click on the waiting request opens nothing.
    const crafted = await bot.click(
      ALEX,
      'try-again',
      { requestId: newId },
      { conversation: GROUP_CHAT },
    );
    expect(crafted.calls.filter((c) => c.method === 'POST')).toHaveLength(0);
    expect(cardText(cardOf(crafted.body))).toContain('Waiting for confirmation');
  });
});
