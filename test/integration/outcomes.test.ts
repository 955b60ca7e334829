/**
 * Every applyAdminRole outcome, end to end: "elevate me in Contoso Dev", the simulated Power Platform
 * API told how to answer (an override scoped to applyAdminRole in that environment), Elevate
 * pressed, and then what the user reads on the card, what the store recorded and how many times the
 * API was called (retries included).
 *
 * Retry policy (src/http/http-client.ts DEFAULTS): at most 4 attempts; network errors, 429, 502,
 * 503 and 504 are retried after a backoff of 100-200, 200-400 and 400-800 ms (equal jitter on
 * 200 ms doubling), never sooner than a Retry-After of at most 10 s asks; a total deadline of 25 s.
 * No other status is retried. So the expected number of calls is 1 for anything not retryable and
 * 4 for a retryable answer that never changes (all waits here stay far below the 25 s deadline).
 */
import { clockIn } from '../../src/teams/cards/local-time';
import { SUPPORTED_API_VERSIONS } from '../../src/sandbox/power-platform-simulator/responses';
import {
  type CallerClaims,
  decodeJwtClaims,
  defaultSeed,
  NOT_TENANT_ADMIN_MESSAGE,
  type PowerPlatformSimulator,
  type RecordedCall,
  startPowerPlatformSimulator,
  WELL_KNOWN,
} from '../../src/sandbox/power-platform-simulator';
import type { FailureKind } from '../../src/elevation/vocabulary';
import type { RequestState } from '../../src/elevation/request';
import { textRuns } from '../support/card-inspection';
import type { ConnectorCall } from '../support/connector-stub';
import {
  actionData,
  executeActions,
  ALEX,
  cardOf,
  cardText,
  personalChat,
  startTestBot,
  type TestBot,
} from '../support/test-bot';
import { waitFor } from '../support/wait-for';

const CONTOSO_DEV = WELL_KNOWN.contosoDev;
const CONTOSO_DEV_GROUP = defaultSeed().find((e) => e.id === CONTOSO_DEV.id)!.securityGroupId!;
/** PowerPlatformClient's DEFAULTS.maxRawBodyChars, plus room for its "…[truncated, N characters]". */
const MAX_RAW_BODY = 8 * 1024 + 64;
/** An api-version the bot is configured with in the "retired version" case. */
const RETIRED_API_VERSION = '2023-06-01';

/** A success is time-boxed: the card says when the role goes and how to end or extend it. */
const TIME_BOXED =
  /^The role is removed at \d\d:\d\d UTC\. Press I'm done when finished, or Extend for longer\.$/;

interface OutcomeCase {
  name: string;
  /** x-sim-behavior for applyAdminRole in Contoso Dev; absent: the seeded answer (a grant). */
  behavior?: string;
  /**
   * Changes the caller the simulator sees on applyAdminRole (set after the environment list was
   * read); returning undefined makes the simulator refuse the token with a 401.
   */
  caller?: (claims: CallerClaims) => CallerClaims | undefined;
  /** The bot asks with RETIRED_API_VERSION, which the API stops accepting before Elevate. */
  retiredApiVersion?: true;
  /** Extra configuration for the bot in this case. */
  env?: Record<string, string>;
  state: Extract<RequestState, 'succeeded' | 'failed'>;
  /** `granted` for `ok: true`, otherwise the failure kind. */
  kind: FailureKind | 'granted';
  /** The card's "HTTP status" fact: status and its description, or "no response". */
  httpStatus: string;
  /** Status of every upstream attempt, in order (undefined: no response, e.g. connection reset). */
  attempts: (number | undefined)[];
  errorCode?: string;
  headline: string;
  /** Words of the explanation the user must read (the API's message, made readable). */
  explanation: (string | RegExp)[];
  /** Lines under "Details from the API", when the body had more to say. */
  details?: string[];
  /** The exact "What to do" (or, on success, "Good to know") text. */
  /** What to do next, or (time-boxed success) a pattern of it: the time it ends varies. */
  nextStep: string | RegExp;
  /** Part of the raw body kept for the audit; undefined when no response arrived. */
  rawBodyContains?: string;
}

const cases: OutcomeCase[] = [
  {
    name: 'success: 200 UserExists',
    state: 'succeeded',
    kind: 'granted',
    httpStatus: '200 OK',
    attempts: [200],
    headline: 'Elevated: you are System Administrator',
    explanation: [
      'The Power Platform API confirmed that you now hold the System Administrator role in this environment.',
    ],
    nextStep: TIME_BOXED,
    rawBodyContains: '"Code":"UserExists"',
  },
  {
    name: '2xx with errors[]: userNotPartOfSecurityGroup',
    behavior: 'as=security-group',
    state: 'failed',
    kind: 'functional-error',
    httpStatus: '200 OK (with errors in the answer)',
    attempts: [200],
    errorCode: 'userNotPartOfSecurityGroup',
    // The reason first: a headline that names it, before any "200 OK".
    headline: "Elevation failed: you are not in the environment's security group",
    explanation: ['is not part of security group', CONTOSO_DEV_GROUP],
    details: [expect.stringContaining('InnerException: Membership check failed')],
    // Alex's sign-in shows a tenant admin role other than Dynamics 365 Administrator: the
    // Dynamics 365 membership rule is not offered (role-advice.test.ts has each role).
    nextStep:
      "The environment is restricted to a security group and you are not in it, and the API refused on that ground: ask the environment's owner to add you to it (or to lift the restriction), then try again.",
    rawBodyContains: 'userNotPartOfSecurityGroup',
  },
  {
    name: '2xx with neither errors nor information',
    behavior: 'body=neither',
    state: 'failed',
    kind: 'unexpected-response',
    httpStatus: '200 OK',
    attempts: [200],
    headline: 'Elevation failed: unexpected answer from the API',
    explanation: ['HTTP 200 OK without errors and without UserExists (information codes: none)'],
    nextStep:
      'Check the environment before trying again, and give the correlation id to support if there is one.',
    rawBodyContains: '{"errors":[],"information":[]}',
  },
  {
    name: '400 ApiVersionInvalid lists the supported versions',
    retiredApiVersion: true,
    state: 'failed',
    kind: 'api-version-invalid',
    httpStatus: '400 Bad Request',
    attempts: [400],
    // The innermost code is the one shown; the outer "ApiVersionInvalid" stays in the raw body.
    errorCode: 'ApiVersionUnsupported',
    headline: 'Elevation failed: the bot is misconfigured',
    explanation: [
      `API version '${RETIRED_API_VERSION}' is not supported.`,
      `Supported API versions are: ${SUPPORTED_API_VERSIONS.join(', ')}.`,
    ],
    nextStep:
      "Ask the bot's operator to set POWERPLATFORM_API_VERSION to a version the API accepts.",
    details: ['ApiVersionUnsupported'],
    rawBodyContains: '"code":"ApiVersionInvalid"',
  },
  {
    name: 'other 400: refused, with the advice to pass on the correlation id',
    behavior: 'status=400',
    state: 'failed',
    kind: 'bad-request',
    httpStatus: '400 Bad Request',
    attempts: [400],
    errorCode: 'Simulated400',
    headline: 'Elevation failed: the API refused the request',
    explanation: ['Simulated 400'],
    nextStep: "Give the correlation id to the bot's operator or to Microsoft support.",
    rawBodyContains: 'Simulated400',
  },
  {
    name: 'other 403: refused by the API',
    behavior: 'status=403',
    state: 'failed',
    kind: 'forbidden',
    httpStatus: '403 Forbidden',
    attempts: [403],
    errorCode: 'Simulated403',
    headline: 'Elevation refused by the API',
    explanation: ['Simulated 403'],
    nextStep:
      'Check that you hold a tenant admin role and may act in this environment; give the correlation id to support if it persists.',
    rawBodyContains: 'Simulated403',
  },
  {
    name: '401: the token is not accepted',
    caller: () => undefined,
    state: 'failed',
    kind: 'unauthorized',
    httpStatus: '401 Unauthorized',
    attempts: [401],
    errorCode: 'Unauthorized',
    headline: 'Elevation failed: your sign-in was not accepted',
    explanation: ['The bearer token was not accepted.'],
    nextStep:
      'Sign in again and retry. If it keeps failing, give the correlation id to your administrator.',
    rawBodyContains: '"code":"Unauthorized"',
  },
  {
    name: '403 InsufficientPrincipalPermissions',
    behavior: 'as=missing-permission',
    state: 'failed',
    kind: 'permission-missing',
    httpStatus: '403 Forbidden',
    attempts: [403],
    errorCode: 'InsufficientPrincipalPermissions',
    headline: 'Elevation failed: the bot lacks a permission',
    explanation: ['The caller is not authorized to perform the request.'],
    details: [
      'InsufficientPrincipalPermissions: Authorization denied: Principal missing required permissions: [UserManagement.Users.Apply, All.All.ReadWrite]',
    ],
    nextStep:
      "Either the bot's Entra app lacks the delegated Power Platform API permission UserManagement.Users.Apply (an administrator must add it and grant admin consent), or your account lacks a tenant admin role: check both.",
    rawBodyContains: 'InsufficientPrincipalPermissions',
  },
  {
    name: '403 InsufficientDelegatedPermissions',
    // The simulator itself refuses a token whose scp lacks the permission (the bot's pre-flight
    // check read a token that had it: the grant was withdrawn in between).
    caller: (claims) => ({
      ...claims,
      scp: String(claims.scp ?? '')
        .split(' ')
        .filter((scope) => scope.toLowerCase() !== 'usermanagement.users.apply')
        .join(' '),
    }),
    state: 'failed',
    kind: 'permission-missing',
    httpStatus: '403 Forbidden',
    attempts: [403],
    errorCode: 'InsufficientDelegatedPermissions',
    headline: 'Elevation failed: the bot lacks a permission',
    explanation: ['The caller is not authorized to perform the request.'],
    details: [
      'InsufficientDelegatedPermissions: Authorization denied: delegated permissions missing: [UserManagement.Users.Apply]',
    ],
    nextStep:
      "Either the bot's Entra app lacks the delegated Power Platform API permission UserManagement.Users.Apply (an administrator must add it and grant admin consent), or your account lacks a tenant admin role: check both.",
    rawBodyContains: 'InsufficientDelegatedPermissions',
  },
  {
    name: '403 "not either a Global admin, Power Platform admin, or Dynamics 365 admin"',
    behavior: 'as=not-tenant-admin',
    state: 'failed',
    kind: 'not-tenant-admin',
    httpStatus: '403 Forbidden',
    attempts: [403],
    errorCode: 'Forbidden',
    headline: 'Elevation refused: you are not a tenant administrator',
    explanation: [NOT_TENANT_ADMIN_MESSAGE],
    nextStep:
      'Only Global, Power Platform or Dynamics 365 administrators can self-elevate, with the role assigned directly (not through a group). If the role is eligible in PIM, activate it first; it can take a while to reach Power Platform.',
    rawBodyContains: 'not either a Global admin',
  },
  {
    name: '404 environment not found',
    behavior: 'as=deleted',
    state: 'failed',
    kind: 'environment-not-found',
    httpStatus: '404 Not Found',
    attempts: [404],
    errorCode: 'EnvironmentNotFound',
    headline: 'Elevation failed: environment not found',
    explanation: [`Environment '${CONTOSO_DEV.id}' was not found.`],
    nextStep:
      'The environment may have been deleted or moved. Ask again by name to see the current list.',
    rawBodyContains: 'EnvironmentNotFound',
  },
  {
    name: '429 throughout: throttled after the retries',
    // Retry-After: 1 s is above every backoff (at most 800 ms) and below the 10 s cap, so each of
    // the 3 waits is 1 s; 4 attempts (maxAttempts) in about 3 s, well inside the 25 s deadline.
    behavior: 'as=throttled',
    state: 'failed',
    kind: 'throttled',
    httpStatus: '429 Too Many Requests, after 4 attempts',
    attempts: [429, 429, 429, 429],
    errorCode: 'TooManyRequests',
    headline: 'Elevation failed: the API is throttling requests',
    explanation: ['Rate limit is exceeded. Try again in 1 seconds.'],
    nextStep: 'The API asked to wait 1 second; try again after that.',
    rawBodyContains: 'TooManyRequests',
  },
  {
    name: '429 with a Retry-After beyond the 10 s cap: given up at once',
    // Waiting 120 s would not honour the 25 s deadline: maxRetryAfterMs (10 s) ends the call with
    // this first answer, so exactly 1 call.
    behavior: 'status=429;retry-after=120',
    state: 'failed',
    kind: 'throttled',
    httpStatus: '429 Too Many Requests',
    attempts: [429],
    errorCode: 'Simulated429',
    headline: 'Elevation failed: the API is throttling requests',
    explanation: ['Simulated 429'],
    nextStep: 'The API asked to wait 2 minutes; try again after that.',
    rawBodyContains: 'Simulated429',
  },
  {
    name: '503 with Retry-After throughout: throttled after the retries',
    // As for 429: a 503 that says when to come back is throttling; 4 attempts, 1 s apart.
    behavior: 'status=503;retry-after=1',
    state: 'failed',
    kind: 'throttled',
    httpStatus: '503 Service Unavailable, after 4 attempts',
    attempts: [503, 503, 503, 503],
    errorCode: 'Simulated503',
    headline: 'Elevation failed: the API is throttling requests',
    explanation: ['Simulated 503'],
    nextStep: 'The API asked to wait 1 second; try again after that.',
    rawBodyContains: 'Simulated503',
  },
  {
    name: '503 once, then 200: retried and granted',
    // One retry after a 100-200 ms backoff; the second attempt gets the seeded grant.
    behavior: 'status=503;body=empty;times=1',
    state: 'succeeded',
    kind: 'granted',
    httpStatus: '200 OK, after 2 attempts',
    attempts: [503, 200],
    headline: 'Elevated: you are System Administrator',
    explanation: [
      'The Power Platform API confirmed that you now hold the System Administrator role in this environment.',
    ],
    nextStep: TIME_BOXED,
    rawBodyContains: '"Code":"UserExists"',
  },
  {
    name: '500 wrapped error: not retried',
    // 500 is not in the retryable set (429, 502, 503, 504): one call.
    behavior: 'as=server-error',
    state: 'failed',
    kind: 'upstream-unavailable',
    httpStatus: '500 Internal Server Error',
    attempts: [500],
    errorCode: 'InternalServerError',
    headline: 'Elevation failed: the Power Platform API is unavailable',
    explanation: ['An internal error occurred while assigning the role. (simulated)'],
    nextStep:
      'Try again in a few minutes. If it persists, give the correlation id to Microsoft support.',
    rawBodyContains: '{"error":{"code":"InternalServerError"',
  },
  {
    name: '502 HTML page from a proxy',
    // Retryable, no Retry-After: 4 attempts after backoffs of at most 200, 400 and 800 ms.
    behavior: 'status=502;body=html',
    state: 'failed',
    kind: 'upstream-unavailable',
    httpStatus: '502 Bad Gateway, after 4 attempts',
    attempts: [502, 502, 502, 502],
    headline: 'Elevation failed: the Power Platform API is unavailable',
    explanation: [
      'HTTP 502 Bad Gateway: The response was an HTML page ("502 Simulated 502"), not JSON',
    ],
    nextStep:
      'Try again in a few minutes. If it persists, give the correlation id to Microsoft support.',
    rawBodyContains: '<!DOCTYPE html>',
  },
  {
    name: '503 with an empty body',
    // Retryable, no Retry-After: 4 attempts after backoffs of at most 200, 400 and 800 ms.
    behavior: 'status=503;body=empty',
    state: 'failed',
    kind: 'upstream-unavailable',
    httpStatus: '503 Service Unavailable, after 4 attempts',
    attempts: [503, 503, 503, 503],
    headline: 'Elevation failed: the Power Platform API is unavailable',
    explanation: ['HTTP 503 Service Unavailable: The response body was empty'],
    nextStep:
      'Try again in a few minutes. If it persists, give the correlation id to Microsoft support.',
    rawBodyContains: '',
  },
  {
    name: 'a success without x-ms-correlation-id says so instead of showing nothing',
    behavior: 'no-correlation-id',
    state: 'succeeded',
    kind: 'granted',
    httpStatus: '200 OK',
    attempts: [200],
    headline: 'Elevated: you are System Administrator',
    explanation: ['now hold the System Administrator role'],
    nextStep: TIME_BOXED,
    rawBodyContains: 'UserExists',
  },
  {
    name: 'timeout: no answer within the time allowed, outcome unknown',
    // One attempt of 500 ms uses the whole 500 ms allowed for the call: nothing is left to retry.
    env: { POWERPLATFORM_ATTEMPT_TIMEOUT_MS: '500', POWERPLATFORM_TOTAL_TIMEOUT_MS: '500' },
    behavior: 'delay-ms=2000',
    state: 'failed',
    kind: 'timeout',
    httpStatus: 'no response',
    attempts: [undefined],
    headline: 'Elevation outcome unknown: the API did not answer in time',
    explanation: ['No response after 1 attempt in 0.5 s'],
    nextStep:
      'The role may or may not have been granted. Check the environment before trying again.',
  },
  {
    name: 'connection reset: connection-failed, no correlation id',
    // Network errors are retried like 503: 4 attempts; no response, so no correlation id.
    behavior: 'reset',
    state: 'failed',
    kind: 'connection-failed',
    httpStatus: 'no response, after 4 attempts',
    attempts: [undefined, undefined, undefined, undefined],
    headline: 'Elevation failed: the bot could not reach the Power Platform API',
    // undici reports a reset as UND_ERR_SOCKET ("other side closed") or ECONNRESET.
    explanation: [/UND_ERR_SOCKET|ECONNRESET/],
    nextStep: "Try again in a few minutes; if it persists, tell the bot's operator.",
  },
];

let bot: TestBot | undefined;
let simulator: PowerPlatformSimulator | undefined;
/**
 * What the simulator accepts as api-version. The simulator keeps this array (it does not copy it)
 * and reads it on every request, so a case can retire a version between listing and Elevate; the
 * case then checks the 400 it gets, so a simulator that copied the array would fail loudly.
 */
let acceptedApiVersions: string[] = [];
let editCaller: OutcomeCase['caller'];
/** Every bearer token the simulator received, to make sure none reaches the stored body. */
let tokensSeen: string[] = [];

async function start(c: OutcomeCase): Promise<TestBot> {
  acceptedApiVersions = [...SUPPORTED_API_VERSIONS];
  if (c.retiredApiVersion) acceptedApiVersions.push(RETIRED_API_VERSION);
  simulator = await startPowerPlatformSimulator({
    apiVersions: acceptedApiVersions,
    authenticate: (token) => {
      tokensSeen.push(token);
      const claims = decodeJwtClaims(token);
      return claims && editCaller ? editCaller(claims) : claims;
    },
  });
  bot = await startTestBot({
    simulator,
    env: {
      // Keep every click on the path that answers with the outcome (the slowest case takes ~3 s).
      INVOKE_BUDGET_MS: '10000',
      ...(c.retiredApiVersion && { POWERPLATFORM_API_VERSION: RETIRED_API_VERSION }),
      ...c.env,
    },
  });
  return bot;
}

afterEach(async () => {
  editCaller = undefined;
  tokensSeen = [];
  await bot?.stop();
  await simulator?.stop();
  bot = undefined;
  simulator = undefined;
});

function applyAdminRoleCalls(sim: PowerPlatformSimulator): RecordedCall[] {
  return sim.calls.filter((call) => call.operation === 'applyAdminRole');
}

/** The card's facts (a two-column ColumnSet each), title to value. */
function factsOf(card: unknown): Record<string, string> {
  const facts: Record<string, string> = {};
  for (const set of (card as { body?: unknown[] }).body ?? []) {
    const element = set as { type?: string; columns?: unknown[] };
    if (element.type !== 'ColumnSet' || element.columns?.length !== 2) continue;
    const [title] = textOf(element.columns[0]);
    const value = textRuns(element.columns[1]).join('');
    if (title !== undefined) facts[title] = value;
  }
  return facts;
}

function textOf(node: unknown): string[] {
  return cardText(node).split('\n');
}

/** The label and text of the "What to do" (or "Good to know") line. */
function nextStepOf(card: unknown): { label?: string; text?: string } {
  const runs = textRuns(card);
  const at = runs.findIndex((run) => run === 'What to do: ' || run === 'Good to know: ');
  return at < 0 ? {} : { label: runs[at], text: runs[at + 1] };
}

/** Lines under "Details from the API". */
function detailsOf(card: unknown): string[] {
  const body = (card as { body?: Array<{ type?: string; items?: unknown[] }> }).body ?? [];
  const container = body.find(
    (element) =>
      element.type === 'Container' && cardText(element).startsWith('Details from the API'),
  );
  return container ? textRuns(container) : [];
}

function isOutcomeMessage(call: ConnectorCall): boolean {
  return call.method === 'POST' && String(call.activity.text ?? '').includes('Correlation id:');
}

describe('applyAdminRole outcomes, as the user sees them and as they are recorded', () => {
  it.each(cases)('$name', async (c) => {
    const started = await start(c);
    const sim = simulator!;
    if (c.behavior) {
      sim.override(c.behavior, { operation: 'applyAdminRole', environmentId: CONTOSO_DEV.id });
    }

    // In the personal chat, where the outcome is told to the requester ("you"); the group chat's
    // third-person wording has its own test (group-chat-wording.test.ts).
    const asked = await started.say(ALEX, 'elevate me in Contoso Dev', personalChat(ALEX));
    expect(asked.calls).toHaveLength(1);
    const confirmation = cardOf(asked.calls[0]!.activity);
    expect(cardText(confirmation)).toContain('Confirm elevation');
    const requestId = actionData(confirmation, 'elevate')!.requestId as string;
    const messageId = asked.calls[0]!.assignedId!;
    expect(applyAdminRoleCalls(sim)).toHaveLength(0);

    // What changes between reading the list and pressing Elevate.
    editCaller = c.caller;
    if (c.retiredApiVersion)
      acceptedApiVersions.splice(acceptedApiVersions.indexOf(RETIRED_API_VERSION), 1);

    const before = started.connector.calls.length;
    const click = await started.click(
      ALEX,
      'elevate',
      { requestId, justification: `outcome test: ${c.name}` },
      { replyToId: messageId, conversation: personalChat(ALEX) },
    );
    expect(click.status).toBe(200);
    await waitFor(
      () => started.connector.calls.slice(before).find(isOutcomeMessage),
      'the outcome message',
      30_000,
    );
    const after = started.connector.calls.slice(before);

    // (d) Upstream calls: how many, what each answered, one client request id for all of them.
    const calls = applyAdminRoleCalls(sim);
    expect(calls.map((call) => call.status)).toEqual(c.attempts);
    expect(calls.every((call) => call.environmentId === CONTOSO_DEV.id)).toBe(true);
    const clientRequestIds = new Set(calls.map((call) => call.headers['x-ms-client-request-id']));
    expect(clientRequestIds.size).toBe(1);
    const [clientRequestId] = [...clientRequestIds];
    const last = calls.at(-1)!;
    const correlationId = last.correlationId;
    if (c.attempts.at(-1) === undefined || c.behavior === 'no-correlation-id') {
      expect(correlationId).toBeUndefined();
    } else expect(correlationId).toMatch(/^[0-9a-f-]{36}$/);

    // (a) The card, replaced for everyone (PUT on the card's message) and for the clicker.
    const update = after.filter((call) => call.method === 'PUT' && call.activityId === messageId);
    expect(update.length).toBeGreaterThanOrEqual(1);
    const card = cardOf(update.at(-1)!.activity)!;
    expect(cardOf(click.body)).toEqual(card);

    const icon = c.state === 'succeeded' ? '✅' : '❌';
    expect(textOf(card)[0]).toBe(`${icon} ${c.headline}`);
    const text = cardText(card);
    for (const words of c.explanation) expect(text).toMatch(words);
    expect(nextStepOf(card)).toEqual({
      label: c.state === 'succeeded' ? 'Good to know: ' : 'What to do: ',
      text: typeof c.nextStep === 'string' ? c.nextStep : expect.stringMatching(c.nextStep),
    });
    expect(detailsOf(card)).toEqual(c.details ?? []);
    const facts = factsOf(card);
    expect(facts).toMatchObject({
      Environment: 'Contoso Dev',
      Id: CONTOSO_DEV.id,
      'HTTP status': c.httpStatus,
      'Correlation id': correlationId ?? 'none returned by the API',
      'Client request id': clientRequestId,
      Justification: `outcome test: ${c.name}`,
    });
    if (c.errorCode) expect(facts['Error code']).toBe(c.errorCode);
    else expect(facts).not.toHaveProperty('Error code');

    // (b) The request's state, and a card that no longer offers Elevate: a failure offers only
    // Try again, a (time-boxed) success only I'm done and Extend.
    const request = await started.app.service.findRequest(requestId);
    expect(request?.state).toBe(c.state);
    expect(actionData(card, 'elevate')).toBeUndefined();
    const verbs = executeActions(card).map((a) => a.verb);
    expect(verbs.sort()).toEqual(c.state === 'failed' ? ['try-again'] : ['done', 'extend']);
    expect(text).not.toContain('Confirm elevation');

    // The outcome as a chat message, with the correlation id on a line of its own.
    const messages = after.filter(isOutcomeMessage);
    expect(messages).toHaveLength(1);
    const ends = request?.timeBox
      ? `Until ${clockIn(request.timeBox.endsAt, undefined, request.timeBox.grantedAt)}: then the role is removed again.\n\n`
      : '';
    expect(messages[0]!.activity.text).toBe(
      `${icon} ${c.headline} in Contoso Dev.\n\n${ends}Correlation id: ${correlationId ?? 'none returned by the API'}`,
    );
    // Every success is time-boxed; no failure is.
    expect(Boolean(request?.timeBox)).toBe(c.state === 'succeeded');

    // (c) The recorded outcome.
    const outcome = request!.outcome!;
    expect(outcome).toBeDefined();
    if (c.kind === 'granted') {
      expect(outcome).toMatchObject({ ok: true, code: 'UserExists' });
    } else {
      expect(outcome).toMatchObject({ ok: false, kind: c.kind });
      expect(outcome.ok ? undefined : outcome.errorCode).toBe(c.errorCode);
    }
    expect(outcome.response).toMatchObject({ attempts: c.attempts.length, clientRequestId });
    expect(outcome.response.correlationId).toBe(correlationId);
    expect(outcome.response.status).toBe(c.attempts.at(-1));
    if (c.rawBodyContains === undefined) {
      expect(outcome.rawBody).toBeUndefined();
    } else {
      expect(typeof outcome.rawBody).toBe('string');
      expect(outcome.rawBody).toContain(c.rawBodyContains);
      expect(outcome.rawBody!.length).toBeLessThanOrEqual(MAX_RAW_BODY);
      expect(outcome.rawBody).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
      expect(tokensSeen.length).toBeGreaterThan(0);
      for (const token of tokensSeen) expect(outcome.rawBody).not.toContain(token);
    }
  });
});
