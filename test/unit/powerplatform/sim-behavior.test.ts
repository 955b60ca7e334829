import { parseSimBehavior } from '../../../src/sandbox/power-platform-simulator/behavior';

describe('the simulator behaviour header', () => {
  it('reads every directive', () => {
    expect(
      parseSimBehavior(
        'status=503; retry-after=1;delay-ms=20;times=2;body=html;as=throttled;reset',
      ),
    ).toEqual({
      status: 503,
      retryAfter: '1',
      delayMs: 20,
      times: 2,
      body: 'html',
      as: 'throttled',
      reset: true,
    });
  });

  it('keeps an HTTP-date Retry-After verbatim', () => {
    expect(parseSimBehavior('retry-after=Sun, 01 Mar 2026 12:00:30 GMT')).toEqual({
      retryAfter: 'Sun, 01 Mar 2026 12:00:30 GMT',
    });
  });

  it.each(['status=abc', 'status=700', 'body=xml', 'as=unknown', 'delay-ms=-1', 'colour=blue'])(
    'refuses "%s" with a reason',
    (spec) => {
      expect(parseSimBehavior(spec)).toEqual({ error: expect.stringContaining('cannot read') });
    },
  );
});
