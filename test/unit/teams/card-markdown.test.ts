/**
 * Security defect 2 of issue #11: a Teams display name like `[Approve here](https://evil.example)`
 * became a link on the confirmation card, because it sat in a TextBlock, where Adaptive Cards read
 * Markdown. Every card the bot can send is drawn here with hostile values in every field that comes
 * from a person or from an API; the card JSON is walked, and each hostile value may only appear
 * where no renderer reads Markdown: a TextRun's text, an action's title or data, an input's value,
 * a choice's title.
 */
import * as approvalCards from '../../../src/teams/cards/approval-cards';
import {
  approvalAskCard,
  approvalStatusCard,
  approverCard,
} from '../../../src/teams/cards/approval-cards';
import * as historyCards from '../../../src/teams/cards/history-card';
import * as noticeCards from '../../../src/teams/cards/notice-card';
import * as notificationCards from '../../../src/teams/cards/notification-card';
import * as pickCards from '../../../src/teams/cards/pick-card';
import * as requestCards from '../../../src/teams/cards/request-cards';
import * as timeBoxCards from '../../../src/teams/cards/time-box-cards';
import { historyCard } from '../../../src/teams/cards/history-card';
import { noticeCard } from '../../../src/teams/cards/notice-card';
import { notificationCard } from '../../../src/teams/cards/notification-card';
import { pickCard } from '../../../src/teams/cards/pick-card';
import { confirmationCard, requestStatusCard } from '../../../src/teams/cards/request-cards';
import {
  elevationsCard,
  reminderCard,
  removalEndedCard,
  type TimeBoxedRequest,
  whoIsElevatedCard,
} from '../../../src/teams/cards/time-box-cards';
import type { ElevationNotification } from '../../../src/elevation/notifications';
import type { RemovalEnding } from '../../../src/elevation/removal-text';
import type {
  Approval,
  ElevationRequest,
  RoleCheck,
  TimeBox,
  TimeBoxPhase,
} from '../../../src/elevation/request';
import type { AdminRoleOutcome, Environment, FailureKind } from '../../../src/elevation/vocabulary';
import { requestResultCard } from '../../../src/teams/replies';
import { signInCard } from '../../../src/teams/sign-in-prompt';
import { textRuns } from '../../support/card-inspection';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js');

/** Each hostile value carries a tag (`evil-N`), so that any copy of it can be found in a card. */
const HOSTILE = [
  '[Approve here](https://evil.example/evil-1)',
  '**bold evil-2**',
  '_x evil-3_',
  '# h evil-4',
  '- list evil-5',
  '1. list evil-6',
  '`code evil-7`',
  '<b onclick="x">evil-8</b>',
  '&lt;evil-9&gt;',
  'line one\n\n- evil-10\n***',
  '${requesterName} {{DATE(evil-11)}}',
  '![img](https://evil.example/evil-12.png)',
];
let next = 0;
/** The next hostile value, round-robin, so that every field gets a different one. */
function evil(): string {
  return HOSTILE[next++ % HOSTILE.length]!;
}

const FAILURE_KINDS: FailureKind[] = [
  'functional-error',
  'api-version-invalid',
  'bad-request',
  'unauthorized',
  'permission-missing',
  'not-tenant-admin',
  'forbidden',
  'environment-not-found',
  'throttled',
  'upstream-unavailable',
  'timeout',
  'connection-failed',
  'unexpected-response',
  'invalid-request',
  'interrupted',
];

function environment(): Environment {
  return {
    id: evil(),
    displayName: evil(),
    type: evil(),
    state: evil(),
    geo: evil(),
    azureRegion: evil(),
    dataverseUrl: evil(),
    domainName: evil(),
  };
}

function response(): AdminRoleOutcome['response'] {
  return {
    status: 502,
    statusText: evil(),
    correlationId: evil(),
    clientRequestId: evil(),
    attempts: 4,
    durationMs: 10,
    retryAfterMs: 2000,
  };
}

function failure(kind: FailureKind): AdminRoleOutcome {
  return {
    ok: false,
    kind,
    errorCode: evil(),
    message: evil(),
    details: [evil(), evil()],
    response: response(),
  };
}

function request(
  state: ElevationRequest['state'],
  extra: Partial<ElevationRequest> = {},
  conversationType = 'groupChat',
): ElevationRequest {
  return {
    id: 'req-1',
    state,
    requester: {
      aadObjectId: 'oid-1',
      tenantId: 'tid-1',
      name: evil(),
      upn: evil(),
      adminRoles: ['Dynamics 365 Administrator'],
    },
    environment: environment(),
    query: evil(),
    justification: evil(),
    createdAt: '2026-11-26T10:00:00.000Z',
    updatedAt: '2026-11-26T10:00:00.000Z',
    expiresAt: '2026-11-26T10:10:00.000Z',
    clientRequestId: evil(),
    // In a group chat the outcome names the requester: their name is in the headline then.
    conversation: { conversation: { id: 'c', conversationType } },
    ...extra,
  };
}

const REMOVAL_KINDS = ['role-removed', 'removal-failed', 'removal-overdue'] as const;

function notification(kind: ElevationNotification['kind']): ElevationNotification {
  const removal = (REMOVAL_KINDS as readonly string[]).includes(kind);
  return {
    id: 'n-1',
    kind,
    at: '2026-11-26T10:00:05.000Z',
    tenantId: 'tid-1',
    requester: { aadObjectId: evil(), name: evil(), upn: evil() },
    environment:
      kind === 'refused' || kind === 'sign-in-refused'
        ? undefined
        : { id: evil(), displayName: evil(), type: evil() },
    query: kind === 'refused' || kind === 'sign-in-refused' ? evil() : undefined,
    justification: evil(),
    requestId: 'req-1',
    ...((kind === 'approved' || kind === 'denied') && {
      decidedBy: { aadObjectId: evil(), name: evil() },
      rule: evil(),
    }),
    outcome:
      kind === 'refused' || removal || kind === 'approved' || kind === 'denied'
        ? undefined
        : {
            ok: kind === 'succeeded',
            kind: kind === 'succeeded' ? 'succeeded' : evil(),
            message: evil(),
            status: evil(),
            errorCode: evil(),
            correlationId: evil(),
            clientRequestId: evil(),
          },
    reason: evil(),
    removal: removal
      ? {
          kind: kind === 'role-removed' ? 'removed' : 'refused',
          message: evil(),
          status: 403,
          requestId: evil(),
          endsAt: '2026-11-26T09:40:00.000Z',
          early: kind === 'role-removed',
        }
      : undefined,
  };
}

/** A granted request with a time box in the given phase, hostile text in every field. */
function timeBoxed(phase: TimeBoxPhase, conversationType = 'groupChat'): TimeBoxedRequest {
  const granted: AdminRoleOutcome = {
    ok: true,
    code: evil(),
    details: [evil()],
    response: response(),
  };
  const timeBox: TimeBox = {
    phase,
    grantedAt: '2026-11-26T10:00:00.000Z',
    endsAt: '2026-11-26T11:00:00.000Z',
    latestEnd: '2026-11-26T18:00:00.000Z',
    attempts: 2,
    extensions: [{ at: '2026-11-26T10:30:00.000Z', minutes: 60, justification: evil() }],
    lastRemoval:
      phase === 'active'
        ? undefined
        : { kind: 'refused', status: 403, requestId: evil(), message: evil(), at: evil() },
    endedAt: phase === 'removed' ? '2026-11-26T11:01:00.000Z' : undefined,
  };
  return request('succeeded', { outcome: granted, timeBox }, conversationType) as TimeBoxedRequest;
}

/** Every way an elevation ends, with hostile text wherever Dataverse or the sign-in put some. */
function endings(): RemovalEnding[] {
  return [
    { kind: 'removed', status: 204, requestId: evil() },
    { kind: 'already-gone', status: 404, requestId: evil(), detail: evil() },
    { kind: 'removed-by-microsoft', status: 200, requestId: evil() },
    { kind: 'kept' },
    { kind: 'refused', status: 403, requestId: evil(), message: evil() },
    { kind: 'unavailable', status: 429, requestId: evil(), retryAfterMs: 5000, message: evil() },
    { kind: 'token-unavailable', reason: 'refused', message: evil() },
    { kind: 'token-unavailable', reason: 'not-kept', message: evil() },
  ];
}

const ROLE_CHECKS: RoleCheck[] = [
  { result: 'already-admin' },
  { result: 'newly-granted' },
  { result: 'not-visible-yet' },
  { result: 'not-checked', reason: evil() },
];

/** Every card the bot can send, by the function that draws it. */
function everyCard(): Array<{ name: string; by: string; card: unknown }> {
  const all: Array<{ name: string; by: string; card: unknown }> = [];
  const add = (by: string, name: string, card: unknown) => all.push({ by, name, card });

  for (const justificationRequired of [true, false]) {
    add(
      'confirmationCard',
      `confirmation (justification required: ${justificationRequired})`,
      confirmationCard(request('requested'), {
        justificationRequired,
        problem: evil(),
        justification: evil(),
        timeZone: evil(),
        shared: justificationRequired,
      }),
    );
  }
  add(
    'confirmationCard',
    'confirmation with durations',
    confirmationCard(request('requested', { minutes: 75 }), {
      justificationRequired: true,
      justification: evil(),
      timeZone: evil(),
      durations: { defaultMinutes: 60, maxMinutes: 480 },
    }),
  );
  const now = new Date('2026-11-26T10:50:00.000Z');
  for (const conversationType of ['personal', 'groupChat']) {
    for (const phase of ['active', 'removing', 'overdue', 'removed', 'kept'] as const) {
      add(
        'requestStatusCard',
        `time box ${phase} in ${conversationType}`,
        requestStatusCard(timeBoxed(phase, conversationType), {
          now,
          timeZone: evil(),
          extendMinutes: 60,
        }),
      );
    }
    for (const ending of endings()) {
      add(
        'removalEndedCard',
        `ended: ${ending.kind} in ${conversationType}`,
        removalEndedCard(timeBoxed('removed', conversationType), ending, {
          now,
          timeZone: evil(),
          nextAttempt: now,
        }),
      );
    }
  }
  add('reminderCard', 'reminder', reminderCard(timeBoxed('active'), { now, extendMinutes: 60 }));
  add(
    'elevationsCard',
    'elevations',
    elevationsCard([timeBoxed('active'), timeBoxed('overdue'), timeBoxed('removing')], {
      now,
      timeZone: evil(),
      extendMinutes: 60,
    }),
  );
  add('elevationsCard', 'elevations, empty', elevationsCard([], { now }));
  add(
    'whoIsElevatedCard',
    'who is elevated (capped)',
    whoIsElevatedCard([timeBoxed('active'), timeBoxed('overdue'), timeBoxed('kept')], {
      now,
      timeZone: evil(),
      limit: 2,
      total: 9,
    }),
  );
  add('whoIsElevatedCard', 'who is elevated, empty', whoIsElevatedCard([], { now }));
  for (const conversationType of ['personal', 'groupChat']) {
    for (const state of ['requested', 'executing', 'cancelled', 'expired'] as const) {
      add(
        'requestStatusCard',
        `${state} in ${conversationType}`,
        requestStatusCard(request(state, {}, conversationType)),
      );
    }
    for (const kind of ['replaced', 'elevated-elsewhere'] as const) {
      add(
        'requestStatusCard',
        `closed (${kind}) in ${conversationType}`,
        requestStatusCard(
          request('cancelled', { closedBecause: { kind, by: 'req-2' } }, conversationType),
        ),
      );
    }
    for (const roleCheck of ROLE_CHECKS) {
      const granted: AdminRoleOutcome = {
        ok: true,
        code: evil(),
        details: [evil()],
        instanceUrl: evil(),
        response: response(),
      };
      add(
        'requestStatusCard',
        `succeeded (${roleCheck.result}) in ${conversationType}`,
        requestStatusCard(request('succeeded', { outcome: granted, roleCheck }, conversationType)),
      );
    }
    for (const kind of FAILURE_KINDS) {
      add(
        'requestStatusCard',
        `failed: ${kind} in ${conversationType}`,
        requestStatusCard(request('failed', { outcome: failure(kind) }, conversationType)),
      );
    }
  }
  const failedSecurityGroup = failure('functional-error');
  (failedSecurityGroup as { errorCode: string }).errorCode = 'userNotPartOfSecurityGroup';
  add(
    'requestStatusCard',
    'failed: userNotPartOfSecurityGroup',
    requestStatusCard(request('failed', { outcome: failedSecurityGroup })),
  );

  add(
    'pickCard',
    'pick',
    pickCard({
      query: evil(),
      candidates: [environment(), environment()],
      total: 9,
      requesterId: evil(),
    }),
  );
  add(
    'noticeCard',
    'notice',
    noticeCard({ title: evil(), lines: [evil(), evil()], color: 'Warning' }),
  );
  for (const kind of [
    'succeeded',
    'failed',
    'refused',
    'sign-in-refused',
    'approved',
    'denied',
    ...REMOVAL_KINDS,
  ] as const) {
    add('notificationCard', `notification: ${kind}`, notificationCard(notification(kind)));
  }
  for (const showRequester of [true, false]) {
    const outcome = failure('forbidden');
    add(
      'historyCard',
      `history (showRequester: ${showRequester})`,
      historyCard([request('failed', { outcome }), request('expired'), request('cancelled')], {
        title: evil(),
        subtitle: evil(),
        empty: evil(),
        showRequester,
        older: { verb: 'history-page', data: { before: evil() } },
        newer: { verb: 'history-page', data: { after: evil() } },
      }),
    );
  }
  add(
    'historyCard',
    'history, empty',
    historyCard([], { title: evil(), empty: evil(), showRequester: true }),
  );

  // Approval: every status on the requester's and the approvers' cards, hostile names and reasons.
  const approval = (status: Approval['status']): Partial<ElevationRequest> => ({
    minutes: 60,
    policy: {
      rule: evil(),
      why: evil(),
      approval: {
        status,
        because: 'rule',
        approvers: [evil(), evil()],
        channel: { team: evil(), channel: evil() },
        timeoutMinutes: 30,
        askedAt: '2026-11-26T10:00:00.000Z',
        expiresAt: '2026-11-26T10:30:00.000Z',
        ...(status === 'approved' || status === 'denied'
          ? {
              decidedBy: { aadObjectId: evil(), name: evil() },
              decidedAt: '2026-11-26T10:05:00.000Z',
              reason: evil(),
            }
          : {}),
        cards: [
          {
            conversationId: evil(),
            messageId: evil(),
            approver: { aadObjectId: evil(), name: evil() },
          },
        ],
      },
    },
  });
  for (const shared of [true, false]) {
    add(
      'approvalAskCard',
      `approval ask (shared: ${shared})`,
      approvalAskCard(request('requested', approval('not-asked')), {
        justificationRequired: true,
        justification: evil(),
        problem: evil(),
        timeZone: evil(),
        shared,
        durations: { defaultMinutes: 60, maxMinutes: 480 },
      }),
    );
  }
  for (const status of ['pending', 'approved'] as const) {
    add(
      'approvalStatusCard',
      `approval ${status}, requester`,
      approvalStatusCard(request('requested', approval(status)), {
        timeZone: evil(),
        reach: { channel: false, approvers: [], unknown: [evil()] },
      }),
    );
  }
  for (const [state, status] of [
    ['requested', 'pending'],
    ['requested', 'approved'],
    ['cancelled', 'denied'],
    ['expired', 'expired'],
    ['cancelled', 'pending'],
  ] as const) {
    add(
      'approverCard',
      `approver card: ${status} (${state})`,
      approverCard(request(state, approval(status)), { problem: evil(), timeZone: evil() }),
    );
    add(
      'requestStatusCard',
      `requester's status: ${status} (${state})`,
      requestStatusCard(
        request(state, {
          ...approval(status),
          ...(status === 'denied' && { closedBecause: { kind: 'denied', by: evil() } }),
        }),
      ),
    );
  }

  // What the bot answers to a request that did not reach a confirmation (replies.ts).
  const requester = { aadObjectId: 'oid-1', tenantId: 'tid-1', name: evil() };
  const listingFailure = failure('upstream-unavailable');
  const results = [
    { kind: 'ambiguous', query: evil(), candidates: [environment(), environment()], total: 2 },
    { kind: 'not-found', query: evil(), suggestions: [environment()] },
    { kind: 'no-dataverse', environment: environment() },
    { kind: 'environment-disabled', environment: environment() },
    { kind: 'no-token', reason: 'sign-in-required', message: evil() },
    { kind: 'no-token', reason: 'not-tenant-admin', message: evil() },
    { kind: 'listing-failed', failure: listingFailure },
  ] as const;
  for (const result of results) {
    add(
      'requestResultCard',
      `request result: ${result.kind}`,
      requestResultCard(result as never, requester),
    );
  }
  return all;
}

/**
 * Markdown a text would still render: a special character not escaped with a backslash, or a line
 * that starts a list or a heading.
 */
function liveMarkdown(text: string): string[] {
  const found: string[] = [];
  if (/(^|[^\\])[`*_[\]<>#&]/.test(text)) found.push('an unescaped special character');
  if (/^\s*([-+]|\d+[.)])\s/m.test(text)) found.push('a list item');
  return found;
}

/**
 * Where a hostile value is shown: only places no renderer reads as Markdown are allowed. A compact
 * ChoiceSet's choice titles are a drop-down's options (plain text); an expanded one's are drawn as
 * Markdown TextBlocks, so there a hostile value must not carry live Markdown.
 */
function misplaced(node: unknown, path = '$', out: string[] = []): string[] {
  if (typeof node === 'string') {
    if (/evil-\d+/.test(node)) out.push(`${path}: ${JSON.stringify(node)}`);
    return out;
  }
  if (Array.isArray(node)) {
    node.forEach((child, i) => misplaced(child, `${path}[${i}]`, out));
    return out;
  }
  if (!node || typeof node !== 'object') return out;
  const element = node as Record<string, unknown>;
  const type = typeof element.type === 'string' ? element.type : '';
  for (const [key, value] of Object.entries(element)) {
    const plain =
      (type === 'TextRun' && key === 'text') ||
      (type.startsWith('Action.') && (key === 'title' || key === 'data')) ||
      (type === 'Input.Text' && key === 'value');
    if (type === 'Input.ChoiceSet' && key === 'choices' && Array.isArray(value)) {
      if (element.style === 'compact') continue;
      value.forEach((choice: { title?: string }, i) => {
        const title = choice.title ?? '';
        const live = liveMarkdown(title);
        if (/evil-\d+/.test(title) && live.length > 0)
          out.push(`${path}.choices[${i}].title: ${live.join(', ')} in ${JSON.stringify(title)}`);
      });
      continue;
    }
    if (!plain) misplaced(value, `${path}.${key}`, out);
  }
  return out;
}

function parseErrors(card: object): string[] {
  const parsed = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  parsed.parse(card, context);
  const errors: string[] = [];
  for (let i = 0; i < context.eventCount; i++) {
    const event = context.getEventAt(i);
    if (event.phase !== undefined && event.event !== undefined)
      errors.push(`${event.event}: ${event.message}`);
  }
  return errors;
}

/** Every TextBlock's text, as the Adaptive Cards SDK reads the card (what it renders as Markdown). */
function parsedTextBlocks(card: object): string[] {
  const parsed = new AC.AdaptiveCard();
  parsed.parse(card, new AC.SerializationContext());
  const texts: string[] = [];
  const walk = (element: { getItemCount?: () => number; getItemAt?: (i: number) => unknown }) => {
    if (element instanceof AC.TextBlock) texts.push((element as { text: string }).text);
    if (element instanceof AC.FactSet) {
      for (const fact of (element as unknown as { facts: Array<{ name: string; value: string }> })
        .facts)
        texts.push(fact.name, fact.value);
    }
    const count = element.getItemCount?.() ?? 0;
    for (let i = 0; i < count; i++) walk(element.getItemAt!(i) as never);
  };
  walk(parsed);
  return texts;
}

const ALL = everyCard();

describe('no Markdown from a person or an API renders on any card', () => {
  it("covers every card function the card files export, and the bot's other cards", () => {
    const cards = {
      ...approvalCards,
      ...historyCards,
      ...noticeCards,
      ...notificationCards,
      ...pickCards,
      ...requestCards,
      ...timeBoxCards,
    };
    const exported = Object.entries(cards)
      .filter(([name, value]) => typeof value === 'function' && /Card$/.test(name))
      .map(([name]) => name)
      .sort();
    const drawn = [...new Set(ALL.map((c) => c.by))];
    for (const name of exported) expect(drawn).toContain(name);
    expect(drawn).toContain('requestResultCard');
    // Every failure kind, in a personal chat and in a group chat.
    expect(ALL.filter((c) => c.name.startsWith('failed: ')).length).toBe(
      FAILURE_KINDS.length * 2 + 1,
    );
  });

  it.each(ALL.map((c) => [c.name, c.card] as const))(
    '%s: hostile values only in TextRuns (or other plain-text places)',
    (_name, card) => {
      expect(misplaced(card)).toEqual([]);
      expect(parseErrors(card as object)).toEqual([]);
      // What the SDK would render as Markdown carries none of the hostile values.
      expect(parsedTextBlocks(card as object).filter((t) => /evil-\d+/.test(t))).toEqual([]);
    },
  );

  it('hostile environment names on the picker are plain button titles or drop-down options', () => {
    const names = HOSTILE.map((h) => ({ ...environment(), displayName: h }));
    for (const candidates of [names.slice(0, 5), names]) {
      const card = pickCard({ query: 'q', candidates, total: candidates.length, requesterId: 'o' });
      expect(misplaced(card)).toEqual([]);
      expect(parsedTextBlocks(card as object).filter((t) => /evil-\d+/.test(t))).toEqual([]);
    }
    // Past five the names are a drop-down's options, which no renderer reads as Markdown.
    const list = pickCard({ query: 'q', candidates: names, total: names.length, requesterId: 'o' });
    const choiceSet = (
      list as unknown as {
        body: Array<{ type: string; style?: string; choices?: Array<{ title: string }> }>;
      }
    ).body.find((element) => element.type === 'Input.ChoiceSet')!;
    expect(choiceSet.style).toBe('compact');
    HOSTILE.forEach((h, i) =>
      expect(h.startsWith(choiceSet.choices![i]!.title.replace(/\u2026$/, ''))).toBe(true),
    );
  });

  it('the hostile values do reach the cards, and are shown as typed', () => {
    const runs = ALL.flatMap((c) => textRuns(c.card));
    for (const value of HOSTILE) {
      expect(runs.some((run) => run.includes(value))).toBe(true);
    }
    // The defect: the requester's name on the confirmation card, as typed, in a TextRun.
    const name = HOSTILE[0]!;
    const confirmation = confirmationCard(
      { ...request('requested'), requester: { aadObjectId: 'o', tenantId: 't', name } },
      { justificationRequired: true },
    );
    expect(textRuns(confirmation)).toContain(name);
    expect(misplaced(confirmation)).toEqual([]);
  });

  it('the sign-in card carries no user or API text at all', () => {
    const card = signInCard({ botId: 'bot-1', signInUrl: 'https://bot.example/auth-start.html' });
    expect(JSON.stringify(card)).not.toMatch(/evil-\d+/);
    expect(card.contentType).toBe('application/vnd.microsoft.card.oauth');
  });
});
