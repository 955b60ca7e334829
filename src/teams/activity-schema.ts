/**
 * What the bot accepts from Teams, as schemas (zod), checked at the HTTP boundary before
 * botbuilder or any handler reads the activity: a field of the wrong type (a number for `text`,
 * an object for a tenant id, an invoke value of the wrong shape) is answered with a clear 400,
 * instead of a TypeError deep in a turn. Each schema lists only the fields the bot reads; anything
 * else passes through untouched, and the activity handed on is the one received, not a copy.
 *
 * Optional fields accept null as well as absence: the handlers treat both as "not said".
 *
 * Invokes and what they are answered:
 * - `adaptiveCard/action`, `signin/tokenExchange`, `signin/verifyState`: handled; a value of the
 *   wrong shape is answered 400 in the body shape Teams reads for that invoke (for a card action,
 *   an `application/vnd.microsoft.error` response, as botbuilder answers a malformed one).
 * - `signin/failure`: Teams telling that its silent sign-in failed on the client; answered 200 (a
 *   notification: nothing for Teams to show), and logged (token-exchange.ts).
 * - Any other invoke (message extensions, task modules, tabs, config, file consent, no name, an
 *   unknown name): botbuilder's answer, 501 Not Implemented, which is what it answers for features
 *   a bot does not implement; the app manifest declares none of them.
 */
import { z } from 'zod';

/** Optional text: a string, or absent or null. */
const optionalText = z.string().nullish();

const account = z.object({ id: z.string(), name: optionalText, aadObjectId: optionalText });

const withId = z.object({ id: optionalText }).nullish();

const activity = z.object({
  type: z.string().min(1),
  serviceUrl: z.string().regex(/^https?:\/\//i, 'must be an http(s) URL'),
  id: optionalText,
  name: optionalText,
  text: optionalText,
  action: optionalText,
  replyToId: optionalText,
  from: account,
  recipient: account.nullish(),
  conversation: z.object({
    id: z.string(),
    tenantId: optionalText,
    conversationType: optionalText,
  }),
  channelData: z
    .object({ tenant: withId, team: withId, channel: withId, eventType: optionalText })
    .nullish(),
  entities: z.array(z.object({ type: optionalText })).nullish(),
  membersAdded: z.array(account).nullish(),
  membersRemoved: z.array(account).nullish(),
});

/** The value of each invoke the bot handles. */
const invokeValues = {
  'adaptiveCard/action': z.object({
    action: z.object({
      type: z.string(),
      verb: z.string(),
      data: z.record(z.unknown()).nullish(),
    }),
    authentication: z.object({ id: optionalText, token: optionalText }).nullish(),
  }),
  'signin/tokenExchange': z.object({
    id: z.string().min(1),
    token: z.string().min(1),
    connectionName: optionalText,
  }),
  'signin/verifyState': z.object({ state: z.union([z.string(), z.number()]).nullish() }),
  'signin/failure': z.object({ code: optionalText, message: optionalText }),
} as const;

type HandledInvoke = keyof typeof invokeValues;

/** What to answer over HTTP instead of processing the activity. */
export interface Refusal {
  status: 400;
  body: unknown;
}

/** Where and how a value failed, in words, without the value itself (it may be a token). */
function describe(error: z.ZodError, prefix = ''): string {
  const issue = error.issues[0]!;
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || 'the body';
  if (issue.code === 'invalid_type') {
    if (issue.received === 'undefined') return `"${path}" is missing`;
    const article = /^[aeiou]/.test(issue.expected) ? 'an' : 'a';
    return `"${path}" must be ${article} ${issue.expected}, not ${issue.received}`;
  }
  if (issue.code === 'too_small') return `"${path}" must not be empty`;
  if (issue.code === 'invalid_string') return `"${path}" must be an http(s) URL`;
  return `"${path}" is not valid`;
}

function isHandledInvoke(name: unknown): name is HandledInvoke {
  return typeof name === 'string' && Object.hasOwn(invokeValues, name);
}

/**
 * Checks a posted activity; undefined when the bot may process it, else the 400 to answer (in
 * the shape its sender reads).
 */
export function refuseMalformedActivity(body: unknown): Refusal | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      status: 400,
      body: { error: 'Not a Bot Framework activity: the body must be a JSON object.' },
    };
  }
  const checked = activity.safeParse(body);
  const name = (body as { name?: unknown }).name;
  const invoke = (body as { type?: unknown }).type === 'invoke' && isHandledInvoke(name);
  let problem = checked.success ? undefined : describe(checked.error);
  if (!problem && invoke) {
    const value = invokeValues[name].safeParse((body as { value?: unknown }).value);
    if (!value.success) problem = describe(value.error, 'value');
  }
  if (!problem) return undefined;
  const message = `Not a valid activity: ${problem}.`;
  if (!invoke) return { status: 400, body: { error: message } };
  if (name === 'adaptiveCard/action') {
    return {
      status: 400,
      body: {
        statusCode: 400,
        type: 'application/vnd.microsoft.error',
        value: { code: 'BadRequest', message },
      },
    };
  }
  if (name === 'signin/tokenExchange') {
    const id = (body as { value?: { id?: unknown } }).value?.id;
    return { status: 400, body: { id: typeof id === 'string' ? id : '', failureDetail: message } };
  }
  return { status: 400, body: { error: message } };
}
