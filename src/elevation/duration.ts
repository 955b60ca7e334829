/**
 * How long an elevation lasts, as people type it after `for` ("2h", "90 minutes", "1h30",
 * "half an hour"), how the bot says it back ("1 hour 30 minutes"), and whether a length is
 * allowed by the settings.
 *
 * Reading is strict: text that is not exactly a duration is not one, so that `elevate me in Apps
 * for Finance` keeps its environment's name. Understood:
 * - a number and a unit, with or without a space: `2h`, `2 h`, `30m`, `45 min`, `2 hrs`,
 *   `1 hour`, `90 minutes`, `1 day`; a decimal point or comma: `1.5h`, `1,5 h`;
 * - `a`/`an` for one and `half a`/`half an` for a half: `an hour`, `half an hour`, `a day`;
 * - several such parts, largest unit first, each unit once, separated by spaces, a comma or
 *   `and`: `1h 30m`, `1 hour and 30 minutes`, `1d 2h`;
 * - minutes without a unit right after hours: `1h30`, `2h 15`; and `1:30` (hours:minutes).
 * Not understood: a number alone (`for 90`: minutes or hours?), other units (seconds, weeks),
 * and anything that does not come out in whole minutes (`1.5m`). Zero is understood (`0m`): the
 * use case refuses it with the reason, which says more than "not a duration".
 */
import { countOf } from './outcome-text';

const MINUTES_PER: Record<Unit, number> = { d: 1440, h: 60, m: 1 };

type Unit = 'd' | 'h' | 'm';

/** Longest spellings first, so that "minutes" is not read as "m" followed by "inutes". */
const UNIT_WORDS: [string, Unit][] = [
  ['minutes', 'm'],
  ['minute', 'm'],
  ['hours', 'h'],
  ['mins', 'm'],
  ['hour', 'h'],
  ['days', 'd'],
  ['min', 'm'],
  ['hrs', 'h'],
  ['day', 'd'],
  ['hr', 'h'],
  ['d', 'd'],
  ['h', 'h'],
  ['m', 'm'],
];
const UNIT = UNIT_WORDS.map(([word]) => word).join('|');

/**
 * One part at the start of the text: an amount and its unit, ending at a word boundary (or at a
 * digit: "1h30"). At most six digits, two decimals: any longer is no duration anybody means.
 * Amounts are kept in hundredths so that 1.1h is 66 minutes exactly, not 66.00000000000001.
 */
const PART = new RegExp(
  `^(?:(half) an? |(an?) |(\\d{1,6})(?:[.,](\\d{1,2}))? ?)(${UNIT})(?=$|[\\s,]|\\d)`,
);
/** Between parts: spaces, a comma, "and". */
const SEPARATOR = /^(?:\s*,\s*|\s+and\s+|\s+)/;
/** Minutes without their unit, after an hours part: the "30" of "1h30". */
const BARE_MINUTES = /^ ?([0-5]?\d)$/;
const HOURS_COLON_MINUTES = /^(\d{1,3}):([0-5]\d)$/;

/** The whole text as a number of minutes, or undefined when it is not (only) a duration. */
export function parseDuration(text: string): number | undefined {
  const input = text.trim().toLowerCase().replace(/\s+/g, ' ');
  const colon = HOURS_COLON_MINUTES.exec(input);
  if (colon) return Number(colon[1]) * 60 + Number(colon[2]);

  let rest = input;
  let hundredths = 0;
  let lastUnit: Unit | undefined;
  while (rest !== '') {
    if (lastUnit !== undefined) {
      const bare = lastUnit === 'h' ? BARE_MINUTES.exec(rest) : null;
      if (bare) return whole(hundredths + Number(bare[1]) * 100);
      const separator = SEPARATOR.exec(rest);
      // "1h30m" has none; any other join must be one of the separators.
      if (separator) rest = rest.slice(separator[0].length);
      else if (!/^\d/.test(rest)) return undefined;
    }
    const part = PART.exec(rest);
    if (!part) return undefined;
    const [matched, half, one, integer, decimals, word] = part;
    const unit = UNIT_WORDS.find(([spelling]) => spelling === word)![1];
    // Largest unit first, each once: "30m 1h" or "1h 2h" is not something we guess at.
    if (lastUnit !== undefined && MINUTES_PER[unit] >= MINUTES_PER[lastUnit]) return undefined;
    // "a m" or "half an h" is nobody's way of writing it: the article wants the word.
    if ((half || one) && word!.length < 3) return undefined;
    const amount = half ? 50 : one ? 100 : amountInHundredths(integer!, decimals);
    hundredths += amount * MINUTES_PER[unit];
    lastUnit = unit;
    rest = rest.slice(matched.length);
  }
  return lastUnit === undefined ? undefined : whole(hundredths);
}

function amountInHundredths(integer: string, decimals: string | undefined): number {
  return Number(integer) * 100 + Number((decimals ?? '').padEnd(2, '0'));
}

/** Minutes from hundredths of a minute, when they come out whole. */
function whole(hundredths: number): number | undefined {
  return hundredths % 100 === 0 ? hundredths / 100 : undefined;
}

/** "45 minutes", "2 hours", "1 hour 30 minutes". */
export function formatMinutes(minutes: number): string {
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return countOf(minutes, 'minute');
  if (rest === 0) return countOf(hours, 'hour');
  return `${countOf(hours, 'hour')} ${countOf(rest, 'minute')}`;
}

export interface DurationLimits {
  /** ELEVATION_MAX_MINUTES. */
  maxMinutes: number;
}

/**
 * Why an elevation of `minutes` cannot be had, told to the person who asked (naming the setting,
 * so that they can ask its operator for a change); undefined when it is allowed.
 */
export function durationProblem(minutes: number, limits: DurationLimits): string | undefined {
  if (!Number.isInteger(minutes) || minutes < 1) {
    return 'An elevation lasts at least 1 minute; ask for a duration such as 30m or 2h.';
  }
  if (minutes > limits.maxMinutes) {
    const longest = formatMinutes(limits.maxMinutes);
    return `The longest elevation allowed is ${longest} (ELEVATION_MAX_MINUTES); ask for ${longest} or less.`;
  }
  return undefined;
}
