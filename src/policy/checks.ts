/**
 * What one policy rule allows, as pure functions: the duration, the justification, the hour and
 * the rate. Each answers in words that say why, which rule, and what to do; guardrails.ts applies
 * them to requests, the Teams layer shows their words.
 */
import { formatMinutes } from '../elevation/duration';
import { countOf } from '../elevation/outcome-text';
import { formatterIn } from '../support/date-formats';
import type { AllowedHours, PolicyRule, RateWindow } from './policy';

/** Longest justification kept; longer text is refused rather than cut silently. */
export const MAX_JUSTIFICATION_LENGTH = 500;

/** ELEVATION_DEFAULT_MINUTES and ELEVATION_MAX_MINUTES: what a rule without its own falls back to. */
export interface DurationSettings {
  defaultMinutes: number;
  maxMinutes: number;
}

/** The longest and the default duration under `rule`; the default never above the longest. */
export function ruleDurations(rule: PolicyRule, settings: DurationSettings): DurationSettings {
  const maxMinutes = rule.maxMinutes ?? settings.maxMinutes;
  const defaultMinutes = Math.min(rule.defaultMinutes ?? settings.defaultMinutes, maxMinutes);
  return { defaultMinutes, maxMinutes };
}

/**
 * The minutes asked for, or the rule's default; refused (naming the rule's maximum) when longer
 * than the rule allows. Without time-boxing (no settings) no duration applies: undefined.
 */
export function durationFor(
  rule: PolicyRule,
  askedMinutes: number | undefined,
  settings: DurationSettings | undefined,
): { ok: true; minutes: number | undefined } | { ok: false; maxMinutes: number; problem: string } {
  if (!settings) return { ok: true, minutes: undefined };
  const { defaultMinutes, maxMinutes } = ruleDurations(rule, settings);
  const minutes = askedMinutes ?? defaultMinutes;
  if (Number.isInteger(minutes) && minutes >= 1 && minutes <= maxMinutes)
    return { ok: true, minutes };
  const longest = formatMinutes(maxMinutes);
  const problem =
    !Number.isInteger(minutes) || minutes < 1
      ? 'An elevation lasts at least 1 minute; ask for a duration such as 30m or 2h.'
      : rule.maxMinutes === undefined
        ? `An elevation lasts at most ${longest} (ELEVATION_MAX_MINUTES). Ask again for ${longest} or less.`
        : `The rule '${rule.name}' allows at most ${longest} here. Ask again for ${longest} or less.`;
  return { ok: false, maxMinutes, problem };
}

/**
 * What is wrong with a (trimmed) justification under `rule`, in the user's words; undefined when
 * nothing. A rule without a `justification` falls back to `requiredBySettings`
 * (JUSTIFICATION_REQUIRED). An empty justification that is not required is never checked further.
 */
export function justificationProblem(
  rule: Pick<PolicyRule, 'name' | 'justification'>,
  text: string,
  requiredBySettings = true,
): string | undefined {
  const wanted = rule.justification ?? { required: requiredBySettings };
  const help = wanted.patternHelp ? ` ${wanted.patternHelp}` : '';
  if (text.length > MAX_JUSTIFICATION_LENGTH) {
    return `The justification is ${text.length} characters long; at most ${MAX_JUSTIFICATION_LENGTH} are allowed.`;
  }
  if (text.length === 0) {
    return wanted.required
      ? `A justification is required: say why you need System Administrator in this environment.${help}`
      : undefined;
  }
  if (wanted.minLength && text.length < wanted.minLength) {
    return `The rule '${rule.name}' asks for a justification of at least ${countOf(wanted.minLength, 'character')}; this one has ${text.length}.${help}`;
  }
  if (wanted.pattern !== undefined && !new RegExp(wanted.pattern).test(text)) {
    return wanted.patternHelp
      ? `The justification does not have the form the rule '${rule.name}' asks for. ${wanted.patternHelp}`
      : `The justification does not have the form the rule '${rule.name}' asks for: it must match ${wanted.pattern}`;
  }
  return undefined;
}

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
type Day = (typeof DAYS)[number];

export type HoursCheck =
  | { kind: 'inside' }
  /** Outside the rule's hours; `text` says when elevations are allowed and what time it is there. */
  | { kind: 'refused' | 'approval-needed'; text: string };

/** Whether `now` is inside the rule's allowed hours, and, outside, what the rule does about it. */
export function hoursCheck(rule: PolicyRule, now: Date): HoursCheck {
  const hours = rule.allowedHours;
  if (!hours) return { kind: 'inside' };
  const local = localTime(now, hours.timeZone);
  if (insideHours(hours, local)) return { kind: 'inside' };
  const text = `Elevations under the rule '${rule.name}' are allowed ${describeHours(hours)}; it is ${local.day} ${local.clock} there.`;
  return { kind: hours.outside === 'refuse' ? 'refused' : 'approval-needed', text };
}

/** "Mon-Fri 08:00-18:00 Europe/Berlin", "every day 22:00-06:00 UTC". */
export function describeHours(hours: AllowedHours): string {
  return `${describeDays(hours.days)} ${hours.from}-${hours.to} ${hours.timeZone}`;
}

function describeDays(days: readonly Day[] | undefined): string {
  if (!days || days.length === DAYS.length) return 'every day';
  const sorted = [...days].sort((a, b) => DAYS.indexOf(a) - DAYS.indexOf(b));
  const first = DAYS.indexOf(sorted[0]!);
  const consecutive = sorted.every((day, i) => DAYS.indexOf(day) === first + i);
  return consecutive && sorted.length > 2
    ? `${sorted[0]}-${sorted[sorted.length - 1]}`
    : sorted.join(', ');
}

interface LocalTime {
  day: Day;
  clock: string;
  minutes: number;
}

function localTime(now: Date, timeZone: string): LocalTime {
  // The policy's zones were checked when the file was loaded.
  const formatter = formatterIn('parts', timeZone);
  if (!formatter) throw new RangeError(`unknown time zone: ${timeZone}`);
  const parts = formatter.formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) =>
    parts.find((p) => p.type === type)?.value ?? '';
  const hour = Number(part('hour'));
  const minute = Number(part('minute'));
  return {
    day: part('weekday') as Day,
    clock: `${part('hour')}:${part('minute')}`,
    minutes: hour * 60 + minute,
  };
}

function minutesOf(clock: string): number {
  const [hours, minutes] = clock.split(':').map(Number);
  return hours! * 60 + minutes!;
}

/** `days` name the day a window starts on: Fri 22:00-06:00 covers Saturday's early hours. */
function insideHours(hours: AllowedHours, local: LocalTime): boolean {
  const from = minutesOf(hours.from);
  const to = minutesOf(hours.to);
  const onDay = (day: Day) => !hours.days || hours.days.includes(day);
  if (from < to) return onDay(local.day) && local.minutes >= from && local.minutes < to;
  const yesterday = DAYS[(DAYS.indexOf(local.day) + DAYS.length - 1) % DAYS.length]!;
  return (onDay(local.day) && local.minutes >= from) || (onDay(yesterday) && local.minutes < to);
}

export type RateCheck =
  | { kind: 'within' }
  | {
      kind: 'over';
      /** Which limit: the requester's own, or the environment's (all users). */
      scope: 'user' | 'environment';
      /** Elevations counted in the window (at least the limit). */
      count: number;
      limit: number;
      windowMinutes: number;
      /** When one more is allowed: the oldest counted elevation leaves the window. */
      nextAt: Date;
      text: string;
    };

/**
 * Whether one more elevation stays within the rule's rate limits, given the times (ISO 8601) of
 * recent elevations by this user (under this rule) and in this environment (all users).
 */
export function rateCheck(
  rule: PolicyRule,
  recentByUser: readonly string[],
  recentInEnvironment: readonly string[],
  now: Date,
): RateCheck {
  const limits: Array<['user' | 'environment', RateWindow | undefined, readonly string[]]> = [
    ['user', rule.rateLimit?.perUser, recentByUser],
    ['environment', rule.rateLimit?.perEnvironment, recentInEnvironment],
  ];
  for (const [scope, window, times] of limits) {
    if (!window) continue;
    const since = now.getTime() - window.windowMinutes * 60_000;
    const inWindow = times
      .map((time) => Date.parse(time))
      .filter((time) => time > since && time <= now.getTime())
      .sort((a, b) => b - a);
    if (inWindow.length < window.count) continue;
    // One more is allowed once all but count - 1 of them are older than the window.
    const nextAt = new Date(inWindow[window.count - 1]! + window.windowMinutes * 60_000);
    const span = windowText(window.windowMinutes);
    const counted = countOf(inWindow.length, 'elevation');
    const text =
      scope === 'user'
        ? `You have had ${counted} under the rule '${rule.name}' in the last ${span}; it allows ${window.count} per person per ${span}.`
        : `This environment has had ${counted} in the last ${span}; the rule '${rule.name}' allows ${window.count} per environment per ${span}.`;
    return {
      kind: 'over',
      scope,
      count: inWindow.length,
      limit: window.count,
      windowMinutes: window.windowMinutes,
      nextAt,
      text,
    };
  }
  return { kind: 'within' };
}

/** "hour", "24 hours", "1 hour 30 minutes": a window after "in the last" or "per". */
export function windowText(minutes: number): string {
  return formatMinutes(minutes).replace(/^1 (\w+)$/, '$1');
}
