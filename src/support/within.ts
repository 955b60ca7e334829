/**
 * Waiting for a promise at most so long: the caller gets TIMED_OUT after `ms`, and the promise
 * keeps running (its result, when it comes, is ignored).
 */

export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * The promise's value, or TIMED_OUT when it takes longer than `ms`. `onTimeout` runs just before
 * TIMED_OUT is returned (to abort the work that is no longer awaited, say); a rejection passes
 * through as it is.
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout?: () => void,
): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => {
      onTimeout?.();
      resolve(TIMED_OUT);
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
