/**
 * The policy file at start: every broken file stops the bot with exactly one line naming the
 * file, the line, the rule and the problem; a good one loads as written, with the default rule
 * appended when its last rule leaves environments without one. The published schema and the
 * TypeScript types describe the same file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import schema from '../../../schema/policy.schema.json';
import { loadPolicy, parsePolicy, PolicyError } from '../../../src/policy/policy-file';
import {
  type AllowedHours,
  type ApprovalRule,
  ENVIRONMENT_TYPES,
  type JustificationRule,
  type PolicyRule,
  type RuleMatch,
} from '../../../src/policy/policy';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'policy');
const SETTINGS = { defaultMinutes: 60, maxMinutes: 480, justificationRequired: true };

function problemOf(file: string): string {
  try {
    loadPolicy(join(FIXTURES, file), SETTINGS);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return (error as Error).message;
  }
  throw new Error(`${file} loaded`);
}

describe('a broken policy file is refused with one line: file, line, rule, problem', () => {
  it.each([
    [
      'approval-timeout.yaml',
      'line 8, rule "production": approval.timeoutMinutes must be >= 1 (got 0)',
    ],
    [
      'approval-without-approvers.yaml',
      'line 4, rule "production": approval needs approvers or channel (or both)',
    ],
    [
      'bad-hour.yaml',
      'line 5, rule "office": allowedHours.from must be a time of day as HH:MM, e.g. 08:00 (got "8:00")',
    ],
    [
      'bad-regex.yaml',
      'line 6, rule "tickets": justification.pattern is not a valid regular expression (Invalid regular expression: /^(INC|CHG\\d+/: Unterminated group)',
    ],
    [
      'bad-type.json',
      'line 6, rule "prod": match.types[0] must be one of Production, Sandbox, Developer, Trial, Default (got "Prod")',
    ],
    [
      'bad-zone.yaml',
      'line 7, rule "office": allowedHours.timeZone "Europe/Berlln" is not an IANA time zone (e.g. Europe/Berlin)',
    ],
    [
      'default-over-max.yaml',
      'line 4, rule "short": defaultMinutes (90) must not be more than maxMinutes (60)',
    ],
    ['duplicate-name.yaml', 'line 4, rule "prod": name "prod" is already used by rule 1'],
    ['no-rules.yaml', 'line 1: rules must list at least one rule'],
    [
      'outside-needs-approval.yaml',
      'line 8, rule "office": allowedHours.outside is "approval" but the rule has no approval (who approves?)',
    ],
    [
      'same-hours.yaml',
      'line 6, rule "office": allowedHours.from and allowedHours.to are both 08:00: the window would be empty',
    ],
    [
      'step-up.yaml',
      'line 4, rule "production": stepUp must be an authentication context id, c1 to c99 (got "c100")',
    ],
    ['syntax.json', 'line 4: Missing , or : between flow sequence items'],
    [
      'syntax.yaml',
      'line 4: Flow map in block collection must be sufficiently indented and end with a }',
    ],
    ['top-level.yaml', 'line 1: rule is not a known property (known: $schema, rules)'],
    [
      'typo.yaml',
      'line 6, rule "production": justifcation is not a known property (known: name, description, match, defaultMinutes, maxMinutes, justification, approval, stepUp, rateLimit, allowedHours)',
    ],
    ['unnamed.yaml', 'line 2, rule 1: name is required'],
  ])('%s', (file, problem) => {
    const message = problemOf(file);
    expect(message).toBe(`Configuration error: POLICY_FILE ${join(FIXTURES, file)} ${problem}`);
    expect(message).not.toContain('\n');
  });

  it('a file that cannot be read is named', () => {
    expect(() => loadPolicy(join(FIXTURES, 'no-such.yaml'), SETTINGS)).toThrow(
      `Configuration error: POLICY_FILE ${join(FIXTURES, 'no-such.yaml')} cannot be read (no such file)`,
    );
  });

  it('a rule whose default exceeds ELEVATION_MAX_MINUTES names the setting', () => {
    expect(() =>
      parsePolicy(
        'rules:\n  - name: long\n    match: {}\n    defaultMinutes: 600\n',
        'p.yaml',
        SETTINGS,
      ),
    ).toThrow(
      'POLICY_FILE p.yaml line 4, rule "long": defaultMinutes (600) must not be more than ELEVATION_MAX_MINUTES (480)',
    );
  });

  it('a duplicate key is a syntax error, with its line', () => {
    expect(() =>
      parsePolicy('rules:\n  - name: a\n    match: {}\n    name: b\n', 'p.yaml', SETTINGS),
    ).toThrow(/^Configuration error: POLICY_FILE p\.yaml line 4: Map keys must be unique/);
  });
});

describe('a good policy file', () => {
  it('loads as written, the default rule appended after a last rule that does not match everything', () => {
    const policy = loadPolicy(join(FIXTURES, 'valid.yaml'), SETTINGS);
    expect(policy.source).toBe(join(FIXTURES, 'valid.yaml'));
    expect(policy.rules.map((r) => r.name)).toEqual(['production', 'sandboxes', 'default']);
    expect(policy.appended).toBe('default');
    expect(policy.rules[0]).toEqual({
      name: 'production',
      description: 'Production needs a ticket and a second person.',
      match: { types: ['Production'] },
      defaultMinutes: 60,
      maxMinutes: 120,
      justification: {
        required: true,
        minLength: 8,
        pattern: '^(INC|CHG)\\d+',
        patternHelp: 'Start with the ticket: INC1234 or CHG1234.',
      },
      approval: {
        channel: { team: 'My Team', channel: '19:my-team-general@thread.tacv2' },
        timeoutMinutes: 30,
      },
      stepUp: 'c1',
      rateLimit: {
        perUser: { count: 3, windowMinutes: 60 },
        perEnvironment: { count: 10, windowMinutes: 1440 },
      },
      allowedHours: {
        from: '08:00',
        to: '18:00',
        days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'],
        timeZone: 'Europe/Berlin',
        outside: 'approval',
      },
    });
    // The appended rule is the settings.
    expect(policy.rules[2]).toMatchObject({
      match: {},
      defaultMinutes: 60,
      maxMinutes: 480,
      justification: { required: true },
    });
  });

  it('the same policy as JSON loads the same', () => {
    const json = JSON.stringify({
      rules: [{ name: 'all', match: {}, maxMinutes: 30, justification: { required: false } }],
    });
    const policy = parsePolicy(json, 'p.json', SETTINGS);
    expect(policy.rules).toEqual([
      { name: 'all', match: {}, maxMinutes: 30, justification: { required: false } },
    ]);
    expect(policy.appended).toBeUndefined();
  });

  it('a file with its own rule named "default" gets the appended one under another name', () => {
    const policy = parsePolicy(
      'rules:\n  - name: default\n    match: { types: [Trial] }\n',
      'p.yaml',
      SETTINGS,
    );
    expect(policy.rules.map((r) => r.name)).toEqual(['default', 'default (appended)']);
    expect(policy.appended).toBe('default (appended)');
  });

  it('without POLICY_FILE: one rule matching everything, made of the settings', () => {
    const policy = loadPolicy(undefined, { ...SETTINGS, justificationRequired: false });
    expect(policy.source).toBe('default');
    expect(policy.rules).toHaveLength(1);
    expect(policy.rules[0]).toMatchObject({
      name: 'default',
      match: {},
      defaultMinutes: 60,
      maxMinutes: 480,
      justification: { required: false },
    });
  });

  it('the example policy shipped with the bot loads', () => {
    const policy = loadPolicy(join(__dirname, '..', '..', '..', 'policy.example.yaml'), SETTINGS);
    expect(policy.rules.map((r) => r.name)).toContain('production');
  });

  it('reads the file given, each time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    try {
      const path = join(dir, 'policy.yml');
      writeFileSync(path, 'rules:\n  - name: everything\n    match: {}\n');
      expect(loadPolicy(path, SETTINGS).rules.map((r) => r.name)).toEqual(['everything']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the published schema describes the types of src/policy/policy.ts', () => {
  // Required<...>: a property added to a type fails compilation here until listed.
  const rule: Required<PolicyRule> = {
    name: '',
    description: '',
    match: {},
    defaultMinutes: 0,
    maxMinutes: 0,
    justification: { required: true },
    approval: { timeoutMinutes: 1 },
    stepUp: '',
    rateLimit: {},
    allowedHours: { from: '', to: '', timeZone: '', outside: 'refuse' },
  };
  const match: Required<RuleMatch> = { types: [], namePattern: '', ids: [] };
  const justification: Required<JustificationRule> = {
    required: true,
    minLength: 0,
    pattern: '',
    patternHelp: '',
  };
  const approval: Required<ApprovalRule> = {
    approvers: [],
    channel: { team: '', channel: '' },
    timeoutMinutes: 0,
  };
  const hours: Required<AllowedHours> = {
    from: '',
    to: '',
    days: [],
    timeZone: '',
    outside: 'refuse',
  };
  const definitions = schema.definitions;

  it.each([
    ['rule', Object.keys(rule), definitions.rule],
    ['match', Object.keys(match), definitions.match],
    ['justification', Object.keys(justification), definitions.justification],
    ['approval', Object.keys(approval), definitions.approval],
    ['allowedHours', Object.keys(hours), definitions.allowedHours],
  ])('%s: the same properties, and no others allowed', (_name, keys, definition) => {
    expect(Object.keys(definition.properties).sort()).toEqual([...keys].sort());
    expect(definition.additionalProperties).toBe(false);
  });

  it('the environment types are those the matcher knows', () => {
    expect(definitions.match.properties.types.items.enum).toEqual([...ENVIRONMENT_TYPES]);
  });
});
