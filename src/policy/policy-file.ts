/**
 * Reads the policy file (POLICY_FILE, JSON or YAML) at start: parsed with line numbers, validated
 * against the published schema (schema/policy.schema.json), then checked for what a schema cannot
 * say (regular expressions compile, names unique, durations consistent, real time zones). Any
 * problem stops the bot with ONE line naming the file, the line, the rule and the problem. Without
 * a file, the policy is one rule made of the settings, so the bot behaves as it did before.
 */
import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../config-values';
import schema from '../../schema/policy.schema.json';
import type { Policy, PolicyRule } from './policy';

/** A policy file the bot cannot use; its message is the one line printed at start. */
export class PolicyError extends ConfigError {
  constructor(problem: string) {
    super('POLICY_FILE', problem);
    this.name = 'PolicyError';
  }
}

/** The settings a rule falls back to (ELEVATION_DEFAULT_MINUTES, ELEVATION_MAX_MINUTES, JUSTIFICATION_REQUIRED). */
export interface PolicyDefaults {
  defaultMinutes: number;
  maxMinutes: number;
  justificationRequired: boolean;
}

/** A week: longer is standing privilege by another name (as ELEVATION_MAX_MINUTES). */
const LONGEST_MINUTES = 7 * 1440;

// All errors: the one said is chosen (a misspelt property says more than the property it lacks).
const validate = new Ajv({ verbose: true, allErrors: true }).compile(schema);

/** The rule every environment falls under when no rule of the file matches it. */
export function defaultRule(defaults: PolicyDefaults, name = 'default'): PolicyRule {
  return {
    name,
    description:
      'The settings (ELEVATION_DEFAULT_MINUTES, ELEVATION_MAX_MINUTES, JUSTIFICATION_REQUIRED) apply.',
    match: {},
    defaultMinutes: defaults.defaultMinutes,
    maxMinutes: defaults.maxMinutes,
    justification: { required: defaults.justificationRequired },
  };
}

/** The policy in `path`, or the default policy when no file is named; throws a PolicyError. */
export function loadPolicy(path: string | undefined, defaults: PolicyDefaults): Policy {
  if (path === undefined) return { rules: [defaultRule(defaults)], source: 'default' };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PolicyError(
      `${path} cannot be read (${code === 'ENOENT' ? 'no such file' : (code ?? 'error')})`,
    );
  }
  return parsePolicy(text, path, defaults);
}

/** The policy written in `text` (JSON or YAML), `source` naming it in errors. */
export function parsePolicy(text: string, source: string, defaults: PolicyDefaults): Policy {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = new Locator(document, lines, source);
  const [syntax] = document.errors;
  if (syntax) {
    const line = lines.linePos(syntax.pos[0]).line;
    throw new PolicyError(`${source} line ${line}: ${firstLine(syntax.message)}`);
  }
  const data: unknown = document.toJS();
  if (!validate(data)) throw at.error(schemaProblem(validate.errors ?? []));
  const rules = (data as { rules: PolicyRule[] }).rules;
  rules.forEach((rule, index) => checkRule(rule, index, rules, defaults, at));
  const last = rules[rules.length - 1]!;
  if (matchesEverything(last)) return { rules, source };
  // Every environment gets a rule: the settings, under a name the file does not use.
  const name = rules.some((r) => r.name === 'default') ? 'default (appended)' : 'default';
  return { rules: [...rules, defaultRule(defaults, name)], source, appended: name };
}

function matchesEverything(rule: PolicyRule): boolean {
  const { types, namePattern, ids } = rule.match;
  return !types?.length && namePattern === undefined && !ids?.length;
}

/** A problem found at a place in the file: the path to the value, and what is wrong. */
interface Problem {
  path: Array<string | number>;
  message: string;
}

/** The checks a schema cannot make, on one (schema-valid) rule. */
function checkRule(
  rule: PolicyRule,
  index: number,
  rules: PolicyRule[],
  defaults: PolicyDefaults,
  at: Locator,
): void {
  const here = (path: Array<string | number>, message: string) =>
    at.error({ path: ['rules', index, ...path], message });
  const first = rules.findIndex((other) => other.name === rule.name);
  if (first !== index)
    throw here(['name'], `name "${rule.name}" is already used by rule ${first + 1}`);
  const patterns: Array<[Array<string | number>, string | undefined, string]> = [
    [['match', 'namePattern'], rule.match.namePattern, 'i'],
    [['justification', 'pattern'], rule.justification?.pattern, ''],
  ];
  for (const [path, pattern, flags] of patterns) {
    if (pattern === undefined) continue;
    try {
      new RegExp(pattern, flags);
    } catch (error) {
      throw here(
        path,
        `${path.join('.')} is not a valid regular expression (${(error as Error).message})`,
      );
    }
  }
  const maxMinutes = rule.maxMinutes ?? defaults.maxMinutes;
  if (rule.maxMinutes !== undefined && rule.maxMinutes > LONGEST_MINUTES)
    throw here(['maxMinutes'], `maxMinutes must be at most ${LONGEST_MINUTES} (7 days)`);
  if (rule.defaultMinutes !== undefined && rule.defaultMinutes > maxMinutes) {
    const of = rule.maxMinutes === undefined ? 'ELEVATION_MAX_MINUTES' : 'maxMinutes';
    throw here(
      ['defaultMinutes'],
      `defaultMinutes (${rule.defaultMinutes}) must not be more than ${of} (${maxMinutes})`,
    );
  }
  const hours = rule.allowedHours;
  if (!hours) return;
  if (!isTimeZone(hours.timeZone))
    throw here(
      ['allowedHours', 'timeZone'],
      `allowedHours.timeZone "${hours.timeZone}" is not an IANA time zone (e.g. Europe/Berlin)`,
    );
  if (hours.from === hours.to)
    throw here(
      ['allowedHours', 'to'],
      `allowedHours.from and allowedHours.to are both ${hours.from}: the window would be empty`,
    );
  if (hours.outside === 'approval' && !rule.approval)
    throw here(
      ['allowedHours', 'outside'],
      'allowedHours.outside is "approval" but the rule has no approval (who approves?)',
    );
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The one schema error worth saying, in words that name the property. */
function schemaProblem(errors: ErrorObject[]): Problem {
  // anyOf's branches explain nothing on their own: the anyOf error itself is said.
  const said = errors.filter((e) => !e.schemaPath.includes('/anyOf/'));
  const error = said.find((e) => e.keyword === 'additionalProperties') ?? said[0] ?? errors[0]!;
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((part) =>
      /^\d+$/.test(part) ? Number(part) : part.replace(/~1/g, '/').replace(/~0/g, '~'),
    );
  const name = propertyName(path);
  const got = error.data === undefined ? '' : ` (got ${JSON.stringify(error.data)})`;
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return { path, message: `${join(name, missing)} is required` };
    }
    case 'additionalProperties': {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((error.parentSchema?.properties as object | undefined) ?? {});
      return {
        path: [...path, extra],
        message: `${join(name, extra)} is not a known property (known: ${known.join(', ')})`,
      };
    }
    case 'anyOf':
      return { path, message: `${name} needs approvers or channel (or both)` };
    case 'minItems':
      return { path, message: `${name} must list at least one${name === 'rules' ? ' rule' : ''}` };
    case 'minProperties':
      return { path, message: `${name} needs perUser or perEnvironment` };
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      return { path, message: `${name} must be one of ${allowed.join(', ')}${got}` };
    }
    case 'pattern':
      return { path, message: `${name} ${patternWords(path)}${got}` };
    default:
      return { path, message: `${name || 'the file'} ${error.message ?? 'is not valid'}${got}` };
  }
}

/** What a pattern of the schema asks, said for people. */
function patternWords(path: Array<string | number>): string {
  const last = path.filter((p) => typeof p === 'string').pop();
  if (last === 'stepUp') return 'must be an authentication context id, c1 to c99';
  if (last === 'from' || last === 'to') return 'must be a time of day as HH:MM, e.g. 08:00';
  if (last === 'approvers') return 'must be an Entra object id (a GUID)';
  return 'is not in the expected form';
}

/** `approval.timeoutMinutes`, `match.types[1]`: the path inside a rule (or the file). */
function propertyName(path: Array<string | number>): string {
  const inside = path[0] === 'rules' && typeof path[1] === 'number' ? path.slice(2) : path;
  return inside.reduce<string>(
    (name, part) => (typeof part === 'number' ? `${name}[${part}]` : join(name, part)),
    '',
  );
}

function join(name: string, property: string): string {
  return name ? `${name}.${property}` : property;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

/** Finds the line of a value (or of its key) in the parsed file, and which rule it is in. */
class Locator {
  constructor(
    private readonly document: Document,
    private readonly lines: LineCounter,
    private readonly source: string,
  ) {}

  error(problem: Problem): PolicyError {
    const line = this.lineOf(problem.path);
    const rule = this.ruleOf(problem.path);
    return new PolicyError(
      `${this.source} line ${line}${rule ? `, ${rule}` : ''}: ${problem.message}`,
    );
  }

  /** The line of the deepest node of `path` that exists (an unknown key: the key itself). */
  private lineOf(path: Array<string | number>): number {
    for (let length = path.length; length >= 0; length--) {
      const node = this.document.getIn(path.slice(0, length), true) as
        { range?: [number, number, number] } | undefined;
      const keyLine = length === path.length ? this.keyLine(path) : undefined;
      if (keyLine !== undefined) return keyLine;
      if (node?.range) return this.lines.linePos(node.range[0]).line;
    }
    return 1;
  }

  /** Where the key of `path`'s last property is written (for an unknown or misspelt property). */
  private keyLine(path: Array<string | number>): number | undefined {
    const key = path[path.length - 1];
    if (typeof key !== 'string') return undefined;
    const parent = this.document.getIn(path.slice(0, -1), true) as
      | { items?: Array<{ key?: { value?: unknown; range?: [number, number, number] } }> }
      | undefined;
    const pair = parent?.items?.find((item) => item.key?.value === key);
    return pair?.key?.range ? this.lines.linePos(pair.key.range[0]).line : undefined;
  }

  /** `rule "production"` (or `rule 2` before it has a name) for a path inside a rule. */
  private ruleOf(path: Array<string | number>): string | undefined {
    if (path[0] !== 'rules' || typeof path[1] !== 'number') return undefined;
    const name = this.document.getIn(['rules', path[1], 'name']);
    return typeof name === 'string' && name !== '' ? `rule "${name}"` : `rule ${path[1] + 1}`;
  }
}
