/** Durations as people type them, said back, and checked against the settings (issue #13, item 1). */
import { durationProblem, formatMinutes, parseDuration } from '../../../src/elevation/duration';

describe('reading a duration', () => {
  it.each<[string, number]>([
    ['2h', 120],
    ['2 h', 120],
    ['2H', 120],
    ['30m', 30],
    ['30 m', 30],
    ['90 minutes', 90],
    ['1 minute', 1],
    ['1m', 1],
    ['45 min', 45],
    ['45 mins', 45],
    ['1 hour', 60],
    ['2 hours', 120],
    ['2 hrs', 120],
    ['1 hr', 60],
    ['2hours', 120],
    ['1.5h', 90],
    ['1,5 h', 90],
    ['1.25 hours', 75],
    ['0.1h', 6],
    ['1.05h', 63],
    ['1h30', 90],
    ['1h30m', 90],
    ['1h 30m', 90],
    ['1h 30', 90],
    ['1h5', 65],
    ['1 hour 30 minutes', 90],
    ['1 hour and 30 minutes', 90],
    ['1h, 30m', 90],
    ['1 hour 30', 90],
    ['an hour', 60],
    ['An Hour', 60],
    ['a minute', 1],
    ['a day', 1440],
    ['half an hour', 30],
    ['half a day', 720],
    ['1d', 1440],
    ['2 days', 2880],
    ['1d 2h', 1560],
    ['1d 2h 3m', 1563],
    ['1:30', 90],
    ['0:45', 45],
    ['  2h  ', 120],
    ['0m', 0],
    ['0h', 0],
    ['10000h', 600_000],
  ])('%j is %d minutes', (text, minutes) => {
    expect(parseDuration(text)).toBe(minutes);
  });

  it.each([
    [''],
    ['90'],
    ['2'],
    ['h'],
    ['hour'],
    ['an'],
    ['a h'],
    ['half an h'],
    ['an hour and a half'],
    ['30s'],
    ['30 seconds'],
    ['2 weeks'],
    ['2 months'],
    ['Finance'],
    ['tomorrow'],
    ['2h Finance'],
    ['Finance 2h'],
    ['2hx'],
    ['2 hoursx'],
    ['1.5m'],
    ['0.5 minutes'],
    ['half a minute'],
    ['1.333h'],
    ['30m 1h'],
    ['1h 2h'],
    ['1h 1h'],
    ['1m 30'],
    ['1h 60'],
    ['1h 75'],
    ['1:75'],
    ['1:5'],
    ['-2h'],
    ['+2h'],
    ['2h.'],
    ['1234567h'],
    ['1h and'],
    ['1h,'],
    ['1h  and  , 30m'],
    ['2 h h'],
    ['2 - 3h'],
  ])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('a long run of digits and units is read in linear time and refused', () => {
    expect(parseDuration('1'.repeat(400) + 'h')).toBeUndefined();
    expect(parseDuration('1h'.repeat(200))).toBeUndefined();
  });
});

describe('saying a duration', () => {
  it.each<[number, string]>([
    [0, '0 minutes'],
    [1, '1 minute'],
    [45, '45 minutes'],
    [60, '1 hour'],
    [61, '1 hour 1 minute'],
    [90, '1 hour 30 minutes'],
    [120, '2 hours'],
    [480, '8 hours'],
    [1441, '24 hours 1 minute'],
  ])('%d minutes read as %j', (minutes, text) => {
    expect(formatMinutes(minutes)).toBe(text);
  });

  it('what is said reads back as the same duration', () => {
    for (const minutes of [1, 59, 60, 61, 90, 479, 480, 1439, 1440, 10_080]) {
      expect(parseDuration(formatMinutes(minutes))).toBe(minutes);
    }
  });
});

describe('a duration against the settings', () => {
  const limits = { maxMinutes: 480 };

  it.each([[1], [30], [479], [480]])('%d minutes is allowed with a maximum of 480', (minutes) => {
    expect(durationProblem(minutes, limits)).toBeUndefined();
  });

  it.each([[481], [600], [600_000]])('%d minutes is refused with the maximum named', (minutes) => {
    expect(durationProblem(minutes, limits)).toBe(
      'The longest elevation allowed is 8 hours (ELEVATION_MAX_MINUTES); ask for 8 hours or less.',
    );
  });

  it('the maximum is said as it is set, minutes included', () => {
    expect(durationProblem(100, { maxMinutes: 90 })).toBe(
      'The longest elevation allowed is 1 hour 30 minutes (ELEVATION_MAX_MINUTES); ask for 1 hour 30 minutes or less.',
    );
  });

  it.each([[0], [-5], [1.5], [Number.NaN]])('%d minutes is no elevation at all', (minutes) => {
    expect(durationProblem(minutes, limits)).toBe(
      'An elevation lasts at least 1 minute; ask for a duration such as 30m or 2h.',
    );
  });
});
