/**
 * What one rule allows, as tables: the duration (the rule's default and maximum, the settings
 * otherwise), the justification (required, length, pattern with its help), the allowed hours in
 * the rule's time zone, and the rate limits with when the next elevation is allowed.
 */
import {
  durationFor,
  hoursCheck,
  justificationProblem,
  rateCheck,
} from '../../../src/policy/checks';
import type { AllowedHours, PolicyRule } from '../../../src/policy/policy';

const SETTINGS = { defaultMinutes: 60, maxMinutes: 480 };
const bare: PolicyRule = { name: 'open', match: {} };
const production: PolicyRule = {
  name: 'production',
  match: { types: ['Production'] },
  defaultMinutes: 30,
  maxMinutes: 120,
  justification: {
    required: true,
    minLength: 8,
    pattern: '^(INC|CHG)\\d+',
    patternHelp: 'Start with the ticket: INC1234 or CHG1234.',
  },
};

describe('durationFor', () => {
  it.each<[string, PolicyRule, number | undefined, number | string]>([
    ['the rule default when none is asked', production, undefined, 30],
    ['the settings default without a rule default', bare, undefined, 60],
    ['what is asked, within the rule maximum', production, 120, 120],
    [
      'longer than the rule allows: refused naming the rule and its maximum',
      production,
      121,
      "The rule 'production' allows at most 2 hours here. Ask again for 2 hours or less.",
    ],
    [
      'longer than the settings allow, the rule saying nothing',
      bare,
      481,
      'An elevation lasts at most 8 hours (ELEVATION_MAX_MINUTES). Ask again for 8 hours or less.',
    ],
    [
      'zero minutes',
      production,
      0,
      'An elevation lasts at least 1 minute; ask for a duration such as 30m or 2h.',
    ],
    ['a rule maximum above the settings wins', { ...bare, maxMinutes: 600 }, 600, 600],
    [
      'the settings default capped by a lower rule maximum',
      { ...bare, maxMinutes: 45 },
      undefined,
      45,
    ],
  ])('%s', (_case, rule, asked, expected) => {
    const result = durationFor(rule, asked, SETTINGS);
    if (typeof expected === 'number') expect(result).toEqual({ ok: true, minutes: expected });
    else expect(result).toMatchObject({ ok: false, problem: expected });
  });

  it('without time-boxing no duration applies', () => {
    expect(durationFor(production, 10_000, undefined)).toEqual({ ok: true, minutes: undefined });
  });
});

describe('justificationProblem', () => {
  const optional: PolicyRule = { ...bare, justification: { required: false, pattern: '^T' } };
  it.each<[string, Pick<PolicyRule, 'name' | 'justification'>, string, string | undefined]>([
    ['a ticket that fits', production, 'INC12345 restore the flows', undefined],
    [
      'the pattern unmet: its help is shown',
      production,
      'restore the flows please',
      "The justification does not have the form the rule 'production' asks for. Start with the ticket: INC1234 or CHG1234.",
    ],
    [
      'too short, with the help',
      production,
      'INC1',
      "The rule 'production' asks for a justification of at least 8 characters; this one has 4. Start with the ticket: INC1234 or CHG1234.",
    ],
    [
      'empty while required, with the help',
      production,
      '',
      'A justification is required: say why you need System Administrator in this environment. Start with the ticket: INC1234 or CHG1234.',
    ],
    [
      'a pattern without help says the pattern',
      { name: 'p', justification: { required: true, pattern: '^T\\d' } },
      'no',
      "The justification does not have the form the rule 'p' asks for: it must match ^T\\d",
    ],
    ['empty and optional: nothing checked', optional, '', undefined],
    [
      'given though optional: the pattern applies',
      optional,
      'x',
      "The justification does not have the form the rule 'open' asks for: it must match ^T",
    ],
    [
      'over 500 characters, whatever the rule',
      bare,
      'x'.repeat(501),
      'The justification is 501 characters long; at most 500 are allowed.',
    ],
  ])('%s', (_case, rule, text, problem) => {
    expect(justificationProblem(rule, text)).toBe(problem);
  });

  it('a rule that says nothing follows JUSTIFICATION_REQUIRED', () => {
    expect(justificationProblem(bare, '', false)).toBeUndefined();
    expect(justificationProblem(bare, '', true)).toMatch(/^A justification is required/);
  });
});

describe('hoursCheck', () => {
  const office: AllowedHours = {
    from: '08:00',
    to: '18:00',
    days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'],
    timeZone: 'Europe/Berlin',
    outside: 'refuse',
  };
  const night: AllowedHours = {
    from: '22:00',
    to: '06:00',
    days: ['Fri'],
    timeZone: 'UTC',
    outside: 'approval',
  };
  const rule = (allowedHours: AllowedHours): PolicyRule => ({
    name: 'production',
    match: {},
    allowedHours,
  });

  // December: Berlin is UTC+1. 2026-12-04 is a Friday.
  it.each<[string, AllowedHours, string, string]>([
    ['a weekday inside', office, '2026-12-07T07:00:00Z', 'inside'],
    ['the first minute', office, '2026-12-07T07:00:00Z', 'inside'],
    ['the last minute is outside (to is exclusive)', office, '2026-12-07T17:00:00Z', 'refused'],
    ['before opening, in Berlin', office, '2026-12-07T06:59:00Z', 'refused'],
    ['a Saturday', office, '2026-12-05T09:12:00Z', 'refused'],
    ['across midnight: the evening of a listed day', night, '2026-12-04T23:00:00Z', 'inside'],
    ['across midnight: the early hours after it', night, '2026-12-05T05:59:00Z', 'inside'],
    ['across midnight: an unlisted evening', night, '2026-12-05T23:00:00Z', 'approval-needed'],
    [
      'no allowedHours: always inside',
      { ...office, days: undefined },
      '2026-12-06T12:00:00Z',
      'inside',
    ],
  ])('%s', (_case, hours, at, kind) => {
    expect(hoursCheck(rule(hours), new Date(at)).kind).toBe(kind);
  });

  it('outside, it says when and what time it is there', () => {
    expect(hoursCheck(rule(office), new Date('2026-12-05T09:12:00Z'))).toEqual({
      kind: 'refused',
      text: "Elevations under the rule 'production' are allowed Mon-Fri 08:00-18:00 Europe/Berlin; it is Sat 10:12 there.",
    });
    expect(hoursCheck(rule(night), new Date('2026-12-06T01:00:00Z'))).toEqual({
      kind: 'approval-needed',
      text: "Elevations under the rule 'production' are allowed Fri 22:00-06:00 UTC; it is Sun 01:00 there.",
    });
  });

  it('a rule without hours is always inside', () => {
    expect(hoursCheck(bare, new Date('2026-12-05T03:00:00Z'))).toEqual({ kind: 'inside' });
  });
});

describe('rateCheck', () => {
  const limited: PolicyRule = {
    name: 'production',
    match: {},
    rateLimit: {
      perUser: { count: 3, windowMinutes: 60 },
      perEnvironment: { count: 2, windowMinutes: 1440 },
    },
  };
  const now = new Date('2026-12-07T12:00:00Z');
  const minutesAgo = (...minutes: number[]) =>
    minutes.map((m) => new Date(now.getTime() - m * 60_000).toISOString());

  it.each<[string, string[], string[], string]>([
    ['none yet', [], [], 'within'],
    ['two of three in the hour', minutesAgo(10, 20), [], 'within'],
    ['three in the hour: over', minutesAgo(10, 20, 30), [], 'user'],
    ['the oldest left the window', minutesAgo(10, 20, 61), [], 'within'],
    ['exactly the window ago no longer counts', minutesAgo(10, 20, 60), [], 'within'],
    ['two in the environment today: over', [], minutesAgo(100, 1000), 'environment'],
    ['the environment limit after the user limit', minutesAgo(1), minutesAgo(5, 6), 'environment'],
  ])('%s', (_case, byUser, inEnvironment, expected) => {
    const result = rateCheck(limited, byUser, inEnvironment, now);
    expect(result.kind === 'over' ? result.scope : result.kind).toBe(expected);
  });

  it('over: the count, the window, and when the next is allowed', () => {
    const result = rateCheck(limited, minutesAgo(5, 10, 20, 30), [], now);
    expect(result).toEqual({
      kind: 'over',
      scope: 'user',
      count: 4,
      limit: 3,
      windowMinutes: 60,
      // Once the third newest (20 minutes ago) leaves the hour, two remain.
      nextAt: new Date('2026-12-07T12:40:00Z'),
      text: "You have had 4 elevations under the rule 'production' in the last hour; it allows 3 per person per hour.",
    });
  });

  it('the environment limit says so', () => {
    const result = rateCheck(limited, [], minutesAgo(60, 120), now);
    expect(result).toMatchObject({
      scope: 'environment',
      count: 2,
      nextAt: new Date('2026-12-08T10:00:00Z'),
      text: "This environment has had 2 elevations in the last 24 hours; the rule 'production' allows 2 per environment per 24 hours.",
    });
  });

  it('a rule without limits never refuses', () => {
    expect(rateCheck(bare, minutesAgo(1, 2, 3, 4, 5), minutesAgo(1, 2), now)).toEqual({
      kind: 'within',
    });
  });
});
