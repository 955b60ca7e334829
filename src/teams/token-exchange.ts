/**
 * Teams' silent sign-in: the `signin/tokenExchange` invoke, the token an Adaptive Card action
 * carries after a loginRequest, and the `signin/verifyState` and `signin/failure` notices. Every
 * Teams client of a user sends its own exchange with the same id: each gets an answer, one is
 * acted on.
 *
 * The exchange is claimed only after its token was accepted, and per user: a claim taken before
 * the check would let a garbage exchange use up the id (the real one would then be dropped and
 * the waiting command never continue), and a claim without the user would let one member's
 * exchange in a group chat swallow another's. Checking first costs a second validation (and
 * on-behalf-of exchange, which msal usually serves from its cache) when two clients of one user
 * send valid tokens; the claim, atomic in the store, still lets exactly one of them, on whichever
 * instance, continue the command.
 */
import type { AdaptiveCardInvokeResponse, InvokeResponse, TurnContext } from 'botbuilder';
import type { SignInRefusals, SignInRefusal } from '../elevation/sign-in-refusals';
import type { ElevationStore, SignIn, SignInResult } from '../elevation/ports';
import type { Requester } from '../elevation/request';
import type { Logger } from '../log';
import {
  EXCHANGE_WITHOUT_TOKEN,
  invokeResponse,
  messageResponse,
  SIGN_IN_NOT_SET_UP,
  signInRefusedInChat,
  signInRefusedOnClick,
  TENANT_NOT_ALLOWED,
} from './replies';
import { type PendingCommands, signInCard, type SignInPromptOptions } from './sign-in-prompt';

/** How long a token exchange id is remembered for deduplication. */
const EXCHANGE_DEDUP_MS = 15 * 60_000;

export interface TeamsSignInOptions {
  /** Absent where sign-in is not set up. */
  signIn?: SignIn;
  /** Where refused tokens are counted and audited. */
  refusals?: SignInRefusals;
  logger: Logger;
}

/** Signs a user in with a token Teams sent, and reports a refused token to the audit. */
export class TeamsSignIn {
  constructor(private readonly options: TeamsSignInOptions) {}

  async signIn(
    context: TurnContext,
    token: string,
    requester: Requester,
    via: SignInRefusal['via'],
  ): Promise<SignInResult> {
    if (!this.options.signIn) return { ok: false, reason: 'error', message: SIGN_IN_NOT_SET_UP };
    const result = await this.options.signIn.signIn(token, requester);
    if (!result.ok && result.reason === 'invalid-token' && this.options.refusals) {
      const { conversation } = context.activity;
      // The refusal was already told to the user; its audit must not turn it into an error.
      await this.options.refusals
        .record({
          user: requester,
          check: result.check ?? 'invalid-token',
          conversation: { id: conversation.id, type: conversation.conversationType },
          via,
        })
        .catch((error: unknown) =>
          this.options.logger.error('could not record a refused sign-in', { error }),
        );
    }
    return result;
  }
}

export interface TokenExchangeOptions {
  signIn: TeamsSignIn;
  /** Records exchanges so that each is acted on once; shared by all instances. */
  exchanges: Pick<ElevationStore, 'claimOnce'>;
  pendingCommands: PendingCommands;
  /** Runs the command that waited for the sign-in. */
  continueCommand: (context: TurnContext, requester: Requester, text: string) => Promise<void>;
}

/**
 * Answers one `signin/tokenExchange`. `requester` is who sent it (undefined when Teams did not
 * say), `allowed` whether their tenant may use the bot. 412 only when Entra needs the user's
 * consent or interaction; anything else is an error told to the user, not a consent loop.
 */
export async function answerTokenExchange(
  context: TurnContext,
  requester: Requester | undefined,
  allowed: boolean,
  options: TokenExchangeOptions,
): Promise<InvokeResponse> {
  const value = (context.activity.value ?? {}) as { id?: string; token?: string };
  const id = typeof value.id === 'string' ? value.id : '';
  if (!value.token || !requester) {
    return invokeResponse(400, { id, failureDetail: EXCHANGE_WITHOUT_TOKEN });
  }
  if (!allowed) return invokeResponse(403, { id, failureDetail: TENANT_NOT_ALLOWED });
  const signedIn = await options.signIn.signIn(
    context,
    value.token,
    requester,
    'signin/tokenExchange',
  );
  if (!signedIn.ok) {
    if (signedIn.reason === 'consent-required' || signedIn.reason === 'interaction-required') {
      return invokeResponse(412, { id, failureDetail: signedIn.message });
    }
    await context.sendActivity(signInRefusedInChat(signedIn.message));
    return invokeResponse(500, { id, failureDetail: signedIn.message });
  }
  const { channelId, conversation } = context.activity;
  const first = await options.exchanges.claimOnce(
    `token-exchange/${channelId}/${conversation.id}/${requester.aadObjectId.toLowerCase()}/${id}`,
    new Date(Date.now() + EXCHANGE_DEDUP_MS),
  );
  if (first) {
    const pending = await options.pendingCommands.take(conversation.id, requester.aadObjectId);
    if (pending) await options.continueCommand(context, requester, pending);
  }
  return invokeResponse(200, { id, failureDetail: '' });
}

/**
 * A card action that came back after a loginRequest, carrying the user's SSO token: the sign-in
 * comes first. Undefined when it succeeded (the action goes on); else the answer, 412 only when
 * Entra needs the user's consent or interaction (Teams then shows its consent popup).
 */
export async function signInFromAction(
  signIn: TeamsSignIn,
  context: TurnContext,
  token: string,
  requester: Requester,
): Promise<AdaptiveCardInvokeResponse | undefined> {
  const signedIn = await signIn.signIn(context, token, requester, 'adaptiveCard/action');
  if (signedIn.ok) return undefined;
  return signedIn.reason === 'consent-required' || signedIn.reason === 'interaction-required'
    ? {
        statusCode: 412,
        type: 'application/vnd.microsoft.error.preconditionFailed',
        value: { code: '412', message: signedIn.message },
      }
    : messageResponse(signInRefusedOnClick(signedIn.message));
}

/** After the consent popup (`signin/verifyState`): the silent exchange is offered again. */
export async function answerVerifyState(
  context: TurnContext,
  prompt: SignInPromptOptions,
): Promise<InvokeResponse> {
  await context.sendActivity({ attachments: [signInCard(prompt)] });
  return invokeResponse(200);
}

/**
 * Teams' silent sign-in failed in the client (`signin/failure`, e.g. `resourcematchfailed`: the
 * app's SSO setup): a notification, logged and answered 200 (activity-schema.ts lists every
 * invoke's answer).
 */
export function noteSignInFailure(context: TurnContext, logger: Logger): InvokeResponse {
  const { code, message } = (context.activity.value ?? {}) as Record<string, unknown>;
  logger.warn('Teams reported a failed sign-in', { code, message });
  return invokeResponse(200);
}
