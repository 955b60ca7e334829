/** When an elevation ends, in the reader's own time, and how long is left (issue #13, item 1). */
import { timeLeftText, timeZoneOf, untilText } from '../../../src/teams/cards/local-time';

describe('until when, in the reader’s time', () => {
  it.each<[string, string | undefined, string]>([
    ['2026-12-07T14:40:00Z', 'Europe/Paris', 'until 15:40 (your time)'],
    ['2026-12-07T14:40:00Z', 'America/New_York', 'until 09:40 (your time)'],
    ['2026-12-07T14:40:00Z', 'Asia/Kolkata', 'until 20:10 (your time)'],
    ['2026-12-07T14:40:00Z', 'Australia/Lord_Howe', 'until 01:40 (your time)'],
    ['2026-12-07T14:40:00Z', 'UTC', 'until 14:40 (your time)'],
    ['2026-07-07T14:40:00Z', 'Europe/Paris', 'until 16:40 (your time)'],
    // Daylight saving time starts in Paris at 01:00 UTC on 29 March 2026.
    ['2026-03-29T00:59:00Z', 'Europe/Paris', 'until 01:59 (your time)'],
    ['2026-03-29T01:00:00Z', 'Europe/Paris', 'until 03:00 (your time)'],
    // And ends in New York at 06:00 UTC on 1 November 2026: 01:30 happens twice.
    ['2026-11-01T05:30:00Z', 'America/New_York', 'until 01:30 (your time)'],
    ['2026-11-01T06:30:00Z', 'America/New_York', 'until 01:30 (your time)'],
    ['2026-12-07T14:40:00Z', undefined, 'until 14:40 UTC'],
    ['2026-12-07T14:40:00Z', '', 'until 14:40 UTC'],
    ['2026-12-07T14:40:00Z', 'Mars/Olympus_Mons', 'until 14:40 UTC'],
    ['2026-12-07T14:40:00Z', 'CET; DROP TABLE', 'until 14:40 UTC'],
    ['2026-12-07T14:40:00Z', `Europe/${'x'.repeat(10_000)}`, 'until 14:40 UTC'],
  ])('%s in %j reads %j', (iso, zone, text) => {
    expect(untilText(iso, zone)).toBe(text);
  });

  it('an end on another day than now says which, in the reader’s zone', () => {
    const now = new Date('2026-12-07T20:00:00Z');
    const end = '2026-12-08T03:00:00Z';
    // 21:00 to 04:00 in Paris: past midnight.
    expect(untilText(end, 'Europe/Paris', now)).toBe('until tomorrow 04:00 (your time)');
    // 12:00 to 19:00 in Los Angeles: the same day.
    expect(untilText(end, 'America/Los_Angeles', now)).toBe('until 19:00 (your time)');
    expect(untilText(end, undefined, now)).toBe('until tomorrow 03:00 UTC');
    expect(untilText('2026-12-09T09:00:00Z', 'Nowhere/Land', now)).toBe(
      'until Wed 9 Dec 09:00 UTC',
    );
    expect(untilText('2026-12-07T21:00:00Z', 'Europe/Paris', now)).toBe('until 22:00 (your time)');
  });

  it('a day of 23 hours (DST) is still one day: "tomorrow" is the next date, not 24 hours on', () => {
    const now = new Date('2026-03-28T22:30:00Z'); // 23:30 in Paris, the night the clocks go on
    expect(untilText('2026-03-29T21:59:00Z', 'Europe/Paris', now)).toBe(
      'until tomorrow 23:59 (your time)',
    );
    expect(untilText('2026-03-29T22:00:00Z', 'Europe/Paris', now)).toBe(
      'until Mon 30 Mar 00:00 (your time)',
    );
  });
});

describe('how long is left', () => {
  const end = '2026-12-07T15:40:00Z';
  it.each<[string, string]>([
    ['2026-12-07T14:48:00Z', '52 minutes left'],
    ['2026-12-07T14:35:00Z', '1 hour 5 minutes left'],
    ['2026-12-07T13:40:00Z', '2 hours left'],
    ['2026-12-07T15:39:00Z', '1 minute left'],
    ['2026-12-07T15:39:30Z', '1 minute left'],
    ['2026-12-07T14:47:30Z', '53 minutes left'],
    ['2026-12-07T15:40:00Z', 'ended just now'],
    ['2026-12-07T15:40:59Z', 'ended just now'],
    ['2026-12-07T15:41:00Z', 'ended 1 minute ago'],
    ['2026-12-07T15:43:00Z', 'ended 3 minutes ago'],
    ['2026-12-07T16:45:10Z', 'ended 1 hour 5 minutes ago'],
  ])('at %s: %j', (now, text) => {
    expect(timeLeftText(now, end)).toBe(text);
    expect(timeLeftText(new Date(now), new Date(end))).toBe(text);
  });
});

describe('the user’s time zone from an activity', () => {
  it.each<[Parameters<typeof timeZoneOf>[0], string | undefined]>([
    [{ localTimezone: 'Europe/Paris' }, 'Europe/Paris'],
    [
      {
        localTimezone: 'Europe/Paris',
        entities: [{ type: 'clientInfo', timezone: 'Asia/Tokyo' }],
      },
      'Europe/Paris',
    ],
    [
      { entities: [{ type: 'mention' }, { type: 'clientInfo', timezone: 'Asia/Tokyo' }] },
      'Asia/Tokyo',
    ],
    [{ entities: [{ type: 'clientInfo', timezone: 42 }] }, undefined],
    [{ entities: [{ type: 'clientInfo', timezone: '' }] }, undefined],
    [{ entities: null }, undefined],
    [{}, undefined],
  ])('%j: %j', (activity, zone) => {
    expect(timeZoneOf(activity)).toBe(zone);
  });
});
