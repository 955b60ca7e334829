/**
 * Percentiles from raw samples (no histograms, no averaging of percentiles), and the small
 * formatting helpers the benchmark tables share.
 */

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of the samples, in the samples' unit. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (fraction: number): number =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ??
    NaN;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length);
  return {
    count: sorted.length,
    mean: sorted.length > 0 ? mean : NaN,
    p50: at(0.5),
    p99: at(0.99),
    max: at(1),
  };
}

/** Nanoseconds (a hrtime difference) as milliseconds. */
export function ms(nanoseconds: bigint | number): number {
  return Number(nanoseconds) / 1e6;
}

/** The median of a few values (cold starts). */
export function median(values: readonly number[]): number {
  return summarize(values).p50;
}

/** A number with a sensible number of digits for a table. */
export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(digits);
}

/** True when every field of the summary is a finite number and there are samples. */
export function wellFormed(summary: Summary): boolean {
  return (
    summary.count > 0 &&
    [summary.mean, summary.p50, summary.p99, summary.max].every((value) => Number.isFinite(value))
  );
}
