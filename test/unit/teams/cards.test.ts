import { historyCard } from '../../../src/teams/cards/history-card';
import { noticeCard } from '../../../src/teams/cards/notice-card';
import { notificationCard } from '../../../src/teams/cards/notification-card';
import { pickCard } from '../../../src/teams/cards/pick-card';
import { confirmationCard, requestStatusCard } from '../../../src/teams/cards/request-cards';
import type { ElevationRequest } from '../../../src/elevation/request';
import type { Environment } from '../../../src/elevation/vocabulary';
import { requestResultCard } from '../../../src/teams/replies';
import { markdownTexts, textRuns } from '../../support/card-inspection';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js');

const DEV: Environment = {
  id: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
  displayName: 'Contoso Dev',
  type: 'Sandbox',
  azureRegion: 'westeurope',
  geo: 'europe',
  dataverseUrl: 'https://contoso-dev.crm4.dynamics.com',
  domainName: 'contoso-dev',
};
const PROD: Environment = {
  ...DEV,
  id: '1f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
  displayName: 'Contoso Prod',
  type: 'Production',
};

function request(overrides: Partial<ElevationRequest> = {}): ElevationRequest {
  return {
    id: 'c5b1e1d2-0000-4000-8000-000000000001',
    state: 'requested',
    requester: {
      aadObjectId: 'oid-1',
      tenantId: 'tid-1',
      name: 'Alex Wilber',
      upn: 'alexw@contoso.example',
    },
    environment: DEV,
    query: 'contoso dev',
    createdAt: '2026-11-26T10:00:00.000Z',
    updatedAt: '2026-11-26T10:00:00.000Z',
    expiresAt: '2026-11-26T10:10:00.000Z',
    ...overrides,
  };
}

/** Parses a card with the Adaptive Cards SDK and returns its validation errors. */
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

describe('cards', () => {
  it('every card is a valid Adaptive Card 1.5 that the SDK parses without errors', () => {
    const granted = {
      ok: true as const,
      code: 'UserExists',
      details: ['SyncMode: Default'],
      response: {
        status: 200,
        statusText: 'OK',
        correlationId: 'corr-1',
        clientRequestId: 'cr-1',
        attempts: 1,
        durationMs: 5,
      },
    };
    const cards = [
      confirmationCard(request(), { justificationRequired: true }),
      requestStatusCard(request({ state: 'succeeded', outcome: granted, justification: 'INC-1' })),
      requestStatusCard(request({ state: 'cancelled' })),
      pickCard({ query: 'contoso', candidates: [DEV, PROD], total: 2, requesterId: 'oid-1' }),
      noticeCard({ title: 'No environment found', lines: ['x'] }),
      historyCard([request({ state: 'succeeded', outcome: granted, justification: 'INC-1' })], {
        title: 'Your recent elevations',
        empty: 'none',
        showRequester: false,
        older: { verb: 'history-page', data: { before: '2026-11-26T10:00:00.000Z' } },
        newer: { verb: 'history-page', data: { after: '2026-11-26T11:00:00.000Z' } },
      }),
      confirmationCard(request(), {
        justificationRequired: true,
        lastExecution: request({ state: 'succeeded', outcome: granted }),
      }),
      requestStatusCard(
        request({ state: 'cancelled', closedBecause: { kind: 'replaced', by: 'req-2' } }),
      ),
      historyCard([], { title: 'Recent', subtitle: 'x', empty: 'none', showRequester: true }),
    ];
    for (const card of cards) {
      expect(card.version).toBe('1.5');
      expect(parseErrors(card)).toEqual([]);
      expect(JSON.stringify(card)).not.toContain('${');
    }
  });

  it('the confirmation card shows the environment, the requester, a required justification and Elevate / Cancel', () => {
    const card = confirmationCard(request(), { justificationRequired: true });
    const text = JSON.stringify(card);
    for (const shown of [
      DEV.displayName,
      DEV.id,
      'Sandbox',
      'westeurope',
      DEV.dataverseUrl!,
      'Alex Wilber (alexw@contoso.example)',
    ]) {
      expect(text).toContain(shown);
    }
    const input = (card.body as Array<Record<string, unknown>>).find(
      (e) => e.type === 'Input.Text',
    );
    expect(input).toMatchObject({ id: 'justification', label: 'Justification', isRequired: true });
    const actions = card.actions as Array<Record<string, unknown>>;
    expect(actions.map((a) => [a.type, a.title, a.verb])).toEqual([
      ['Action.Execute', 'Elevate', 'elevate'],
      ['Action.Execute', 'Cancel', 'cancel'],
    ]);
    expect(actions[0]!.data).toEqual({ requestId: request().id });
    expect(text).not.toContain('Production');
  });

  it('a Production environment is visibly flagged', () => {
    const card = confirmationCard(request({ environment: PROD }), { justificationRequired: true });
    const warning = (card.body as Array<Record<string, unknown>>).find(
      (e) => e.color === 'Attention',
    );
    expect(warning?.text).toMatch(/Production/);
  });

  it('the justification input can be optional', () => {
    const card = confirmationCard(request(), { justificationRequired: false });
    const input = (card.body as Array<Record<string, unknown>>).find(
      (e) => e.type === 'Input.Text',
    );
    expect(input?.isRequired).toBe(false);
  });

  it('a justification with Markdown or a link is shown as plain text, never where Markdown is read', () => {
    const justification = '**urgent** [click me](https://evil.example/phish) _now_';
    const card = requestStatusCard(request({ state: 'cancelled', justification }));
    expect(textRuns(card)).toContain(justification);
    expect(markdownTexts(card).join('\n')).not.toContain('evil.example');
  });

  it('an environment name with Markdown is never read as Markdown', () => {
    const environment = { ...DEV, displayName: '[Contoso](https://evil.example)' };
    for (const card of [
      confirmationCard(request({ environment }), { justificationRequired: true }),
      requestStatusCard(request({ environment, state: 'expired' })),
      noticeCard({ title: 'x', lines: [`No environment matches "${environment.displayName}"`] }),
    ]) {
      expect(markdownTexts(card).join('\n')).not.toContain('evil.example');
      expect(textRuns(card).join('\n')).toContain('evil.example');
    }
  });

  it('a failure shows the status, the error code and the correlation id verbatim', () => {
    const card = requestStatusCard(
      request({
        state: 'failed',
        outcome: {
          ok: false,
          kind: 'functional-error',
          errorCode: 'userNotPartOfSecurityGroup',
          message: 'User X is not part of security group Y',
          details: ['InnerException: membership check failed'],
          response: {
            status: 200,
            statusText: 'OK',
            correlationId: 'a1b2c3d4-0000-4000-8000-00000000abcd',
            clientRequestId: 'cr-9',
            attempts: 1,
            durationMs: 3,
          },
        },
      }),
    );
    const runs = textRuns(card);
    expect(runs).toContain('a1b2c3d4-0000-4000-8000-00000000abcd');
    expect(runs).toContain('userNotPartOfSecurityGroup');
    // A 200 that carried a failure says so, and the reason comes first, in the headline.
    expect(runs).toContain('200 OK (with errors in the answer)');
    expect(runs[0]).toBe("❌ Elevation failed: you are not in the environment's security group");
    expect(runs).toContain('InnerException: membership check failed');
    expect(JSON.stringify(card)).toMatch(/Elevation failed/);
    expect(JSON.stringify(card)).toMatch(/security group/);
  });

  it('a success says the role stays, and keeps the API diagnostics out of the card', () => {
    const card = requestStatusCard(
      request({
        state: 'succeeded',
        outcome: {
          ok: true,
          code: 'UserExists',
          details: ['SyncMode: Default', 'SystemUser with Id:abc exists in instance'],
          response: {
            status: 200,
            statusText: 'OK',
            correlationId: 'corr-7',
            clientRequestId: 'cr-7',
            attempts: 1,
            durationMs: 4,
          },
        },
      }),
    );
    const text = JSON.stringify(card);
    expect(text).toContain('The role stays until it is removed');
    expect(text).not.toContain('SyncMode');
    expect(textRuns(card)).toContain('corr-7');
  });

  it('the confirmation card says the role is not temporary', () => {
    expect(JSON.stringify(confirmationCard(request(), { justificationRequired: true }))).toContain(
      'The role stays until it is removed',
    );
  });

  it('a security-group refusal says what to do about the security group', () => {
    const card = requestStatusCard(
      request({
        state: 'failed',
        outcome: {
          ok: false,
          kind: 'functional-error',
          errorCode: 'userNotPartOfSecurityGroup',
          message: 'User is not part of security group',
          details: [],
          response: { status: 200, clientRequestId: 'cr', attempts: 1, durationMs: 1 },
        },
      }),
    );
    expect(textRuns(card).join(' ')).toMatch(/members of the environment's security group/);
    expect(textRuns(card).join(' ')).not.toMatch(/Dataverse for Teams/);
  });

  it('an outcome without correlation id says so instead of showing nothing', () => {
    const card = requestStatusCard(
      request({
        state: 'failed',
        outcome: {
          ok: false,
          kind: 'timeout',
          message: 'No answer in 25 s',
          details: [],
          response: { clientRequestId: 'cr-2', attempts: 3, durationMs: 25000 },
        },
      }),
    );
    expect(textRuns(card)).toContain('none returned by the API');
    expect(textRuns(card)).toContain('no response, after 3 attempts');
  });

  it('a confirmation reached by a domain name says so in one plain-text line; an exact name says nothing', () => {
    const matched = confirmationCard(request({ environment: PROD }), {
      justificationRequired: true,
      matched: { field: 'the domain name', value: 'contoso' },
    });
    expect(textRuns(matched).join('')).toContain(
      'Why this environment: it matched the domain name contoso.',
    );
    expect(parseErrors(matched)).toEqual([]);
    const exact = confirmationCard(request({ environment: PROD }), { justificationRequired: true });
    expect(JSON.stringify(exact)).not.toContain('Why this environment');
  });

  /** Every Action.Execute on a card, wherever it sits (card actions or ActionSets in the body). */
  function executeActions(node: unknown, out: Array<Record<string, unknown>> = []) {
    if (Array.isArray(node)) node.forEach((n) => executeActions(n, out));
    else if (node && typeof node === 'object') {
      const element = node as Record<string, unknown>;
      if (element.type === 'Action.Execute') out.push(element);
      Object.values(element).forEach((child) => executeActions(child, out));
    }
    return out;
  }

  it('the pick card gives each candidate a button named after it, its details beside it, and a Cancel', () => {
    const card = pickCard({
      query: 'contoso',
      candidates: [DEV, PROD],
      total: 12,
      requesterId: 'oid-1',
    });
    const actions = executeActions(card);
    expect(actions.map((a) => [a.title, a.verb])).toEqual([
      ['Contoso Dev', 'pick'],
      ['Contoso Prod', 'pick'],
      ['Show all matches', 'environments-page'],
      ['Cancel', 'pick-cancel'],
    ]);
    // The ten not shown are reached through the list of everything the words match.
    expect(actions[2]!.data).toEqual({
      words: 'contoso',
      offset: '0',
      purpose: 'elevate',
      requesterId: 'oid-1',
    });
    expect(actions[0]!.data).toEqual({
      query: 'contoso',
      requesterId: 'oid-1',
      environmentId: DEV.id,
    });
    expect(actions[1]!.data).toEqual({
      query: 'contoso',
      requesterId: 'oid-1',
      environmentId: PROD.id,
    });
    expect(actions[3]!.data).toEqual({ requesterId: 'oid-1' });
    const runs = textRuns(card);
    expect(runs).toContain(`Sandbox · westeurope · ${DEV.id}`);
    expect(runs).toContain(`Production ⚠ · westeurope · ${PROD.id}`);
    expect(runs.join('\n')).toContain('10 more match');
    expect(JSON.stringify(card)).not.toContain('Input.ChoiceSet');
    expect(parseErrors(card)).toEqual([]);
  });

  it('long names are cut on the button and given whole beside it; equal names get told apart', () => {
    const long = { ...DEV, id: 'long', displayName: 'Contoso Customer Service Production Europe' };
    const twinA = { ...DEV, id: 'a', displayName: 'Shared', type: 'Sandbox' };
    const twinB = { ...DEV, id: 'b', displayName: 'Shared', type: 'Trial' };
    const card = pickCard({
      query: 'x',
      candidates: [long, twinA, twinB],
      total: 3,
      requesterId: 'r',
    });
    const titles = executeActions(card).map((a) => a.title as string);
    expect(titles[0]).toBe('Contoso Customer Service Pr…');
    expect(Array.from(titles[0]!)).toHaveLength(28);
    expect(titles.slice(1, 3)).toEqual(['Shared (Sandbox)', 'Shared (Trial)']);
    expect(textRuns(card)).toContain(`${long.displayName} · Sandbox · westeurope · long`);
  });

  it('more than five candidates are a list with one button, and Cancel', () => {
    const many = Array.from({ length: 7 }, (_, i) => ({
      ...DEV,
      id: `id-${i}`,
      displayName: `Env ${i}`,
    }));
    const card = pickCard({ query: 'env', candidates: many, total: 7, requesterId: 'oid-1' });
    const choiceSet = (card.body as Array<Record<string, unknown>>).find(
      (e) => e.type === 'Input.ChoiceSet',
    );
    expect((choiceSet?.choices as Array<{ value: string }>).map((c) => c.value)).toEqual(
      many.map((e) => e.id),
    );
    expect(executeActions(card).map((a) => [a.title, a.verb, a.data])).toEqual([
      ['Continue', 'pick', { query: 'env', requesterId: 'oid-1' }],
      ['Cancel', 'pick-cancel', { requesterId: 'oid-1' }],
    ]);
    expect(parseErrors(card)).toEqual([]);
  });

  it('a picker for the audit opens the audit, and one that found nothing offers the environments list', () => {
    const audit = pickCard({
      query: 'contoso',
      candidates: [DEV],
      total: 1,
      requesterId: 'oid-1',
      verb: 'audit-page',
      data: () => ({}),
    });
    expect(executeActions(audit)[0]).toMatchObject({
      verb: 'audit-page',
      data: { environmentId: DEV.id },
    });
    const nothing = pickCard({
      title: 'No environment found',
      lines: ['x'],
      query: 'zzz',
      candidates: [],
      total: 0,
      requesterId: 'oid-1',
      offerEnvironments: { purpose: 'elevate' },
    });
    expect(executeActions(nothing).map((a) => [a.title, a.verb, a.data])).toEqual([
      [
        'Show my environments',
        'environments-page',
        { words: '', offset: '0', purpose: 'elevate', requesterId: 'oid-1' },
      ],
    ]);
    expect(parseErrors(nothing)).toEqual([]);
  });

  it('a new card says when you last elevated there, in whole units, in a TextRun', () => {
    const ok = {
      ok: true as const,
      kind: 'granted' as const,
      response: { status: 200, clientRequestId: 'cr', attempts: 1, durationMs: 1 },
    };
    const lastAt = (minutesBefore: number, outcome: ElevationRequest['outcome']) =>
      request({
        state: outcome?.ok ? 'succeeded' : 'failed',
        outcome,
        updatedAt: new Date(
          Date.parse('2026-11-26T10:00:00.000Z') - minutesBefore * 60_000,
        ).toISOString(),
      });
    const line = (last: ElevationRequest) =>
      textRuns(
        confirmationCard(request(), { justificationRequired: true, lastExecution: last }),
      ).filter((t) => /^You (elevated|tried to elevate) here/.test(t));
    expect(line(lastAt(0.5, ok as never))).toEqual([
      'You elevated here less than a minute ago; it succeeded.',
    ]);
    expect(line(lastAt(1, ok as never))).toEqual(['You elevated here 1 minute ago; it succeeded.']);
    expect(line(lastAt(125, ok as never))).toEqual([
      'You elevated here 2 hours ago; it succeeded.',
    ]);
    const refused = {
      ok: false as const,
      kind: 'functional-error' as const,
      errorCode: 'userNotPartOfSecurityGroup',
      message: 'User is not part of security group',
      details: [],
      response: { status: 200, clientRequestId: 'cr', attempts: 1, durationMs: 1 },
    };
    expect(line(lastAt(60, refused))).toEqual([
      "You tried to elevate here 1 hour ago: Elevation failed: you are not in the environment's security group.",
    ]);
    expect(
      markdownTexts(confirmationCard(request(), { justificationRequired: true })).join('\n'),
    ).not.toContain('You elevated here');
  });
});

describe('notification card', () => {
  const base = {
    id: 'n-1',
    at: '2026-11-26T10:00:05.123Z',
    tenantId: 'tid-1',
    requester: { aadObjectId: 'oid-1', name: 'Alex Wilber', upn: 'alexw@contoso.example' },
    environment: { id: PROD.id, displayName: PROD.displayName, type: 'Production' },
    justification: '**urgent** [click me](https://evil.example/phish)',
    requestId: 'req-1',
  };
  const succeeded = notificationCard({
    ...base,
    kind: 'succeeded',
    outcome: {
      ok: true,
      kind: 'succeeded',
      status: '200 OK',
      correlationId: 'corr-1',
      clientRequestId: 'cr-1',
    },
  });
  const failed = notificationCard({
    ...base,
    kind: 'failed',
    outcome: {
      ok: false,
      kind: 'functional-error',
      message: 'The user is not a member of the security group.',
      errorCode: 'userNotPartOfSecurityGroup',
      status: '200 OK',
      clientRequestId: 'cr-2',
    },
  });
  const refused = notificationCard({
    ...base,
    kind: 'refused',
    environment: undefined,
    justification: undefined,
    query: 'contoso [prod](https://evil.example)',
    reason: 'No tenant admin role.',
  });

  it('is a valid Adaptive Card for a success, a failure and a refusal', () => {
    for (const card of [succeeded, failed, refused]) {
      expect(parseErrors(card)).toEqual([]);
      expect(JSON.stringify(card)).not.toContain('${');
    }
  });

  it('says who, where, why, the outcome, the correlation id and the time', () => {
    const text = textRuns(succeeded).join('\n');
    for (const shown of [
      'Alex Wilber (alexw@contoso.example)',
      'oid-1',
      PROD.displayName,
      PROD.id,
      'Production ⚠',
      base.justification,
      'Succeeded',
      '200 OK',
      'corr-1',
      'cr-1',
      '2026-11-26 10:00:05 UTC',
    ]) {
      expect(text).toContain(shown);
    }
    expect(textRuns(succeeded).join('\n')).toContain('Elevation succeeded');
  });

  it('marks a failure, and says when the API returned no correlation id', () => {
    expect(textRuns(failed).join('\n')).toContain('Elevation FAILED');
    const text = textRuns(failed).join('\n');
    expect(text).toContain('Failed (functional-error)');
    expect(text).toContain('userNotPartOfSecurityGroup');
    expect(text).toContain('The user is not a member of the security group.');
    expect(text).toContain('none returned by the API');
  });

  it('a refusal names the person and what they asked for', () => {
    expect(textRuns(refused).join('\n')).toContain('Elevation refused: not a tenant admin');
    const text = textRuns(refused).join('\n');
    expect(text).toContain('contoso [prod](https://evil.example)');
    expect(text).toContain('No tenant admin role.');
    expect(text).not.toContain('Correlation id');
  });

  it('user and API text never reaches a place where Markdown is read', () => {
    for (const card of [succeeded, failed, refused]) {
      const markdown = markdownTexts(card).join('\n');
      expect(markdown).not.toContain('evil.example');
      expect(markdown).not.toContain('Alex Wilber');
      expect(markdown).not.toContain(PROD.displayName);
    }
  });
});

describe('history card', () => {
  it('keeps user and API text out of Markdown, and offers Older only when there is more', () => {
    const justification = '[click me](https://evil.example) **now**';
    const card = historyCard([request({ state: 'cancelled', justification, environment: PROD })], {
      title: 'Your recent elevations',
      empty: 'none',
      showRequester: true,
    });
    expect(markdownTexts(card).join('\n')).not.toContain('evil.example');
    expect(markdownTexts(card).join('\n')).not.toContain(PROD.displayName);
    expect(textRuns(card).join('\n')).toContain(`Justification: ${justification}`);
    expect(textRuns(card).join('\n')).toContain('Alex Wilber (alexw@contoso.example)');
    expect(card.actions).toEqual([]);
  });
});

describe('a failed listing of environments', () => {
  it('says the attempts the bot made, like an outcome card', () => {
    const card = requestResultCard(
      {
        kind: 'listing-failed',
        failure: {
          ok: false,
          kind: 'upstream-unavailable',
          message: 'HTTP 502 Bad Gateway: The response was an HTML page',
          details: [],
          response: {
            status: 502,
            statusText: 'Bad Gateway',
            correlationId: 'corr-5',
            clientRequestId: 'cr-5',
            attempts: 4,
            durationMs: 900,
          },
        },
      },
      { aadObjectId: 'oid-1', tenantId: 'tid-1', name: 'Alex Wilber' },
    );
    expect(textRuns(card)).toContain('HTTP status: 502 Bad Gateway, after 4 attempts');
  });
});
