/**
 * The load driver: Teams activities (a message, then the card's Action.Execute) posted to
 * /api/messages over keep-alive HTTP, as many users, in a closed loop (N connections, each sends
 * its next request when the last one is answered) or an open loop (requests start at a fixed
 * rate whether or not earlier ones are answered). Every latency is one raw sample, from the
 * moment the request is written to the last byte of the answer (process.hrtime.bigint()).
 */
import { Agent, request as httpRequest } from 'node:http';
import { activityFrom } from '../test/support/teams-client';
import { guidFrom } from '../src/sandbox/power-platform-simulator';
import { SANDBOX_TENANT_ID } from '../src/sandbox/directory';
import type { ConnectorSink } from './connector-sink';

export interface BenchUser {
  aadObjectId: string;
  name: string;
  tenantId: string;
}

/**
 * `count` distinct users of the sandbox tenant. The local identity provider makes anyone it does
 * not know a Power Platform administrator, so every one of them may elevate.
 */
export function benchUsers(count: number, prefix = 'bench'): BenchUser[] {
  return Array.from({ length: count }, (_, index) => ({
    aadObjectId: guidFrom(`${prefix}-user:${index}`),
    name: `Bench User ${index + 1}`,
    tenantId: SANDBOX_TENANT_ID,
  }));
}

export function conversationOf(user: BenchUser): string {
  return `a:personal-${user.aadObjectId}`;
}

export interface Answer {
  status: number;
  text: string;
  /** From writing the request to the last byte of the answer. */
  ns: bigint;
  /** process.hrtime.bigint() when the request was written, and when the answer was complete. */
  startedAt: bigint;
  endedAt: bigint;
}

/** Posts activities from users to one bot; its replies go to the sink. */
export class TeamsDriver {
  private readonly agent: Agent;
  private readonly target: URL;

  constructor(
    botUrl: string,
    private readonly sink: ConnectorSink,
    options: { maxSockets?: number } = {},
  ) {
    this.target = new URL('/api/messages', botUrl);
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: options.maxSockets ?? Infinity,
      keepAliveMsecs: 30_000,
    });
  }

  /** The user writes `text` in their personal chat with the bot. */
  message(user: BenchUser, text: string): Promise<Answer> {
    return this.post({ ...activityFrom(user, this.sink.url), type: 'message', text });
  }

  /** The user presses a card's button (Action.Execute `verb`) on the message `replyToId`. */
  click(
    user: BenchUser,
    verb: string,
    data: Record<string, unknown>,
    replyToId?: string,
  ): Promise<Answer> {
    return this.post({
      ...activityFrom(user, this.sink.url),
      type: 'invoke',
      name: 'adaptiveCard/action',
      replyToId,
      value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
    });
  }

  /**
   * "elevate me in <environment>", then Elevate on the card that came back: the confirmation's
   * own answer time, with the request id (undefined from the floor, whose card has none).
   */
  async elevate(
    user: BenchUser,
    environment: string,
  ): Promise<{ message: Answer; click: Answer; requestId?: string }> {
    const message = await this.message(user, `elevate me in ${environment}`);
    if (message.status !== 200) throw new Error(`message answered ${message.status}`);
    const card = this.sink.lastCard(conversationOf(user));
    const click = await this.click(
      user,
      'elevate',
      { requestId: card?.requestId, justification: 'Benchmark run' },
      card?.activityId,
    );
    if (click.status !== 200) throw new Error(`click answered ${click.status}: ${click.text}`);
    return { message, click, requestId: card?.requestId };
  }

  close(): void {
    this.agent.destroy();
  }

  private post(activity: Record<string, unknown>): Promise<Answer> {
    const body = JSON.stringify(activity);
    return new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        {
          agent: this.agent,
          host: this.target.hostname,
          port: this.target.port,
          path: this.target.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const endedAt = process.hrtime.bigint();
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              ns: endedAt - started,
              startedAt: started,
              endedAt,
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      const started = process.hrtime.bigint();
      req.end(body);
    });
  }
}

export interface LoopResult {
  /** One latency per measured request, in ns. */
  samples: bigint[];
  /** Requests that failed (an error, or an answer other than 200). */
  errors: number;
  /** The first few errors, for the report. */
  errorMessages: string[];
  /** How long the measured window lasted, in ms. */
  elapsedMs: number;
  /** Measured requests per second. */
  perSecond: number;
  /** Every step run, warm-up included (what the server's counters saw during the loop). */
  steps: number;
}

/** One unit of work: resolves with its latency in ns, throws when it failed. */
export type Step = (index: number) => Promise<bigint>;

function collector() {
  const samples: bigint[] = [];
  const errorMessages: string[] = [];
  let errors = 0;
  return {
    samples,
    errorMessages,
    get errors() {
      return errors;
    },
    fail(error: unknown) {
      errors++;
      if (errorMessages.length < 5) {
        errorMessages.push(error instanceof Error ? error.message : String(error));
      }
    },
  };
}

/**
 * `connections` workers, each running `step` back to back for `warmupMs` (not recorded) and then
 * `durationMs` (recorded: requests that start in the window).
 */
export async function closedLoop(options: {
  connections: number;
  warmupMs: number;
  durationMs: number;
  step: Step;
}): Promise<LoopResult> {
  const results = collector();
  let index = 0;
  const start = process.hrtime.bigint();
  const measureFrom = start + BigInt(Math.round(options.warmupMs * 1e6));
  const end = measureFrom + BigInt(Math.round(options.durationMs * 1e6));
  let lastEnd = measureFrom;
  const worker = async () => {
    for (;;) {
      const began = process.hrtime.bigint();
      if (began >= end) return;
      const measured = began >= measureFrom;
      try {
        const ns = await options.step(index++);
        if (measured) results.samples.push(ns);
      } catch (error) {
        if (measured) results.fail(error);
      }
      const now = process.hrtime.bigint();
      if (measured && now > lastEnd) lastEnd = now;
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  const elapsedMs = Number(lastEnd - measureFrom) / 1e6;
  return {
    samples: results.samples,
    errors: results.errors,
    errorMessages: results.errorMessages,
    elapsedMs,
    perSecond: (results.samples.length * 1000) / Math.max(1, elapsedMs),
    steps: index,
  };
}

/**
 * Starts `step` at a fixed rate for `durationMs`, whatever is still in flight, then waits for
 * all of them. Also reports how late the driver started requests (its own health).
 */
export async function openLoop(options: {
  perSecond: number;
  durationMs: number;
  step: Step;
}): Promise<LoopResult & { lateP99Ms: number }> {
  const results = collector();
  const intervalNs = 1e9 / options.perSecond;
  const total = Math.max(1, Math.floor((options.durationMs / 1000) * options.perSecond));
  const start = process.hrtime.bigint();
  const inFlight: Promise<void>[] = [];
  const lateness: number[] = [];
  for (let index = 0; index < total; index++) {
    const due = start + BigInt(Math.round(index * intervalNs));
    let now = process.hrtime.bigint();
    if (due > now) {
      await new Promise((resolve) => setTimeout(resolve, Number(due - now) / 1e6));
      now = process.hrtime.bigint();
    }
    lateness.push(Number(now - due) / 1e6);
    inFlight.push(
      options.step(index).then(
        (ns) => void results.samples.push(ns),
        (error: unknown) => results.fail(error),
      ),
    );
  }
  await Promise.all(inFlight);
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  lateness.sort((a, b) => a - b);
  return {
    samples: results.samples,
    errors: results.errors,
    errorMessages: results.errorMessages,
    elapsedMs,
    perSecond: (results.samples.length * 1000) / Math.max(1, elapsedMs),
    steps: total,
    lateP99Ms: lateness[Math.min(lateness.length - 1, Math.ceil(0.99 * lateness.length) - 1)] ?? 0,
  };
}

/** Runs `work` over `items` with at most `concurrency` at a time (warm-up, preparation). */
export async function inBatches<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
