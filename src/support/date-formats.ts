/**
 * Date formatters by format and IANA time zone, built once each: building one costs about a
 * hundred times what formatting with it does. Used by the cards ("until 15:40 (your time)") and by
 * the policy's allowed hours.
 */
import { BoundedMap } from './bounded-map';

/** The formats the cards and the policy's allowed hours use, by name. */
const FORMATS = {
  /** Weekday, day, month, hour and minute (the parts of "Wed 9 Dec 09:00"). */
  parts: {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  },
  /** "2026-12-09", en-CA: the local date, to count days. */
  day: { year: 'numeric', month: '2-digit', day: '2-digit' },
  /** "14:38 CET". */
  clock: { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' },
} satisfies Record<string, Intl.DateTimeFormatOptions>;

export type FormatName = keyof typeof FORMATS;

/**
 * Formatters built once per format and zone: building one costs about a hundred times what
 * formatting with it does (it was a third of a command turn's CPU). `null`: a zone this runtime
 * does not know. Bounded, as zone names come from activities.
 */
const formatters = new BoundedMap<string, Intl.DateTimeFormat | null>(1_000);
const MAX_ZONE_NAME = 64;

/** The formatter of `name` in `timeZone`; undefined for a zone this runtime does not know. */
export function formatterIn(name: FormatName, timeZone: string): Intl.DateTimeFormat | undefined {
  // IANA names are short ("America/Argentina/ComodRivadavia" is among the longest): a longer one
  // is no zone, and is not kept.
  if (timeZone.length > MAX_ZONE_NAME) return undefined;
  const key = `${name} ${timeZone}`;
  let formatter = formatters.get(key);
  if (formatter === undefined) {
    try {
      formatter = new Intl.DateTimeFormat(name === 'day' ? 'en-CA' : 'en-GB', {
        ...FORMATS[name],
        timeZone,
      });
    } catch {
      formatter = null;
    }
    formatters.set(key, formatter);
  }
  return formatter ?? undefined;
}
