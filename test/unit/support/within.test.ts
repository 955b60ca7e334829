import { TIMED_OUT, within } from '../../../src/support/within';

describe('within', () => {
  afterEach(() => jest.useRealTimers());

  it("gives the promise's value when it settles in time, and leaves no timer behind", async () => {
    jest.useFakeTimers();
    await expect(within(Promise.resolve('answer'), 1000)).resolves.toBe('answer');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('gives TIMED_OUT once the time is up, after running onTimeout', async () => {
    jest.useFakeTimers();
    const events: string[] = [];
    const never = new Promise<string>(() => undefined);
    const waited = within(never, 1000, () => events.push('timed out')).then((result) => {
      events.push(result === TIMED_OUT ? 'TIMED_OUT' : String(result));
    });
    await jest.advanceTimersByTimeAsync(999);
    expect(events).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    await waited;
    expect(events).toEqual(['timed out', 'TIMED_OUT']);
  });

  it('passes a rejection through as it is, without calling onTimeout', async () => {
    jest.useFakeTimers();
    const onTimeout = jest.fn();
    await expect(within(Promise.reject(new Error('refused')), 1000, onTimeout)).rejects.toThrow(
      'refused',
    );
    expect(jest.getTimerCount()).toBe(0);
    expect(onTimeout).not.toHaveBeenCalled();
  });
});
