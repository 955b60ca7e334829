import { parseRetryAfter } from '../../../src/http/retry-after';

const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('reading Retry-After', () => {
  it('reads whole seconds as milliseconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('1', NOW)).toBe(1000);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000);
  });

  it('reads an IMF-fixdate as the time left until then', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', NOW)).toBe(30_000);
  });

  it('reads the obsolete RFC 850 and asctime date forms', () => {
    expect(parseRetryAfter('Sunday, 01-Mar-26 12:00:05 GMT', NOW)).toBe(5_000);
    expect(parseRetryAfter('Sun Mar  1 12:00:10 2026', NOW)).toBe(10_000);
  });

  it('treats a date in the past as "now"', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', NOW)).toBe(0);
  });

  it.each([
    ['absent', undefined],
    ['null', null],
    ['empty', ''],
    ['a fraction', '1.5'],
    ['negative', '-1'],
    ['an exponent', '1e3'],
    ['words', 'soon'],
    ['an ISO date Date.parse would accept', '2026-03-01T12:00:30Z'],
    ['a date-looking string that is not a date', 'Sun, 99 Foo 2026 25:61:00 GMT'],
    ['seconds with a unit', '10s'],
  ])('ignores a value that is %s', (_label, value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });
});
