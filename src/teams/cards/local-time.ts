/**
 * When an elevation ends, said in the reader's own time: "until 15:40 (your time)" when Teams told
 * the bot the user's time zone, "until 14:40 UTC" when it did not or named one this runtime does
 * not know; and how long is left ("52 minutes left", "ended 3 minutes ago"). Pure: the time "now"
 * is always given, so that cards and tests say the same.
 */
import { formatMinutes } from '../../elevation/duration';
import { formatterIn } from '../../support/date-formats';

/** What an activity says about where its sender is (a message or a button press). */
export interface ActivityWhere {
  /** IANA name, e.g. "Europe/Paris". */
  localTimezone?: string;
  /** Teams also sends a clientInfo entity with the same zone as `timezone`. */
  entities?: Array<{ type?: string; timezone?: unknown }> | null;
}

/** The user's IANA time zone, from `localTimezone` or else Teams' clientInfo entity. */
export function timeZoneOf(activity: ActivityWhere): string | undefined {
  if (activity.localTimezone) return activity.localTimezone;
  const clientInfo = activity.entities?.find((entity) => entity.type === 'clientInfo');
  return typeof clientInfo?.timezone === 'string' && clientInfo.timezone !== ''
    ? clientInfo.timezone
    : undefined;
}

/** The zone when this runtime knows it; undefined for none, or a name it cannot use. */
export function knownZone(timeZone: string | undefined): string | undefined {
  return timeZone && formatterIn('parts', timeZone) ? timeZone : undefined;
}

interface LocalParts {
  /** Days since 1970-01-01 of the local date, to compare two dates. */
  dayNumber: number;
  clock: string;
  date: string;
}

/** `date` in `timeZone`, a zone knownZone accepted (or UTC). */
function localParts(date: Date, timeZone: string): LocalParts {
  const parts = formatterIn('parts', timeZone)!.formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes) =>
    parts.find((p) => p.type === type)?.value ?? '';
  const numeric = formatterIn('day', timeZone)!.format(date);
  return {
    dayNumber: Date.parse(`${numeric}T00:00:00Z`) / 86_400_000,
    clock: `${part('hour')}:${part('minute')}`,
    date: `${part('weekday')} ${part('day')} ${part('month')}`,
  };
}

/**
 * "15:40 (your time)" in the user's zone, "14:40 UTC" without a usable zone. Given `from`, a time
 * on another day there says which ("tomorrow 01:10 (your time)", "Wed 9 Dec 09:00 UTC"): an
 * elevation may cross midnight, and "01:10" would then read as already past. `short` (a
 * drop-down's option, under a line that already says whose time it is): no zone label.
 */
export function clockIn(
  iso: string,
  timeZone: string | undefined,
  from?: string | Date,
  options: { short?: boolean } = {},
): string {
  const zone = knownZone(timeZone);
  const end = localParts(new Date(iso), zone ?? 'UTC');
  const label = zone ? (options.short ? '' : ' (your time)') : ' UTC';
  if (from === undefined) return `${end.clock}${label}`;
  const days = end.dayNumber - localParts(new Date(from), zone ?? 'UTC').dayNumber;
  const day = days === 0 ? '' : days === 1 ? 'tomorrow ' : `${end.date} `;
  return `${day}${end.clock}${label}`;
}

/** "until 15:40 (your time)", "until 14:40 UTC", "until tomorrow 01:10 (your time)" (see clockIn). */
export function untilText(iso: string, timeZone?: string, now?: Date): string {
  return `until ${clockIn(iso, timeZone, now)}`;
}

/**
 * "52 minutes left", "1 hour 5 minutes left"; once past, "ended 3 minutes ago". What is left is
 * rounded up (30 seconds left is "1 minute left", never "0 minutes left"), what is past down.
 */
export function timeLeftText(from: Date | string, to: Date | string): string {
  const ms = new Date(to).getTime() - new Date(from).getTime();
  if (ms > 0) return `${formatMinutes(Math.ceil(ms / 60_000))} left`;
  const ago = Math.floor(-ms / 60_000);
  return ago < 1 ? 'ended just now' : `ended ${formatMinutes(ago)} ago`;
}
