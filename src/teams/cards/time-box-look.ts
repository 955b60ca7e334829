/**
 * How the time of a time-boxed elevation reads on a card: "1 hour 30 minutes", "until 15:40 (your
 * time)", "52 minutes left", "3 minutes late", and each phase in a few words. Shared by the
 * confirmation, status, reminder, end and list cards, so they all tell the time the same way.
 * Also a removal's HTTP status, written as the grant's is ("204 No Content").
 */
import { STATUS_CODES } from 'node:http';
import { formatMinutes } from '../../elevation/duration';
import { clockIn } from './local-time';
import type { ElevationRequest, TimeBox } from '../../elevation/request';
import type { Color } from './card-template';

/** The durations offered besides the default, before the maximum cuts them. */
const OFFERED_MINUTES = [30, 60, 120, 240, 480];

/**
 * The durations a confirmation card offers, shortest first: the default, 30 min, 1 h, 2 h, 4 h and
 * 8 h up to the maximum, and the one asked for when it is none of these (never past the maximum).
 */
export function durationChoices(
  requested: number | undefined,
  durations: { defaultMinutes: number; maxMinutes: number },
): number[] {
  const wanted = [durations.defaultMinutes, ...OFFERED_MINUTES];
  if (requested !== undefined) wanted.push(requested);
  const offered = wanted.filter((m) => m > 0 && m <= durations.maxMinutes);
  return [...new Set(offered)].sort((a, b) => a - b);
}

/** `iso` plus a number of minutes, as ISO 8601. */
export function plusMinutes(iso: string, minutes: number): string {
  return new Date(Date.parse(iso) + minutes * 60_000).toISOString();
}

/** How long after `due` `at` was, in whole minutes ("3 minutes"); undefined under a minute. */
export function lateBy(due: string, at: string): string | undefined {
  const minutes = Math.floor((Date.parse(at) - Date.parse(due)) / 60_000);
  return minutes >= 1 ? formatMinutes(minutes) : undefined;
}

/** "Extend to 16:40 (your time)": where one Extend would move the end, never past the latest. */
export function extendTitle(
  timeBox: TimeBox,
  extendMinutes: number | undefined,
  timeZone: string | undefined,
  now: string,
): string {
  // The policy rule's step where it has one, else the setting's.
  const step = timeBox.extendMinutes ?? extendMinutes;
  if (!step) return 'Extend';
  const to = Math.min(Date.parse(timeBox.endsAt) + step * 60_000, Date.parse(timeBox.latestEnd));
  return `Extend to ${clockIn(new Date(to).toISOString(), timeZone, now)}`;
}

/** Whether an extension could still move the end: it has not reached the latest end. */
export function extendable(timeBox: TimeBox): boolean {
  return Date.parse(timeBox.endsAt) < Date.parse(timeBox.latestEnd);
}

/** "cannot be extended past 17:40 (your time), 8 hours after the grant". */
export function latestEndText(timeBox: TimeBox, timeZone: string | undefined, now: string): string {
  const span = (Date.parse(timeBox.latestEnd) - Date.parse(timeBox.grantedAt)) / 60_000;
  return `cannot be extended past ${clockIn(timeBox.latestEnd, timeZone, now)}, ${formatMinutes(span)} after the grant`;
}

/**
 * Where the removal needs the user: the phase is overdue and Dataverse did not refuse (so a
 * fresh token from a click can do it). A refusal needs the admin center, not a new token.
 */
export function needsRemoveNow(timeBox: TimeBox): boolean {
  return timeBox.phase === 'overdue' && timeBox.lastRemoval?.kind !== 'refused';
}

/** A time box's phase in a few words, with its color: "Active", "Removed at 15:41 (your time)". */
export function phaseLook(
  request: ElevationRequest & { timeBox: TimeBox },
  timeZone: string | undefined,
  now: string,
): { text: string; color: Color } {
  const box = request.timeBox;
  switch (box.phase) {
    case 'active':
      return { text: 'Active', color: 'Good' };
    case 'removing':
      return { text: 'Ending: the role is being removed', color: 'Accent' };
    case 'overdue':
      return {
        text: `Overdue: the role is still there since ${clockIn(box.endsAt, timeZone, now)}`,
        color: 'Attention',
      };
    case 'removed':
      return {
        text: `Removed at ${clockIn(box.endedAt ?? box.lastRemoval?.at ?? request.updatedAt, timeZone, now)}${box.endedEarlyBy ? ', ended early' : ''}`,
        color: 'Default',
      };
    case 'kept':
      return { text: 'Kept: held before this elevation, so not removed', color: 'Default' };
  }
}

/**
 * Dataverse's answer to a removal as the grant's status reads ("200 OK"): "204 No Content",
 * "429 Too Many Requests"; "no response" when none came.
 */
export function removalStatusText(status: number | undefined): string {
  if (status === undefined) return 'no response';
  const reason = STATUS_CODES[status];
  return reason ? `${status} ${reason}` : String(status);
}
