import {
  describeFilter,
  type ElevationNotification,
  filterMatches,
  outcomeNotification,
  parseSubscriptionFilter,
  refusalNotification,
} from '../../../src/elevation/notifications';
import type { ElevationRequest } from '../../../src/elevation/request';

const REQUEST: ElevationRequest = {
  id: 'req-1',
  state: 'executing',
  requester: {
    aadObjectId: 'oid-1',
    tenantId: 'tid-1',
    name: 'Alex Wilber',
    upn: 'alexw@x.example',
  },
  environment: {
    id: 'env-1',
    displayName: 'Contoso Prod',
    type: 'Production',
    dataverseUrl: 'https://contoso.crm.dynamics.com',
  },
  query: 'contoso prod',
  justification: 'INC-1',
  createdAt: '2026-11-26T10:00:00.000Z',
  updatedAt: '2026-11-26T10:00:00.000Z',
  expiresAt: '2026-11-26T10:10:00.000Z',
};

function inEnvironment(displayName: string, type = 'Sandbox'): ElevationNotification {
  return {
    id: 'n-1',
    kind: 'succeeded',
    at: '2026-11-26T10:00:00.000Z',
    tenantId: 'tid-1',
    requester: { aadObjectId: 'oid-1', name: 'Alex' },
    environment: { id: 'env', displayName, type },
  };
}

describe('notify here filters', () => {
  it.each([
    { text: undefined, filter: { kind: 'all' } },
    { text: '', filter: { kind: 'all' } },
    { text: 'for production', filter: { kind: 'type', type: 'production' } },
    { text: 'FOR Production', filter: { kind: 'type', type: 'production' } },
    { text: 'for developer', filter: { kind: 'type', type: 'developer' } },
    { text: 'for Contoso*', filter: { kind: 'name', pattern: 'Contoso*' } },
    { text: 'for "Contoso Dev"', filter: { kind: 'name', pattern: 'Contoso Dev' } },
    { text: 'for hr', filter: { kind: 'name', pattern: 'hr' } },
  ])('"$text" is read as a filter', ({ text, filter }) => {
    expect(parseSubscriptionFilter(text)).toEqual({ ok: true, filter });
  });

  // `notify here for prod` used to become a name filter (names containing "prod") without a word.
  it.each([
    { text: 'for prod', type: 'production' },
    { text: 'for prd', type: 'production' },
    { text: 'for Prod environments', type: 'production' },
    { text: 'for dev', type: 'developer' },
    { text: 'for devel', type: 'developer' },
    { text: 'for sandboxes', type: 'sandbox' },
    { text: 'for sand', type: 'sandbox' },
    { text: 'for trials', type: 'trial' },
    { text: 'for def', type: 'default' },
    { text: 'for team', type: 'teams' },
  ])('"$text" is read as the environment type $type', ({ text, type }) => {
    expect(parseSubscriptionFilter(text)).toEqual({ ok: true, filter: { kind: 'type', type } });
  });

  it.each([
    { text: 'for produktion', pattern: 'produktion', closeTo: 'production' },
    { text: 'for sandbax', pattern: 'sandbax', closeTo: 'sandbox' },
    { text: 'for Contoso', pattern: 'Contoso', closeTo: undefined },
    { text: 'for de', pattern: 'de', closeTo: undefined },
  ])(
    '"$text" stays a name pattern, flagged when it is close to a type',
    ({ text, pattern, closeTo }) => {
      const parsed = parseSubscriptionFilter(text);
      expect(parsed).toMatchObject({ ok: true, filter: { kind: 'name', pattern } });
      expect(parsed.ok && parsed.closeToType).toBe(closeTo);
    },
  );

  it.each([
    { text: 'production', problem: 'I did not understand' },
    { text: 'for', problem: 'I did not understand' },
    { text: 'for *', problem: 'matches everything' },
    { text: 'for **', problem: 'matches everything' },
    { text: `for ${'a'.repeat(101)}`, problem: 'at most 100' },
  ])('"$text" is refused with a reason', ({ text, problem }) => {
    const parsed = parseSubscriptionFilter(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toContain(problem);
  });

  it.each([
    { pattern: 'contoso', name: 'Contoso Dev', match: true },
    { pattern: 'DEV', name: 'Contoso Dev', match: true },
    { pattern: 'contoso*', name: 'Contoso Dev', match: true },
    { pattern: 'contoso*', name: 'Big Contoso', match: false },
    { pattern: '*prod', name: 'Contoso Prod', match: true },
    { pattern: '*prod', name: 'Contoso Production', match: false },
    { pattern: 'c*o d*', name: 'Contoso Dev', match: true },
    { pattern: 'a.b', name: 'axb', match: false },
    { pattern: '(x)', name: 'Team (x) env', match: true },
    { pattern: 'northwind', name: 'Contoso Dev', match: false },
  ])('name pattern "$pattern" against "$name": $match', ({ pattern, name, match }) => {
    expect(filterMatches({ kind: 'name', pattern }, inEnvironment(name))).toBe(match);
  });

  it('a type filter compares the environment type without regard to case', () => {
    const filter = { kind: 'type', type: 'production' } as const;
    expect(filterMatches(filter, inEnvironment('A', 'Production'))).toBe(true);
    expect(filterMatches(filter, inEnvironment('A', 'Sandbox'))).toBe(false);
  });

  it('a refusal before any environment was resolved reaches every channel; other filters need an environment', () => {
    const refusal = refusalNotification({
      id: 'n',
      at: new Date(),
      requester: REQUEST.requester,
      reason: 'not an admin',
      query: 'contoso prod',
    });
    expect(refusal.environment).toBeUndefined();
    for (const filter of [
      { kind: 'all' } as const,
      { kind: 'type', type: 'production' } as const,
      { kind: 'name', pattern: 'northwind' } as const,
    ]) {
      expect(filterMatches(filter, refusal)).toBe(true);
    }
    const withoutEnvironment = { ...inEnvironment('x'), environment: undefined };
    expect(filterMatches({ kind: 'type', type: 'production' }, withoutEnvironment)).toBe(false);
  });

  it('filters are described in words', () => {
    expect(describeFilter({ kind: 'all' })).toBe('every elevation, in every environment');
    expect(describeFilter({ kind: 'type', type: 'production' })).toBe(
      'elevations in production environments',
    );
    expect(describeFilter({ kind: 'name', pattern: 'hr' })).toContain('contains "hr"');
    expect(describeFilter({ kind: 'name', pattern: 'hr*' })).toContain('matches "hr*"');
  });
});

describe('notification snapshots', () => {
  it('a failure keeps its kind, code, message, status and ids', () => {
    const notification = outcomeNotification({
      id: 'n-2',
      at: new Date('2026-11-26T10:00:05Z'),
      request: REQUEST,
      outcome: {
        ok: false,
        kind: 'functional-error',
        errorCode: 'userNotPartOfSecurityGroup',
        message: 'x'.repeat(2000),
        details: [],
        response: {
          status: 200,
          statusText: 'OK',
          correlationId: 'corr-9',
          clientRequestId: 'cr-9',
          attempts: 1,
          durationMs: 3,
        },
      },
    });
    expect(notification).toMatchObject({
      kind: 'failed',
      at: '2026-11-26T10:00:05.000Z',
      requester: { name: 'Alex Wilber', upn: 'alexw@x.example' },
      environment: { id: 'env-1', displayName: 'Contoso Prod', type: 'Production' },
      justification: 'INC-1',
      requestId: 'req-1',
      outcome: {
        ok: false,
        kind: 'functional-error',
        errorCode: 'userNotPartOfSecurityGroup',
        status: '200 OK (with errors in the answer)',
        correlationId: 'corr-9',
        clientRequestId: 'cr-9',
      },
    });
    // A huge API message does not bloat every channel's card.
    expect(notification.outcome!.message!.length).toBe(500);
  });
});
