/**
 * Composition root: config -> store -> clients -> services -> bot -> server. index.ts (production)
 * and the sandbox both start the bot through here, so they run the same code.
 */
import type restify from 'restify';
import type { Config } from './config';
import { ElevationService } from './elevation/elevation-service';
import {
  type Clock,
  type SignIn,
  type ElevationStore,
  type LaterTokens,
  type PowerPlatform,
  systemClock,
  type UserTokens,
} from './elevation/ports';
import { HttpClient } from './http/http-client';
import { createLogger, type Logger } from './log';
import { loadPolicy } from './policy/policy-file';
import { DataverseClient } from './powerplatform/dataverse-client';
import { PowerPlatformClient } from './powerplatform/power-platform-client';
import { registerConsentPages } from './consent-pages';
import { createServer, listen } from './server';
import { openStore } from './store/open-store';
import { continueConversation, createAdapter } from './teams/adapter';
import { ElevationBot } from './teams/elevation-bot';
import type { ElevationBotOptions } from './teams/bot-options';
import { type ExpirySweeper, startExpirySweeper } from './teams/expiry-sweeper';
import { NotificationDispatcher } from './elevation/notification-dispatcher';
import { SubscriptionService } from './elevation/subscription-service';
import { SignInRefusals } from './elevation/sign-in-refusals';
import { createChannelSender } from './teams/channel-sender';
import { ConversationTracker } from './teams/conversation-tracker';
import { welcomeText } from './teams/help';
import { TimeBoxService } from './elevation/time-boxes';
import { ApprovalService } from './elevation/approvals';
import { createApprovalMessenger } from './teams/approval-messenger';
import { startTimeBoxRunner, type TimeBoxRunner } from './teams/time-box-runner';
import type { Policy } from './policy/policy';
import { StepUpSignIn, type StepUpTokenSource } from './identity/step-up-sign-in';
import { registerStepUpPages } from './step-up-pages';
import { continueAfterStepUp } from './teams/step-up-continuation';

export interface AppDependencies {
  /** Delegated Power Platform tokens of the user (Teams SSO + OBO, or the sandbox's source). */
  tokens: UserTokens;
  /** Turns Teams SSO tokens into delegated tokens (usually the same object as `tokens`). */
  signIn?: SignIn;
  logger?: Logger;
  clock?: Clock;
  /** Replaces the store the config names (tests share one between instances). */
  store?: ElevationStore;
  /** Replaces the HTTP Power Platform client (only where no HTTP API can exist). */
  powerPlatform?: PowerPlatform;
  /** How often expired cards are looked for. */
  expirySweepMs?: number;
  /** Where a real Dataverse instance URL is served (the sandbox's Dataverse simulator). */
  dataverseUrlFor?: (instanceUrl: string) => string;
  /**
   * The user's tokens while they are away, to remove the role at the end of a time-boxed
   * elevation; without them (or with ELEVATION_TIME_BOX off) elevations are not time-boxed.
   */
  later?: LaterTokens;
  /** The longest the time box clock sleeps between two looks at the store. */
  timeBoxPollMs?: number;
  /** Step-up MFA sign-ins (/step-up); without them a rule asking for step-up cannot be met. */
  stepUp?: StepUpTokenSource;
  /** Guardrails per environment, when given as an object (tests) rather than a file. */
  policy?: Policy;
}

export interface App {
  /** Base URL the bot listens on, e.g. http://127.0.0.1:3978. */
  url: string;
  server: restify.Server;
  service: ElevationService;
  store: ElevationStore;
  sweeper: ExpirySweeper;
  /** Time-boxed elevation and its clock; absent when time-boxing is off. */
  timeBoxes?: { service: TimeBoxService; runner: TimeBoxRunner };
  /** Delivers channel notifications from the outbox. */
  dispatcher: NotificationDispatcher;
  stop(): Promise<void>;
}

/** The store the configuration names (SQLite file or Azure Table Storage), created if missing. */
export function createStore(config: Config): Promise<ElevationStore> {
  return openStore(config.storage);
}

export async function startApp(config: Config, deps: AppDependencies): Promise<App> {
  const logger = deps.logger ?? createLogger({ level: config.logLevel });
  // A broken policy file stops the start here, with one line (a PolicyError), before anything runs.
  const policy =
    deps.policy ??
    loadPolicy(config.elevation.policyFile, {
      defaultMinutes: config.elevation.defaultMinutes,
      maxMinutes: config.elevation.maxMinutes,
      justificationRequired: config.elevation.justificationRequired,
    });
  const clock = deps.clock ?? systemClock;
  const store = deps.store ?? (await createStore(config));
  const powerPlatform =
    deps.powerPlatform ??
    new PowerPlatformClient({
      baseUrl: config.powerPlatform.apiUrl,
      apiVersion: config.powerPlatform.apiVersion,
      http: new HttpClient({
        logger: logger.child({ component: 'http' }),
        attemptTimeoutMs: config.powerPlatform.attemptTimeoutMs,
        totalTimeoutMs: config.powerPlatform.totalTimeoutMs,
      }),
      logger: logger.child({ component: 'powerplatform' }),
    });
  const adapter = createAdapter({
    botId: config.bot.id,
    botPassword: config.bot.password,
    botType: config.bot.type,
    botTenantId: config.bot.tenantId,
    logger: logger.child({ component: 'adapter' }),
  });
  const dispatcher = new NotificationDispatcher({
    store,
    sender: createChannelSender(adapter, config.bot.id),
    clock,
    logger: logger.child({ component: 'notifications' }),
    ...config.notifications,
  });
  // One client for the role check and the removal: 5 s per attempt, 8 s in all.
  const dataverse = config.elevation.dataverseRoleCheck
    ? new DataverseClient({
        http: new HttpClient({
          logger: logger.child({ component: 'dataverse' }),
          attemptTimeoutMs: 5_000,
          totalTimeoutMs: 8_000,
        }),
        logger: logger.child({ component: 'dataverse' }),
        rewriteInstanceUrl: deps.dataverseUrlFor,
      })
    : undefined;
  const timeBoxService =
    config.elevation.timeBox && deps.later && dataverse
      ? new TimeBoxService({
          store,
          tokens: deps.tokens,
          later: deps.later,
          removal: dataverse,
          clock,
          logger: logger.child({ component: 'time-boxes' }),
          notifier: dispatcher,
          defaultMinutes: config.elevation.defaultMinutes,
          maxMinutes: config.elevation.maxMinutes,
          reminderMinutes: config.elevation.reminderMinutes,
          // A token refresh and three Dataverse calls, each within its time limit, and a margin.
          removalLeaseMs: config.elevation.removalLeaseSeconds * 1000,
          retryBaseMs: 60_000,
          retryMaxMs: 30 * 60_000,
        })
      : undefined;
  if (config.elevation.timeBox && !timeBoxService) {
    logger.warn('time-boxed elevation is off: no way to act as the user later was given');
  }
  const continueIn: ElevationBotOptions['continueInConversation'] = (reference, logic) =>
    continueConversation(adapter, config.bot.id, reference, logic);
  const approvals: ApprovalService = new ApprovalService({
    store,
    clock,
    logger: logger.child({ component: 'approvals' }),
    notifier: dispatcher,
    requestTtlMinutes: config.elevation.requestTtlMinutes,
    // The rule's terms, as Elevate checks them (the service is made just below).
    terms: (request, justification, minutes) =>
      service.guardrails.atConfirm(request, justification, minutes),
    messenger: createApprovalMessenger({
      store,
      logger: logger.child({ component: 'approvals' }),
      continueInConversation: continueIn,
    }),
  });
  // Where the bot is reached: BOT_DOMAIN, else the address it listens on (known once it does).
  const publicBaseUrl = config.bot.domain ? `https://${config.bot.domain}` : undefined;
  let url = '';
  const stepUp =
    deps.stepUp &&
    new StepUpSignIn({
      store,
      tokens: deps.stepUp,
      baseUrl: () => publicBaseUrl ?? url,
      clock,
      logger: logger.child({ component: 'step-up' }),
      onSteppedUp: (requestId) =>
        void continueAfterStepUp(
          {
            service,
            logger: logger.child({ component: 'step-up' }),
            continueInConversation: continueIn,
            extendMinutes: timeBoxService?.settings.defaultMinutes,
          },
          requestId,
        ),
    });
  const service: ElevationService = new ElevationService({
    stepUp,
    approvals,
    notifier: dispatcher,
    // The API call's own time limit, the Dataverse checks around it, and a margin.
    executionLeaseMs:
      config.powerPlatform.totalTimeoutMs +
      (config.elevation.dataverseRoleCheck ? 20_000 : 0) +
      5_000,
    store,
    powerPlatform,
    tokens: deps.tokens,
    clock,
    logger: logger.child({ component: 'elevation' }),
    requestTtlMinutes: config.elevation.requestTtlMinutes,
    justificationRequired: config.elevation.justificationRequired,
    environmentCacheSeconds: config.elevation.environmentCacheSeconds,
    roleLookup: dataverse,
    timeBoxes: timeBoxService,
    policy,
  });
  const signInRefusals = new SignInRefusals({
    store,
    notifier: dispatcher,
    clock,
    logger: logger.child({ component: 'sign-in-refusals' }),
  });
  if (config.notifications.adminIds.length === 0) {
    logger.warn('BOT_ADMIN_IDS is empty: nobody can subscribe a channel to notifications');
  }
  if (config.allowedTenantIds.length === 0) {
    logger.warn('ALLOWED_TENANT_IDS is *: users of any Entra tenant may use this bot');
  }
  const bot = new ElevationBot({
    subscriptions: new SubscriptionService({
      store,
      clock,
      logger: logger.child({ component: 'subscriptions' }),
      adminIds: config.notifications.adminIds,
    }),
    tracker: new ConversationTracker({
      store,
      logger: logger.child({ component: 'conversations' }),
      welcome: welcomeText(),
    }),
    service,
    approvals,
    timeBoxes: timeBoxService,
    logger: logger.child({ component: 'bot' }),
    justificationRequired: config.elevation.justificationRequired,
    allowedTenantIds: config.allowedTenantIds,
    botAdminIds: config.notifications.adminIds,
    signIn: deps.signIn,
    signInRefusals,
    exchanges: store,
    invokeBudgetMs: config.elevation.invokeBudgetMs,
    continueInConversation: continueIn,
    signInPrompt: {
      botId: config.bot.id,
      signInUrl: config.bot.domain ? `https://${config.bot.domain}/auth-start.html` : undefined,
    },
  });
  const server = createServer({
    logger: logger.child({ component: 'server' }),
    processActivity: (req, res) => adapter.process(req, res, (context) => bot.run(context)),
    health: () => ({ mode: config.mode }),
    // The consent fallback Teams opens when silent sign-in needs the user.
    routes: (routes) => {
      registerConsentPages(routes, {
        authorizeEndpoint: `${config.aad.authorityHost}/${config.aad.tenantId ?? 'organizations'}/oauth2/v2.0/authorize`,
        clientId: config.aad.clientId,
        scopes: [`${config.powerPlatform.apiUrl}/.default`],
        publicBaseUrl,
      });
      if (stepUp) registerStepUpPages(routes, stepUp, logger.child({ component: 'step-up' }));
    },
  });
  const sweeper = startExpirySweeper({
    service,
    adapter,
    botId: config.bot.id,
    logger: logger.child({ component: 'expiry' }),
    intervalMs: deps.expirySweepMs,
    clock,
    maintain: async () => {
      const now = clock.now();
      const days = config.auditRetentionDays;
      const before = days > 0 ? new Date(now.getTime() - days * 86_400_000) : new Date(0);
      await store.purgeExpired(now, before);
      // Final counts of refused sign-ins whose window is over.
      await signInRefusals.closeEndedWindows();
      if (days > 0) {
        const removed = await store.pruneAudit(before);
        if (removed > 0) logger.info('audit retention: removed old events', { removed, days });
      }
    },
  });
  const timeBoxes = timeBoxService && {
    service: timeBoxService,
    // Once at start too: removals that fell due while the bot was down happen now.
    runner: startTimeBoxRunner({
      timeBoxes: timeBoxService,
      adapter,
      botId: config.bot.id,
      logger: logger.child({ component: 'time-boxes' }),
      pollMs: deps.timeBoxPollMs,
    }),
  };
  url = await listen(server, config.port, config.host);
  // Undelivered notifications from before a restart go out now.
  dispatcher.start();
  logger.info('bot listening', { url, mode: config.mode, policy: policy.source });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      sweeper.stop();
      timeBoxes?.runner.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // What removes a role at its end is not dropped by a restart right after the grant.
      await timeBoxes?.service.drain();
      // Token caches written behind the answers, before the store is closed.
      await deps.tokens.settled?.();
      await dispatcher.stop();
      if (!deps.store) await store.close();
    })());
  return { url, server, service, store, sweeper, timeBoxes, dispatcher, stop };
}
