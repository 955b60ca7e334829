/**
 * The one outbound HTTP client: every call the bot makes goes through `HttpClient.request`, which
 * adds a per-attempt timeout and a total deadline, retries what is worth retrying, sends an
 * `x-ms-client-request-id`, and writes one structured log line per attempt (never a header value).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { Logger, redactText, silentLogger } from '../log';
import { parseRetryAfter } from './retry-after';

export interface HttpClientOptions {
  /** Time allowed for one attempt, from sending the request to the last byte of the body. */
  attemptTimeoutMs?: number;
  /** Time allowed for the whole call, attempts and waits between them included. */
  totalTimeoutMs?: number;
  /** Attempts in total, the first one included. */
  maxAttempts?: number;
  /** First backoff delay; it doubles on every retry and gets jitter. */
  baseDelayMs?: number;
  /** Longest backoff delay, whatever the attempt number. */
  maxDelayMs?: number;
  /** Longest `Retry-After` we wait for; a longer one ends the call with that response. */
  maxRetryAfterMs?: number;
  /** Where the per-attempt lines go. */
  logger?: Logger;
}

const DEFAULTS = {
  attemptTimeoutMs: 10_000,
  totalTimeoutMs: 25_000,
  maxAttempts: 4,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 10_000,
} as const;

/** Statuses that say "try again later" rather than "this request is wrong". */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
/** A retry is pointless when less than this would be left of the total deadline. */
const MIN_USEFUL_ATTEMPT_MS = 100;
/** Query parameters whose values are safe to log; any other value is masked. */
const LOGGABLE_QUERY = new Set(['api-version', '$top', '$skip', '$select', '$orderby']);
/** What `x-ms-client-request-id` may hold: it goes into a header and into logs. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface HttpRequest {
  method: string;
  url: string;
  /** Request headers; their values are never logged. */
  headers?: Record<string, string>;
  body?: string;
  /** Sent as `x-ms-client-request-id` on every attempt of this call; a fresh UUID when absent. */
  clientRequestId?: string;
  /** Cancels the call; the promise then rejects with the signal's reason, as fetch does. */
  signal?: AbortSignal;
}

/** A response arrived (any status; the last one when retries ran out). */
export interface HttpResponse {
  kind: 'response';
  status: number;
  statusText: string;
  /** Response headers, names in lower case. */
  headers: Record<string, string>;
  bodyText: string;
  /** The response's `Retry-After`, in milliseconds, when it had a readable one. */
  retryAfterMs?: number;
  attempts: number;
  durationMs: number;
  clientRequestId: string;
}

/** No response arrived on the last attempt. */
export interface TransportFailure {
  kind: 'timeout' | 'connection-failed';
  /** What happened, e.g. "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1". */
  message: string;
  attempts: number;
  durationMs: number;
  clientRequestId: string;
}

export type HttpResult = HttpResponse | TransportFailure;

/** True when the value can be sent as `x-ms-client-request-id` (a UUID always can). */
export function isClientRequestId(value: string): boolean {
  return CLIENT_REQUEST_ID.test(value);
}

type AttemptResult =
  | Omit<HttpResponse, 'attempts' | 'durationMs' | 'clientRequestId'>
  | Omit<TransportFailure, 'attempts' | 'durationMs' | 'clientRequestId'>;

export class HttpClient {
  private readonly settings: Required<Omit<HttpClientOptions, 'logger'>>;
  private readonly logger: Logger;

  constructor(options: HttpClientOptions = {}) {
    const { logger, ...rest } = options;
    this.settings = { ...DEFAULTS, ...definedOnly(rest) };
    this.logger = logger ?? silentLogger;
  }

  /**
   * Sends the request, retrying network errors, timeouts, 429, 502, 503 and 504 with exponential
   * backoff and jitter (never sooner than a `Retry-After` asks). Other statuses are returned as
   * they are: a 4xx will not change by asking again. POSTs are retried too: the only one the bot
   * sends, applyAdminRole, is safe to repeat (it answers success when the caller already is admin).
   */
  async request(request: HttpRequest): Promise<HttpResult> {
    const clientRequestId = request.clientRequestId ?? randomUUID();
    if (!isClientRequestId(clientRequestId)) {
      throw new TypeError('clientRequestId must be 1-128 letters, digits or ._:-');
    }
    const target = new URL(request.url);
    const { attemptTimeoutMs, totalTimeoutMs } = this.settings;
    const started = performance.now();
    const elapsed = () => performance.now() - started;

    for (let attempt = 1; ; attempt++) {
      request.signal?.throwIfAborted();
      const budget = Math.max(1, Math.min(attemptTimeoutMs, totalTimeoutMs - elapsed()));
      const attemptStarted = performance.now();
      const result = await this.attempt(request, clientRequestId, budget);
      const attemptMs = Math.round(performance.now() - attemptStarted);

      const delay = this.retryDelay(attempt, result);
      const retryInMs =
        delay !== undefined && elapsed() + delay + MIN_USEFUL_ATTEMPT_MS < totalTimeoutMs
          ? delay
          : undefined;
      this.logAttempt(
        request.method,
        target,
        attempt,
        attemptMs,
        clientRequestId,
        result,
        retryInMs,
      );

      if (retryInMs === undefined) {
        const durationMs = Math.round(elapsed());
        // Say what the whole call took, not just its last attempt.
        const message =
          result.kind === 'timeout'
            ? `No response after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${(durationMs / 1000).toFixed(1)} s`
            : undefined;
        return {
          ...result,
          ...(message ? { message } : {}),
          attempts: attempt,
          durationMs,
          clientRequestId,
        };
      }
      await sleep(retryInMs, request.signal);
    }
  }

  /** The wait before the next attempt, or undefined when this result is final. */
  private retryDelay(attempt: number, result: AttemptResult): number | undefined {
    if (attempt >= this.settings.maxAttempts) return undefined;
    if (result.kind === 'response' && !RETRYABLE_STATUS.has(result.status)) return undefined;
    const { baseDelayMs, maxDelayMs, maxRetryAfterMs } = this.settings;
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    // "Equal jitter": half fixed, half random, so retries from many callers spread out.
    const backoff = ceiling / 2 + Math.random() * (ceiling / 2);
    if (result.kind !== 'response' || result.retryAfterMs === undefined) return Math.round(backoff);
    // Retrying before Retry-After would not honour it; when it is too long, give up instead.
    if (result.retryAfterMs > maxRetryAfterMs) return undefined;
    return Math.round(Math.max(result.retryAfterMs, backoff));
  }

  private async attempt(
    request: HttpRequest,
    clientRequestId: string,
    budgetMs: number,
  ): Promise<AttemptResult> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, budgetMs);
    const onCallerAbort = () => controller.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      const response = await fetch(request.url, {
        method: request.method,
        headers: { ...request.headers, 'x-ms-client-request-id': clientRequestId },
        body: request.body,
        signal: controller.signal,
        // A redirect could carry the bearer token elsewhere; the APIs we call never redirect.
        redirect: 'manual',
      });
      const bodyText = await response.text();
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => (headers[name] = value));
      return {
        kind: 'response',
        status: response.status,
        statusText: response.statusText,
        headers,
        bodyText,
        retryAfterMs: parseRetryAfter(headers['retry-after']),
      };
    } catch (error) {
      if (timedOut)
        return { kind: 'timeout', message: `No response within ${Math.round(budgetMs)} ms` };
      if (request.signal?.aborted) throw request.signal.reason;
      return { kind: 'connection-failed', message: describeNetworkError(error) };
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  private logAttempt(
    method: string,
    target: URL,
    attempt: number,
    durationMs: number,
    clientRequestId: string,
    result: AttemptResult,
    retryInMs: number | undefined,
  ): void {
    const isResponse = result.kind === 'response';
    const fields = {
      method,
      host: target.host,
      path: loggablePath(target),
      attempt,
      outcome: result.kind,
      status: isResponse ? result.status : undefined,
      durationMs,
      clientRequestId,
      correlationId: isResponse ? result.headers['x-ms-correlation-id'] : undefined,
      error: isResponse ? undefined : result.message,
      retryInMs,
    };
    const failed = !isResponse || result.status >= 400;
    if (failed) this.logger.warn('http attempt', fields);
    else this.logger.info('http attempt', fields);
  }
}

/** The path and query of a URL with every query value masked except well-known harmless ones. */
function loggablePath(url: URL): string {
  const parts = [...url.searchParams].map(([name, value]) =>
    LOGGABLE_QUERY.has(name.toLowerCase())
      ? `${name}=${encodeURIComponent(value)}`
      : `${name}=[redacted]`,
  );
  return parts.length > 0 ? `${url.pathname}?${parts.join('&')}` : url.pathname;
}

function describeNetworkError(error: unknown): string {
  // undici says "fetch failed" and keeps the useful part (ECONNREFUSED, ...) in `cause`. Read it
  // by shape: errors from Node internals may come from another realm, where instanceof fails.
  const { cause } = (error ?? {}) as { cause?: unknown };
  const source = (cause ?? error ?? {}) as { code?: unknown; message?: unknown };
  const parts = [source.code, source.message].filter(
    (part): part is string => typeof part === 'string' && part.length > 0,
  );
  return redactText(parts.join(': ') || 'The connection failed');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Drops undefined fields so they do not overwrite defaults. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, item]) => item !== undefined),
  ) as Partial<T>;
}
