/**
 * What users see of time-boxed elevation (issue #13): the duration choice on the confirmation,
 * the time box on the status card, the reminder, the end, `elevations` and `who is elevated`, and
 * the channel card of a removal. Buttons are checked by the verbs and data the handlers read.
 */
import type { ElevationNotification } from '../../../src/elevation/notifications';
import type { RemovalEnding } from '../../../src/elevation/removal-text';
import type { ElevationRequest, TimeBox } from '../../../src/elevation/request';
import type { Environment } from '../../../src/elevation/vocabulary';
import { notificationCard } from '../../../src/teams/cards/notification-card';
import { confirmationCard, requestStatusCard } from '../../../src/teams/cards/request-cards';
import { outcomeMessage, removalMessage } from '../../../src/teams/replies';
import {
  elevationsCard,
  reminderCard,
  reminderSummary,
  removalEndedCard,
  removalSummary,
  type TimeBoxedRequest,
  whoIsElevatedCard,
} from '../../../src/teams/cards/time-box-cards';
import { formatMinutes } from '../../../src/elevation/duration';
import { clockIn } from '../../../src/teams/cards/local-time';
import { durationChoices } from '../../../src/teams/cards/time-box-look';
import { markdownTexts, textRuns } from '../../support/card-inspection';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js');

const DEV: Environment = {
  id: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
  displayName: 'Contoso Dev',
  type: 'Sandbox',
  dataverseUrl: 'https://contoso-dev.crm4.dynamics.com',
};

const GRANTED_AT = '2026-11-26T14:40:00.000Z';
const NOW = new Date('2026-11-26T14:48:00.000Z');

function request(overrides: Partial<ElevationRequest> = {}): ElevationRequest {
  return {
    id: 'req-1',
    state: 'requested',
    requester: { aadObjectId: 'oid-1', tenantId: 'tid-1', name: 'Alex Wilber' },
    environment: DEV,
    query: 'contoso dev',
    justification: 'INC-42',
    createdAt: GRANTED_AT,
    updatedAt: GRANTED_AT,
    expiresAt: '2026-11-26T14:50:00.000Z',
    minutes: 60,
    ...overrides,
  };
}

function timeBoxed(box: Partial<TimeBox> = {}, overrides: Partial<ElevationRequest> = {}) {
  return request({
    state: 'succeeded',
    outcome: {
      ok: true,
      code: 'UserExists',
      details: [],
      response: { status: 200, clientRequestId: 'cr', attempts: 1, durationMs: 1 },
    },
    timeBox: {
      phase: 'active',
      grantedAt: GRANTED_AT,
      endsAt: '2026-11-26T15:40:00.000Z',
      latestEnd: '2026-11-26T22:40:00.000Z',
      attempts: 0,
      extensions: [],
      ...box,
    },
    ...overrides,
  }) as TimeBoxedRequest;
}

interface Action {
  type: string;
  title: string;
  verb?: string;
  data?: Record<string, string>;
  associatedInputs?: string;
  card?: { body: Array<Record<string, unknown>>; actions: Action[] };
}

/** Every action a user can press, the ones inside an Extend's ShowCard included. */
function actions(node: unknown, out: Action[] = []): Action[] {
  if (Array.isArray(node)) node.forEach((n) => actions(n, out));
  else if (node && typeof node === 'object') {
    const element = node as Record<string, unknown>;
    if (typeof element.type === 'string' && element.type.startsWith('Action.'))
      out.push(element as unknown as Action);
    Object.values(element).forEach((child) => actions(child, out));
  }
  return out;
}

function verbs(card: unknown): string[] {
  return actions(card)
    .filter((a) => a.type === 'Action.Execute')
    .map((a) => a.verb!);
}

/** Every element of a type, anywhere (inside ShowCards too). */
function elements(node: unknown, type: string, out: Array<Record<string, unknown>> = []) {
  if (Array.isArray(node)) node.forEach((n) => elements(n, type, out));
  else if (node && typeof node === 'object') {
    const element = node as Record<string, unknown>;
    if (element.type === type) out.push(element);
    Object.values(element).forEach((child) => elements(child, type, out));
  }
  return out;
}

/** The SDK's parse events and its validation (duplicate input ids among them). */
function problems(card: object): string[] {
  const parsed = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  parsed.parse(card, context);
  const found: string[] = [];
  for (let i = 0; i < context.eventCount; i++) {
    const event = context.getEventAt(i);
    if (event.phase !== undefined && event.event !== undefined)
      found.push(`${event.event}: ${event.message}`);
  }
  const validation = parsed.validateProperties();
  for (const event of validation.validationEvents ?? []) found.push(event.message);
  return found;
}

function fullText(card: unknown): string {
  return textRuns(card).join('');
}

/** A fact's value: facts are a ColumnSet of a TextBlock title and a TextRun value. */
function factValue(card: unknown, title: string): string | undefined {
  const row = elements(card, 'ColumnSet').find((set) => markdownTexts(set)[0] === title);
  return row ? textRuns(row)[0] : undefined;
}

describe('the confirmation card offers a duration', () => {
  const durations = { defaultMinutes: 60, maxMinutes: 480 };

  it('choices: the default, 30 min, 1, 2, 4, 8 hours up to the maximum, and the asked one', () => {
    expect(durationChoices(60, durations)).toEqual([30, 60, 120, 240, 480]);
    expect(durationChoices(90, durations)).toEqual([30, 60, 90, 120, 240, 480]);
    expect(durationChoices(undefined, { defaultMinutes: 45, maxMinutes: 120 })).toEqual([
      30, 45, 60, 120,
    ]);
    // A longer ask is refused before any card; the card never offers past the maximum.
    expect(durationChoices(600, durations)).not.toContain(600);
  });

  it('a compact drop-down named minutes, the asked duration chosen, each with its end', () => {
    const card = confirmationCard(request({ minutes: 90 }), {
      justificationRequired: true,
      durations,
      timeZone: 'Europe/Paris',
    });
    const [choiceSet] = elements(card, 'Input.ChoiceSet');
    expect(choiceSet).toMatchObject({ id: 'minutes', style: 'compact', value: '90' });
    const choices = choiceSet!.choices as Array<{ title: string; value: string }>;
    expect(choices.map((c) => c.value)).toEqual(['30', '60', '90', '120', '240', '480']);
    // 14:40 UTC is 15:40 in Paris in November.
    expect(choices[1]).toEqual({ title: '1 hour (until 16:40)', value: '60' });
    expect(choices[2]!.title).toBe('1 hour 30 minutes (until 17:10)');
    expect(textRuns(card)).toContain('Until 17:10 (your time) if you elevate now.');
    expect(fullText(card)).toContain('The role is removed again when the chosen time is up.');
    expect(fullText(card)).not.toContain('stays until it is removed');
    // Elevate sends the inputs (minutes and justification); Cancel sends none.
    const elevate = actions(card).find((a) => a.verb === 'elevate')!;
    expect(elevate.associatedInputs).toBe('auto');
    expect(elevate.data).toEqual({ requestId: 'req-1' });
    expect(problems(card)).toEqual([]);
  });

  it('names UTC when Teams gave no time zone, and counts from when the card is drawn', () => {
    const card = confirmationCard(request({ minutes: undefined }), {
      justificationRequired: false,
      durations: { defaultMinutes: 120, maxMinutes: 240 },
      now: new Date('2026-11-26T23:00:00.000Z'),
    });
    expect(textRuns(card)).toContain('Until tomorrow 01:00 UTC if you elevate now.');
    const [choiceSet] = elements(card, 'Input.ChoiceSet');
    expect(choiceSet!.value).toBe('120');
    expect((choiceSet!.choices as Array<{ title: string }>).map((c) => c.title)).toEqual([
      '30 minutes (until 23:30 UTC)',
      '1 hour (until tomorrow 00:00 UTC)',
      '2 hours (until tomorrow 01:00 UTC)',
      '4 hours (until tomorrow 03:00 UTC)',
    ]);
  });

  it('in a group chat the line names the requester instead of "you"', () => {
    const card = confirmationCard(request(), {
      justificationRequired: true,
      durations,
      shared: true,
    });
    expect(textRuns(card)).toContain('Until 15:40 UTC if Alex Wilber elevates now.');
  });

  it('times: the day is named when it is not today where the user is, durations in words', () => {
    const from = '2026-11-26T22:30:00.000Z';
    // 22:30 UTC is already the 27th in Tokyo: 23:30 UTC is the same day there.
    expect(clockIn('2026-11-26T23:30:00.000Z', 'Asia/Tokyo', from)).toBe('08:30 (your time)');
    expect(clockIn('2026-11-26T23:30:00.000Z', undefined, from)).toBe('23:30 UTC');
    expect(clockIn('2026-11-27T00:30:00.000Z', undefined, from)).toBe('tomorrow 00:30 UTC');
    expect(clockIn('2026-11-28T10:00:00.000Z', 'Not/AZone', from)).toBe('Sat 28 Nov 10:00 UTC');
    expect([1, 30, 60, 90, 480].map(formatMinutes)).toEqual([
      '1 minute',
      '30 minutes',
      '1 hour',
      '1 hour 30 minutes',
      '8 hours',
    ]);
  });

  it('without durations (time-boxing off) it offers none and says the role stays', () => {
    const card = confirmationCard(request(), { justificationRequired: true });
    expect(elements(card, 'Input.ChoiceSet')).toEqual([]);
    expect(fullText(card)).toContain('The role stays until it is removed.');
  });
});

describe('the status card of a time-boxed elevation', () => {
  it('while active: until when, how long is left, I am done and Extend with a justification', () => {
    const card = requestStatusCard(timeBoxed(), {
      now: NOW,
      timeZone: 'Europe/Paris',
      extendMinutes: 60,
    });
    expect(textRuns(card)).toContain('Until 16:40 (your time) · 52 minutes left');
    expect(factValue(card, 'Time box')).toBe('Active');
    expect(fullText(card)).not.toContain('stays until it is removed');
    expect(verbs(card)).toEqual(['done', 'extend']);
    const done = actions(card).find((a) => a.verb === 'done')!;
    expect(done).toMatchObject({ title: "I'm done", associatedInputs: 'none' });
    expect(done.data).toEqual({ requestId: 'req-1' });
    const showCard = actions(card).find((a) => a.type === 'Action.ShowCard')!;
    expect(showCard.title).toBe('Extend');
    expect(showCard.card!.body[0]).toMatchObject({
      type: 'Input.Text',
      id: 'extendJustification',
      isRequired: true,
    });
    expect(showCard.card!.actions[0]).toMatchObject({
      verb: 'extend',
      title: 'Extend to 17:40 (your time)',
      data: { requestId: 'req-1' },
    });
    expect(problems(card)).toEqual([]);
  });

  it('lists the extensions, and at the latest end offers no Extend and says why', () => {
    const card = requestStatusCard(
      timeBoxed({
        endsAt: '2026-11-26T22:40:00.000Z',
        extensions: [{ at: '2026-11-26T15:30:00.000Z', minutes: 420, justification: 'P1 outage' }],
      }),
      { now: NOW },
    );
    expect(factValue(card, 'Extended')).toBe('by 7 hours at 15:30 UTC: P1 outage');
    expect(verbs(card)).toEqual(['done']);
    expect(fullText(card)).toContain('cannot be extended past 22:40 UTC, 8 hours after the grant');
  });

  it('overdue because the bot had no token: Remove now only', () => {
    const card = requestStatusCard(
      timeBoxed({ phase: 'overdue', overdueSince: '2026-11-26T15:41:00.000Z' }),
      { now: new Date('2026-11-26T15:52:00.000Z') },
    );
    expect(verbs(card)).toEqual(['remove-now']);
    expect(textRuns(card)).toContain('Was due at 15:40 UTC · 12 minutes late');
    expect(fullText(card)).toContain('press Remove now');
  });

  it('overdue because Dataverse refused: no button, the admin center instead', () => {
    const card = requestStatusCard(
      timeBoxed({
        phase: 'overdue',
        lastRemoval: {
          kind: 'refused',
          status: 403,
          requestId: 'dv-9',
          message: 'no',
          at: '2026-11-26T15:41:00.000Z',
        },
      }),
      { now: new Date('2026-11-26T15:52:00.000Z') },
    );
    expect(verbs(card)).toEqual([]);
    expect(fullText(card)).toContain('https://admin.powerplatform.microsoft.com');
    expect(factValue(card, 'Dataverse request id')).toBe('dv-9');
  });

  it.each([
    [
      'removed',
      {
        phase: 'removed',
        endedAt: '2026-11-26T15:41:00.000Z',
        lastRemoval: { kind: 'removed', status: 204, at: '2026-11-26T15:41:00.000Z' },
      },
      'Removed at 15:41 UTC',
    ],
    ['kept', { phase: 'kept' }, 'Kept: held before this elevation, so not removed'],
  ] as const)('once final (%s): the phase, and no button', (_name, box, phase) => {
    const card = requestStatusCard(timeBoxed(box as Partial<TimeBox>), {
      now: new Date('2026-11-26T16:00:00.000Z'),
    });
    expect(factValue(card, 'Time box')).toBe(phase);
    expect(factValue(card, 'Removal HTTP status')).toBe(
      box.phase === 'removed' ? '204 No Content' : undefined,
    );
    // A role held before is not removed, so its card names no end.
    expect(factValue(card, 'Ends at')).toBe(box.phase === 'kept' ? undefined : '15:40 UTC');
    expect(actions(card)).toEqual([]);
    // The grant's "you are System Administrator" is not what happened: the card says it is over
    // (removed), or that the role was held already (kept).
    expect(textRuns(card)[0]).toMatch(
      box.phase === 'removed'
        ? /^🔒 Elevation over: System Administrator removed/
        : /^✅ Elevated: you already held System Administrator, so it is kept/,
    );
    expect(fullText(card)).not.toContain('you now hold');
  });

  it('a request that is not time-boxed keeps the card it had', () => {
    const plain = request({ state: 'succeeded', outcome: timeBoxed().outcome });
    expect(verbs(requestStatusCard(plain))).toEqual([]);
    expect(fullText(requestStatusCard(plain))).toContain('stays until it is removed');
  });
});

describe('the reminder', () => {
  it('says where and when it ends, with I am done and Extend', () => {
    const card = reminderCard(timeBoxed(), {
      now: new Date('2026-11-26T15:30:00.000Z'),
      extendMinutes: 60,
    });
    expect(textRuns(card)[0]).toBe(
      '⏳ Your elevation in Contoso Dev ends at 15:40 UTC, in 10 minutes',
    );
    expect(verbs(card)).toEqual(['done', 'extend']);
    expect(problems(card)).toEqual([]);
  });

  it('at the latest end it offers I am done only, and says why', () => {
    const card = reminderCard(timeBoxed({ endsAt: '2026-11-26T22:40:00.000Z' }), {
      now: new Date('2026-11-26T22:30:00.000Z'),
    });
    expect(verbs(card)).toEqual(['done']);
    expect(fullText(card)).toContain('cannot be extended past 22:40 UTC, 8 hours after the grant');
  });
});

describe('the end of an elevation', () => {
  /** Written by hand, not taken from node:http: what the reader must see. */
  const STATUS_TEXT: Record<number, string> = {
    200: '200 OK',
    204: '204 No Content',
    403: '403 Forbidden',
    404: '404 Not Found',
    429: '429 Too Many Requests',
  };
  const endings: Array<[RemovalEnding, string[], string | undefined]> = [
    [{ kind: 'removed', status: 204, requestId: 'dv-1' }, [], 'dv-1'],
    [{ kind: 'already-gone', status: 404, requestId: 'dv-2', detail: '404' }, [], 'dv-2'],
    [{ kind: 'removed-by-microsoft', status: 200 }, [], 'none returned by Dataverse'],
    [{ kind: 'kept' }, [], undefined],
    [{ kind: 'refused', status: 403, requestId: 'dv-3', message: 'denied' }, [], 'dv-3'],
    [
      { kind: 'unavailable', status: 429, retryAfterMs: 60_000, message: 'slow' },
      [],
      'none returned by Dataverse',
    ],
    [
      { kind: 'token-unavailable', reason: 'refused', message: 'AADSTS50076' },
      ['remove-now'],
      undefined,
    ],
  ];

  it.each(endings.map((e) => [e[0].kind, ...e] as const))(
    '%s: "has ended", the right buttons, and Dataverse\'s request id when it was asked',
    (_kind, ending, expectedVerbs, requestId) => {
      const card = removalEndedCard(timeBoxed({ phase: 'removed' }), ending, {
        now: new Date('2026-11-26T15:43:00.000Z'),
      });
      expect(textRuns(card)[0]).toMatch(/ Your elevation in Contoso Dev has ended$/);
      expect(verbs(card)).toEqual(expectedVerbs);
      expect(factValue(card, 'Dataverse request id')).toBe(requestId);
      // Dataverse's status written as the grant's is ("200 OK"), only when Dataverse was asked.
      const status = 'status' in ending ? ending.status : undefined;
      expect(factValue(card, 'HTTP status')).toBe(status && STATUS_TEXT[status]);
      // Nothing was removed from a kept role, so it is never late.
      expect(factValue(card, 'Late by')).toBe(ending.kind === 'kept' ? undefined : '3 minutes');
      expect(problems(card)).toEqual([]);
    },
  );

  it('names the requester where others read it, "you" where the sender says only they do', () => {
    const inGroup = timeBoxed(
      {},
      { conversation: { conversation: { conversationType: 'groupChat' } } },
    );
    const ending: RemovalEnding = { kind: 'token-unavailable', reason: 'refused', message: 'x' };
    expect(textRuns(removalEndedCard(inGroup, ending, { now: NOW }))[0]).toBe(
      "🚨 Alex Wilber's elevation in Contoso Dev has ended",
    );
    const personal = removalEndedCard(inGroup, ending, { now: NOW, shared: false });
    expect(textRuns(personal)[0]).toBe('🚨 Your elevation in Contoso Dev has ended');
    expect(fullText(personal)).toContain('Press Remove now: it signs you in');
  });

  it('an early end says so and is never "late"', () => {
    const card = removalEndedCard(
      timeBoxed(),
      { kind: 'removed', status: 204 },
      { now: NOW, early: true },
    );
    expect(fullText(card)).toContain('You ended the elevation before its time');
    expect(factValue(card, 'Late by')).toBeUndefined();
    expect(factValue(card, 'Was to end at')).toBe('15:40 UTC');
  });

  it("a delayed removal says when the bot tries again, in the user's time", () => {
    const card = removalEndedCard(
      timeBoxed(),
      { kind: 'unavailable', message: 'No answer.' },
      {
        now: new Date('2026-11-26T15:41:00.000Z'),
        timeZone: 'Europe/Paris',
        nextAttempt: new Date('2026-11-26T15:46:00.000Z'),
      },
    );
    expect(fullText(card)).toContain('the bot tries again at 16:46 (your time)');
  });
});

describe('elevations and who is elevated', () => {
  it('elevations: each active one with its time left and its buttons; one justification input', () => {
    const second = timeBoxed(
      { endsAt: '2026-11-26T22:40:00.000Z' },
      {
        id: 'req-2',
        environment: { ...DEV, id: 'e2', displayName: 'Contoso Prod', type: 'Production' },
      },
    );
    const overdue = timeBoxed({ phase: 'overdue' }, { id: 'req-3' });
    const card = elevationsCard([timeBoxed(), second, overdue], { now: NOW, extendMinutes: 60 });
    const runs = textRuns(card);
    expect(runs).toContain('Until 15:40 UTC · 52 minutes left');
    expect(runs).toContain('Until 22:40 UTC · 7 hours 52 minutes left');
    expect(runs).toContain('It cannot be extended past 22:40 UTC, 8 hours after the grant.');
    expect(actions(card).map((a) => `${a.verb}:${a.data?.requestId}`)).toEqual([
      'done:req-1',
      'extend:req-1',
      'done:req-2',
      'remove-now:req-3',
    ]);
    expect(runs).toContain('Was due at 15:40 UTC');
    expect(runs).toContain('Overdue: the role is still there since 15:40 UTC');
    expect(elements(card, 'Input.Text').map((i) => i.id)).toEqual(['extendJustification']);
    expect(problems(card)).toEqual([]);
  });

  it('elevations: an empty state that says how to start one', () => {
    const card = elevationsCard([], { now: NOW });
    expect(fullText(card)).toContain('You have no active elevation');
    expect(elements(card, 'Input.Text')).toEqual([]);
    expect(actions(card)).toEqual([]);
    expect(problems(card)).toEqual([]);
  });

  it('who is elevated: who, where, since, until, justification, phase; capped with a count', () => {
    const many = Array.from({ length: 30 }, (_, i) =>
      timeBoxed(
        {},
        {
          id: `req-${i}`,
          requester: {
            aadObjectId: `o${i}`,
            tenantId: 't',
            name: `User ${i}`,
            upn: `u${i}@contoso.example`,
          },
        },
      ),
    );
    const card = whoIsElevatedCard(many, { now: NOW, limit: 25, total: 40 });
    const runs = textRuns(card);
    expect(runs).toContain('User 0 (u0@contoso.example)');
    expect(runs).toContain('User 24 (u24@contoso.example)');
    expect(runs).not.toContain('User 25 (u25@contoso.example)');
    expect(runs).toContain('Since 14:40 UTC · Until 15:40 UTC · 52 minutes left');
    expect(runs).toContain('Justification: INC-42');
    expect(runs).toContain('Phase: Active');
    expect(runs).toContain('40 active elevations in the tenant, soonest end first.');
    expect(runs).toContain('…and 15 more, not shown. Each is in the audit of its environment.');
    expect(actions(card)).toEqual([]);
    expect(problems(card)).toEqual([]);
    expect(fullText(whoIsElevatedCard([], { now: NOW }))).toContain('Nobody is elevated');
  });
});

describe('the channel card of a removal', () => {
  function removal(
    kind: ElevationNotification['kind'],
    details: NonNullable<ElevationNotification['removal']>,
  ): ElevationNotification {
    return {
      id: 'n',
      kind,
      at: '2026-11-26T15:47:00.000Z',
      tenantId: 't',
      requester: { aadObjectId: 'o', name: 'Alex Wilber' },
      environment: { id: DEV.id, displayName: DEV.displayName, type: DEV.type },
      justification: 'INC-42',
      requestId: 'req-1',
      removal: details,
    };
  }

  it('role removed: the result, when it was to end and ended, how late, Dataverse request id', () => {
    const card = notificationCard(
      removal('role-removed', {
        kind: 'removed',
        status: 204,
        requestId: 'dv-1',
        endsAt: '2026-11-26T15:40:00.000Z',
      }),
    );
    expect(factValue(card, 'Result')).toBe('Removed');
    expect(factValue(card, 'Was to end at')).toBe('2026-11-26 15:40:00 UTC');
    expect(factValue(card, 'Ended at')).toBe('2026-11-26 15:47:00 UTC');
    expect(factValue(card, 'Late by')).toBe('7 minutes');
    expect(factValue(card, 'Dataverse request id')).toBe('dv-1');
    expect(factValue(card, 'HTTP status')).toBe('204 No Content');
    // Not the grant's outcome: no "Refused before any call" on a removal.
    expect(fullText(card)).not.toContain('Refused before any call');
    expect(problems(card)).toEqual([]);
  });

  it('an early end says so; overdue says how overdue and why, without a Dataverse id it never got', () => {
    const early = notificationCard(
      removal('role-removed', {
        kind: 'removed',
        status: 204,
        endsAt: '2026-11-26T16:40:00.000Z',
        early: true,
      }),
    );
    expect(factValue(early, 'Ended early')).toMatch(/^Yes/);
    expect(factValue(early, 'Late by')).toBeUndefined();
    expect(fullText(early)).toContain('removed early');
    const overdue = notificationCard(
      removal('removal-overdue', {
        kind: 'token-unavailable',
        message: 'AADSTS50076',
        endsAt: '2026-11-26T15:40:00.000Z',
      }),
    );
    expect(factValue(overdue, 'Result')).toMatch(/Remove now needed/);
    expect(factValue(overdue, 'Reason')).toBe('AADSTS50076');
    expect(factValue(overdue, 'Overdue by')).toBe('7 minutes');
    expect(factValue(overdue, 'Dataverse request id')).toBeUndefined();
  });
});

describe('the chat messages and summaries of a time box', () => {
  it('the outcome message of a time-boxed grant says until when; one without a time box does not', () => {
    const text = outcomeMessage(timeBoxed(), { timeZone: 'Europe/Paris' })!.text!;
    expect(text).toContain('Until 16:40 (your time): then the role is removed again.');
    const plain = request({ state: 'succeeded', outcome: timeBoxed().outcome });
    expect(outcomeMessage(plain)!.text).not.toContain('Until');
  });

  it('the end as plain text: headline, why with the Dataverse request id, and what to do', () => {
    const message = removalMessage(timeBoxed(), {
      kind: 'refused',
      status: 403,
      requestId: 'dv-7',
      message: 'Missing privilege.',
    });
    expect(message.textFormat).toBe('plain');
    const [headline, explanation, next] = message.text!.split('\n\n');
    expect(headline).toBe(
      '❌ Removal refused in Contoso Dev: you still hold System Administrator.',
    );
    expect(explanation).toContain('Missing privilege.');
    expect(explanation).toContain('Dataverse request id: dv-7.');
    expect(next).toMatch(/^What to do: Remove the role in the Power Platform admin center/);
    const removed = removalMessage(timeBoxed(), { kind: 'removed', status: 204 }, { early: true });
    expect(removed.text!.split('\n\n')).toHaveLength(2);
  });

  it('one-line summaries for the activity feed', () => {
    expect(reminderSummary(timeBoxed(), { now: NOW })).toBe(
      'Your elevation in Contoso Dev ends at 15:40 UTC',
    );
    expect(removalSummary(timeBoxed(), { kind: 'kept' })).toBe(
      'System Administrator kept in Contoso Dev',
    );
  });
});
