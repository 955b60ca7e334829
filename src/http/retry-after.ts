/**
 * Reads a `Retry-After` header (RFC 9110 §10.2.3): either whole seconds or an HTTP date.
 * Power Platform documents no rate limit, so this header is the only hint of when to come back.
 */

/** Whole seconds only: "1.5", "-1" and "1e3" are not valid delay-seconds. */
const DELAY_SECONDS = /^\d{1,9}$/;
/** An HTTP date always names a weekday or month; this keeps Date.parse away from bare numbers. */
const HTTP_DATE = /^[A-Za-z]{3,9},? .*\d{2}:\d{2}:\d{2}/;
/** The asctime form carries no zone; HTTP dates are always GMT, so say so before parsing. */
const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * The delay the header asks for, in milliseconds, or undefined when absent or unreadable.
 * A date in the past means "now" (0).
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (DELAY_SECONDS.test(text)) return Number(text) * 1000;
  if (!HTTP_DATE.test(text)) return undefined;
  const at = Date.parse(ASCTIME.test(text) ? `${text} GMT` : text);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - now);
}
