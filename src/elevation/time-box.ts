/**
 * The rules of one time box, as pure functions: the duration asked (or the default, within the
 * maximum), the box a grant opens, when to remind, whether it is due or leased, how a removal's
 * answer reads as an ending, and how long to wait before trying again. time-boxes.ts runs them.
 */
import type { RoleCheck, TimeBox } from './request';
import type { RemovalEnding, RemovalResult } from './vocabulary';

export interface TimeBoxSettings {
  /** ELEVATION_DEFAULT_MINUTES: without a duration asked, and the step of Extend. */
  defaultMinutes: number;
  /** ELEVATION_MAX_MINUTES: no elevation lasts longer, from its first grant, extensions included. */
  maxMinutes: number;
  /** ELEVATION_REMINDER_MINUTES before the end the user is reminded; 0: never. */
  reminderMinutes: number;
}

/** The reminder is skipped when the elevation is shorter than this many reminders. */
const MIN_MINUTES_FOR_REMINDER_FACTOR = 2;

/**
 * The minutes asked for, or the default; the longest allowed when they are too long. Without
 * time-boxing (no settings) no duration applies: undefined.
 */
export function chosenMinutes(
  asked: number | undefined,
  settings: TimeBoxSettings | undefined,
): { ok: true; minutes: number | undefined } | { ok: false; maxMinutes: number } {
  if (!settings) return { ok: true, minutes: undefined };
  const minutes = asked ?? settings.defaultMinutes;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > settings.maxMinutes)
    return { ok: false, maxMinutes: settings.maxMinutes };
  return { ok: true, minutes };
}

/**
 * The time box of an elevation granted at `now`. Held before (the role check says so): kept, and
 * nothing is removed at the end. Otherwise active, due at the reminder, or at the end.
 */
export function openTimeBox(
  minutes: number,
  roleCheck: RoleCheck | undefined,
  now: Date,
  settings: TimeBoxSettings,
): TimeBox {
  const endsAt = new Date(now.getTime() + minutes * 60_000);
  const latestEnd = new Date(now.getTime() + settings.maxMinutes * 60_000);
  const base = {
    grantedAt: now.toISOString(),
    endsAt: endsAt.toISOString(),
    latestEnd: latestEnd.toISOString(),
    attempts: 0,
    extensions: [],
  };
  if (roleCheck?.result === 'already-admin') return { ...base, phase: 'kept' };
  const remindAt = reminderTime(now, endsAt, settings);
  return {
    ...base,
    phase: 'active',
    remindAt: remindAt?.toISOString(),
    dueAt: (remindAt ?? endsAt).toISOString(),
  };
}

/** When to remind: `reminderMinutes` before the end, if that is still well after `now`. */
export function reminderTime(now: Date, endsAt: Date, settings: TimeBoxSettings): Date | undefined {
  const ms = settings.reminderMinutes * 60_000;
  if (ms <= 0) return undefined;
  if (endsAt.getTime() - now.getTime() < ms * MIN_MINUTES_FOR_REMINDER_FACTOR) return undefined;
  return new Date(endsAt.getTime() - ms);
}

export function leaseFree(box: TimeBox, now: Date): boolean {
  return !box.leaseUntil || Date.parse(box.leaseUntil) <= now.getTime();
}

export function isDue(box: TimeBox, now: Date): boolean {
  return !!box.dueAt && Date.parse(box.dueAt) <= now.getTime();
}

/**
 * What Dataverse's answer means for the elevation: gone, and no tenant admin role any more in the
 * refreshed token, is Microsoft's doing (the PIM activation ended); anything else as it is.
 */
export function endingOf(result: RemovalResult, adminRoles: string[] | undefined): RemovalEnding {
  if (result.kind === 'already-gone' && adminRoles !== undefined && adminRoles.length === 0)
    return { kind: 'removed-by-microsoft', status: result.status, requestId: result.requestId };
  return result;
}

/** The words that explain an ending: why no token could be had, or what Dataverse said. */
export function endingMessage(
  ending: RemovalEnding,
  result: RemovalResult | undefined,
): string | undefined {
  if (ending.kind === 'token-unavailable') return ending.message;
  return result && 'message' in result ? result.message : undefined;
}

/** Backoff doubling per attempt up to the maximum, and never sooner than Dataverse asked. */
export function retryDelay(
  attempts: number,
  ending: RemovalEnding,
  backoff: { retryBaseMs: number; retryMaxMs: number },
): number {
  const wait = Math.min(backoff.retryMaxMs, backoff.retryBaseMs * 2 ** Math.max(0, attempts - 1));
  const asked = ending.kind === 'unavailable' ? (ending.retryAfterMs ?? 0) : 0;
  return Math.max(wait, asked);
}
