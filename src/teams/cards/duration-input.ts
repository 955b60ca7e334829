/**
 * The duration drop-down of a request's card (the confirmation, the approval ask): the durations
 * allowed, each with when it would end, the one asked for chosen.
 */
import { formatMinutes } from '../../elevation/duration';
import type { ElevationRequest } from '../../elevation/request';
import { clockIn } from './local-time';
import { durationChoices, plusMinutes } from './time-box-look';

export interface DurationInputOptions {
  durations?: { defaultMinutes: number; maxMinutes: number };
  timeZone?: string;
  shared?: boolean;
  now?: Date;
}

/** The duration drop-down: each choice with its end ("1 hour (until 15:40)"), the asked one chosen. */
export function durationInput(request: ElevationRequest, options: DurationInputOptions) {
  const durations = options.durations;
  if (!durations) {
    return {
      durationChoices: [],
      minutes: '',
      until: '',
      lasts: 'The role stays until it is removed.',
    };
  }
  const from = options.now?.toISOString() ?? request.createdAt;
  const offered = durationChoices(request.minutes, durations);
  const chosen =
    [request.minutes, durations.defaultMinutes].find(
      (m) => m !== undefined && offered.includes(m),
    ) ?? offered[offered.length - 1]!;
  return {
    durationChoices: offered.map((m) => ({
      title: `${formatMinutes(m)} (until ${clockIn(plusMinutes(from, m), options.timeZone, from, { short: true })})`,
      value: String(m),
    })),
    minutes: String(chosen),
    until: `Until ${clockIn(plusMinutes(from, chosen), options.timeZone, from)} if ${options.shared ? `${request.requester.name} elevates` : 'you elevate'} now.`,
    lasts: 'The role is removed again when the chosen time is up.',
  };
}
