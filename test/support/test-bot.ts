/**
 * Starts the real bot (restify server, CloudAdapter, SQLite file) against the simulated Power
 * Platform API and a connector stub, all over real HTTP, and speaks to it as Teams would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, createStore, startApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { Clock, UserTokens } from '../../src/elevation/ports';
import { createLogger } from '../../src/log';
import type { Policy } from '../../src/policy/policy';
import {
  type DataverseSimulator,
  startDataverseSimulatorFor,
} from '../../src/sandbox/dataverse-simulator';
import { SANDBOX_TENANT_ID } from '../../src/sandbox/directory';
import { type SandboxIdentity, startSandboxIdentity } from '../../src/sandbox/sandbox-sign-in';
import {
  type PowerPlatformSimulator,
  startPowerPlatformSimulator,
} from '../../src/sandbox/power-platform-simulator';
import { type ConnectorCall, type ConnectorStub, startConnectorStub } from './connector-stub';
import { activityFrom } from './teams-client';

/** The users' tenant: the one the sandbox's sign-in app lives in. */
export const TENANT = SANDBOX_TENANT_ID;

export interface TestUser {
  aadObjectId: string;
  name: string;
  tenantId: string;
}

export const ALEX: TestUser = {
  aadObjectId: '8a2f0c5e-6d1b-4c3e-9f7a-1b2c3d4e5f60',
  name: 'Alex Wilber',
  tenantId: TENANT,
};
export const MEGAN: TestUser = {
  aadObjectId: '5b7e9d1c-3a2f-4e6b-8c0d-9e8f7a6b5c41',
  name: 'Megan Bowen',
  tenantId: TENANT,
};

export interface Conversation {
  id: string;
  conversationType: 'personal' | 'groupChat' | 'channel';
  /** For a channel: the team it belongs to (sent in channelData, as Teams does). */
  teamId?: string;
}

/** A channel of a team; messages in it arrive with `;messageid=` (the thread), as in Teams. */
export function channel(
  channelId: string,
  teamId: string,
  threadId = '1700000000000',
): Conversation {
  return { id: `${channelId};messageid=${threadId}`, conversationType: 'channel', teamId };
}

export const GROUP_CHAT: Conversation = {
  id: '19:group-chat-1@thread.v2',
  conversationType: 'groupChat',
};

export function personalChat(user: TestUser): Conversation {
  return { id: `a:personal-${user.aadObjectId}`, conversationType: 'personal' };
}

/** A clock tests can move forward. */
export class TestClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface TestBotOptions {
  /**
   * Environment variables for the configuration. `TOKEN_CACHE_KEY` (64 hex digits or base64) shares
   * sign-ins through the store, sealed, as in production; with `SQLITE_PATH` two bots can share one
   * store.
   */
  env?: Record<string, string>;
  tokens?: UserTokens;
  /**
   * `silent` (default): the sandbox signs users in by itself. `teams`: only Teams' token exchange
   * signs them in, as in production.
   */
  signIn?: 'silent' | 'teams';
  /** Use this simulator instead of starting one. */
  simulator?: PowerPlatformSimulator;
  /** Use this connector stub instead of starting one (a restart keeps the same Teams). */
  connector?: ConnectorStub;
  /** Trust the identity provider of this other instance (as instances all trust Entra). */
  shareIdentityProviderWith?: TestBot;
  /** Guardrails per environment, as the policy file would give them. */
  policy?: Policy;
}

export interface TestBot {
  app: App;
  /** The SQLite file of the bot's store (undefined on Azure Table Storage); see store-rows.ts. */
  storePath?: string;
  connector: ConnectorStub;
  simulator: PowerPlatformSimulator;
  /** The local identity provider and the production sign-in code pointed at it. */
  identity: SandboxIdentity;
  /** The simulated Dataverse, for the role check. */
  dataverse: DataverseSimulator;
  clock: TestClock;
  /** The clock of sign-in sessions (separate, so that sessions can expire before requests do). */
  signInClock: TestClock;
  logs: string[];
  /** Posts any invoke activity (e.g. signin/tokenExchange); resolves with its HTTP answer. */
  invoke(
    user: TestUser,
    name: string,
    value: unknown,
    conversation?: Conversation,
  ): Promise<{ status: number; body: unknown; calls: ConnectorCall[] }>;
  /** The user writes `text`; resolves with the connector calls the turn caused. */
  say(
    user: TestUser,
    text: string,
    conversation?: Conversation,
  ): Promise<{ status: number; calls: ConnectorCall[] }>;
  /** The user presses an Action.Execute button; resolves with the invoke response. */
  click(
    user: TestUser,
    verb: string,
    data: Record<string, unknown>,
    options?: {
      replyToId?: string;
      conversation?: Conversation;
      /** What Teams adds when it retries an action after a loginRequest. */
      authentication?: { id: string; token: string };
    },
  ): Promise<{
    status: number;
    body: InvokeBody;
    calls: ConnectorCall[];
    /** When the invoke response's headers arrived (performance.now()). */
    answeredAt: number;
  }>;
  /** Posts any activity (installationUpdate, conversationUpdate, ...) from `user`. */
  send(
    user: TestUser,
    activity: Record<string, unknown>,
    conversation?: Conversation,
  ): Promise<{ status: number; calls: ConnectorCall[] }>;
  /** Posts a raw body to /api/messages. */
  post(body: string, contentType?: string): Promise<{ status: number; text: string }>;
  stop(): Promise<void>;
}

export interface InvokeBody {
  statusCode: number;
  type: string;
  value: unknown;
}

function baseActivity(connectorUrl: string, user: TestUser, conversation: Conversation) {
  return activityFrom(user, connectorUrl, conversation);
}

export async function startTestBot(options: TestBotOptions = {}): Promise<TestBot> {
  const dir = mkdtempSync(join(tmpdir(), 'elevation-bot-'));
  const simulator =
    options.simulator ?? (await startPowerPlatformSimulator({ port: 0, host: '127.0.0.1' }));
  const connector = options.connector ?? (await startConnectorStub());
  const clock = new TestClock();
  const logs: string[] = [];
  const config = loadConfig({
    SANDBOX: 'true',
    PORT: '0',
    SQLITE_PATH: join(dir, 'bot.db'),
    POWERPLATFORM_API_URL: simulator.url,
    // As in the sandbox: the sign-in app's tenant, the one allowed by default.
    AAD_APP_TENANT_ID: TENANT,
    ...options.env,
  });
  const signInClock = new TestClock();
  // The store first, as in production: the sign-in keeps sessions and token caches in it.
  const store = await createStore(config);
  const identity = await startSandboxIdentity({
    powerPlatformApiUrl: config.powerPlatform.apiUrl,
    allowedTenantIds: config.allowedTenantIds,
    logger: createLogger({ level: 'debug', sink: (line) => logs.push(line) }),
    clock: signInClock,
    store,
    tokenCacheKey: config.tokenCacheKey,
    shareProviderWith: options.shareIdentityProviderWith?.identity,
  });
  const signIn = options.signIn === 'teams' ? identity.delegated : identity.signIn;
  const dataverse = await startDataverseSimulatorFor(simulator);
  const app = await startApp(config, {
    tokens: options.tokens ?? signIn,
    signIn,
    later: identity.laterTokens,
    dataverseUrlFor: dataverse.instanceUrlFor,
    // Tests run the time box clock themselves (app.timeBoxes.runner.run()) after moving `clock`.
    timeBoxPollMs: 3_600_000,
    logger: createLogger({ level: 'debug', sink: (line) => logs.push(line) }),
    clock,
    store,
    expirySweepMs: 3_600_000,
    policy: options.policy,
  });

  const postJson = async (body: unknown) => {
    const response = await fetch(`${app.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answeredAt = performance.now();
    const text = await response.text();
    return { status: response.status, text, answeredAt };
  };

  return {
    app,
    storePath: config.storage.kind === 'sqlite' ? config.storage.path : undefined,
    connector,
    simulator,
    identity,
    dataverse,
    clock,
    signInClock,
    logs,
    async invoke(user, name, value, conversation = personalChat(user)) {
      const before = connector.calls.length;
      const { status, text } = await postJson({
        ...baseActivity(connector.url, user, conversation),
        type: 'invoke',
        name,
        value,
      });
      return {
        status,
        body: text ? (JSON.parse(text) as unknown) : undefined,
        calls: connector.calls.slice(before),
      };
    },
    async say(user, text, conversation = personalChat(user)) {
      const before = connector.calls.length;
      const { status } = await postJson({
        ...baseActivity(connector.url, user, conversation),
        type: 'message',
        text,
      });
      // Typing indicators are not content; tests read what the user would read.
      return {
        status,
        calls: connector.calls.slice(before).filter((c) => c.activity.type !== 'typing'),
      };
    },
    async click(user, verb, data, clickOptions = {}) {
      const before = connector.calls.length;
      const { status, text, answeredAt } = await postJson({
        ...baseActivity(connector.url, user, clickOptions.conversation ?? personalChat(user)),
        type: 'invoke',
        name: 'adaptiveCard/action',
        replyToId: clickOptions.replyToId,
        value: {
          action: { type: 'Action.Execute', verb, data },
          trigger: 'manual',
          ...(clickOptions.authentication ? { authentication: clickOptions.authentication } : {}),
        },
      });
      return {
        status,
        body: (text ? JSON.parse(text) : {}) as InvokeBody,
        calls: connector.calls.slice(before),
        answeredAt,
      };
    },
    async send(user, activity, conversation = personalChat(user)) {
      const before = connector.calls.length;
      const { status } = await postJson({
        ...baseActivity(connector.url, user, conversation),
        ...activity,
      });
      return { status, calls: connector.calls.slice(before) };
    },
    async post(body, contentType = 'application/json') {
      const response = await fetch(`${app.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      });
      return { status: response.status, text: await response.text() };
    },
    async stop() {
      await app.stop();
      // startApp leaves a store it was given open.
      await store.close();
      await dataverse.stop();
      await identity.stop();
      if (!options.connector) await connector.stop();
      if (!options.simulator) await simulator.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Adaptive Card of a connector call (or invoke response), if it carries one. */
export function cardOf(activityOrBody: unknown): Record<string, unknown> | undefined {
  const value = activityOrBody as {
    attachments?: Array<{ contentType: string; content: unknown }>;
    type?: string;
    value?: unknown;
  };
  if (value?.type === 'application/vnd.microsoft.card.adaptive')
    return value.value as Record<string, unknown>;
  const attachment = value?.attachments?.find(
    (a) => a.contentType === 'application/vnd.microsoft.card.adaptive',
  );
  return attachment?.content as Record<string, unknown> | undefined;
}

/** All the text a person would read on a card, in order, one string. */
export function cardText(card: unknown): string {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const element = node as Record<string, unknown>;
    for (const key of ['text', 'title', 'label', 'value', 'placeholder']) {
      if (
        typeof element[key] === 'string' &&
        !(key === 'value' && element.type === 'Input.ChoiceSet')
      )
        out.push(element[key] as string);
    }
    for (const [key, child] of Object.entries(element)) {
      if (key !== 'data' && typeof child === 'object') walk(child);
    }
  };
  walk(card);
  return out.join('\n');
}

/** The data of the card's first Action.Execute with this verb, in its actions or in its body. */
export function actionData(card: unknown, verb: string): Record<string, unknown> | undefined {
  return executeActions(card).find((a) => a.verb === verb)?.data;
}

/** Every Action.Execute on a card, card actions first, then those in the body's ActionSets. */
export function executeActions(
  card: unknown,
): Array<{ title?: string; verb?: string; data?: Record<string, unknown> }> {
  const found: Array<{ title?: string; verb?: string; data?: Record<string, unknown> }> = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const element = node as Record<string, unknown>;
    if (element.type === 'Action.Execute') found.push(element);
    for (const [key, child] of Object.entries(element)) if (key !== 'data') walk(child);
  };
  const root = card as { actions?: unknown; body?: unknown } | undefined;
  walk(root?.actions);
  walk(root?.body);
  return found;
}
