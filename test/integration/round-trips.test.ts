/**
 * Storage round trips on a turn's critical path (issue #12, item 4): how many Azure Table requests
 * the bot makes before it answers, counted at a proxy in front of Azurite, with the bot warm (a
 * first request asked, signed in, caches filled). Requests in flight at the same time count once:
 * what the user waits for is the number of sequential round trips.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type Azurite, startAzurite } from '../support/azurite';
import { startTableEdge, type TableEdge } from '../support/storage-edge';
import { actionData, ALEX, cardOf, startTestBot, type TestBot } from '../support/test-bot';

type Seen = TableEdge['seen'][number];

/**
 * The targets, 2 (`elevate me in` → card) and 3 (Elevate → outcome, the API call aside):
 * the test fails when a change adds a round trip. A time-boxed Elevate also exchanges the sign-in
 * for a Dataverse token (the role check that tells what to remove at the end), which reads the
 * shared token cache beside the claim's reads: counted on its own, so that neither path can grow
 * unseen.
 */
const PATHS: Array<{ name: string; env: Record<string, string>; card: number; outcome: number }> = [
  { name: 'time-boxed (the default)', env: {}, card: 2, outcome: 3 },
  { name: 'without time-boxing', env: { ELEVATION_TIME_BOX: 'false' }, card: 2, outcome: 3 },
];

/** How long the simulated applyAdminRole takes (the real one takes seconds). */
const API_CALL_MS = 300;

/** Requests whose time in flight overlaps count as one round trip. */
function sequentialRoundTrips(requests: Seen[]): number {
  const sorted = [...requests].sort((a, b) => a.start - b.start);
  let trips = 0;
  let busyUntil = -Infinity;
  for (const r of sorted) {
    const end = r.end ?? Infinity;
    if (r.start >= busyUntil) trips += 1;
    busyUntil = Math.max(busyUntil, end);
  }
  return trips;
}

/** One line per request: when it started and ended (ms after the first), method and URL. */
function listing(requests: Seen[]): string {
  const origin = Math.min(...requests.map((r) => r.start));
  const ms = (t: number | undefined) => (t === undefined ? '?' : (t - origin).toFixed(0));
  return requests.map((r) => `${ms(r.start)}-${ms(r.end)} ms ${r.method} ${r.url}`).join('\n');
}

/**
 * The requests the answer (at `answeredAt`) may have waited for: those whose own answer came
 * before it. One still in flight when the user had their answer was not waited for.
 */
function answeredAfter(requests: Seen[], answeredAt: number): Seen[] {
  return requests.filter((r) => r.end !== undefined && r.end <= answeredAt);
}

/**
 * Two writes run beside the answer, never awaited by it: the keep of the token that removes the
 * role at the end (`later/` in the shared secrets), and msal's token cache (`msal/`), written
 * behind the token it hands over. Held back at the edge, they answer after the answer and are not
 * counted. Were the answer to wait for one, it would be counted, and the test would fail. (Only
 * msal's writes are held: its read before an exchange is on the path, and counted.)
 */
const WRITTEN_BESIDE: Array<{ url: RegExp; method?: string; heldMs: number }> = [
  { url: /RowKey='later%2F/, heldMs: 2_000 },
  // Longer than the keep, which a stop waits for too: the stop test sees msal's write alone.
  { url: /RowKey='msal%2F/, method: 'PUT', heldMs: 4_000 },
];

/** A time span, in performance.now() time. */
interface Span {
  start: number;
  end: number;
}

/** The spans of the Power Platform API calls since `from` (the simulator records wall-clock time). */
function apiCalls(bot: TestBot, from: number): Span[] {
  const at = (iso: string) => Date.parse(iso) - performance.timeOrigin;
  return bot.simulator.calls
    .slice(from)
    .filter((call) => call.operation === 'applyAdminRole' && call.answeredAt)
    .map((call) => ({ start: at(call.time), end: at(call.answeredAt!) + 1 }));
}

/**
 * Fails unless `requests` make at most `limit` sequential round trips; the message lists them.
 * Requests made while the API call was in flight, and answered before it, are beside it: the user
 * waits for the API call anyway.
 */
function expectRoundTrips(all: Seen[], limit: number, beside: Span[] = []): void {
  const inside = (r: Seen) =>
    r.end !== undefined && beside.some((span) => r.start >= span.start && r.end! <= span.end);
  const requests = all.filter((r) => !inside(r));
  const sequential = sequentialRoundTrips(requests);
  if (sequential > limit || process.env.SHOW_ROUND_TRIPS) {
    throw new Error(
      `${sequential} sequential Table round trips (at most ${limit}), ${requests.length} requests:\n${listing(requests)}` +
        (requests.length < all.length
          ? `\nand beside the API call:\n${listing(all.filter(inside))}`
          : ''),
    );
  }
}

describe.each(PATHS)(
  'storage round trips before the answer, on Azure Table Storage, $name',
  (path) => {
    const CARD_ROUND_TRIPS = path.card;
    const OUTCOME_ROUND_TRIPS = path.outcome;
    let azurite: Azurite;
    let edge: TableEdge;
    let bot: TestBot;

    beforeAll(async () => {
      azurite = await startAzurite();
      edge = await startTableEdge(azurite);
      for (const write of WRITTEN_BESIDE) edge.hold(write.url, write.heldMs, write.method);
      bot = await startTestBot({
        env: {
          STORAGE: 'azure-table',
          AZURE_STORAGE_CONNECTION_STRING: edge.connectionString,
          AZURE_TABLE_PREFIX: `r${randomUUID().replace(/-/g, '').slice(0, 20)}`,
          TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
          ...path.env,
        },
      });
      // Warm: asked once, signed in, the request cancelled so that the next one is new.
      const first = await bot.say(ALEX, 'elevate me in Contoso Dev');
      const requestId = actionData(cardOf(first.calls[0]!.activity), 'elevate')!.requestId;
      await bot.click(ALEX, 'cancel', { requestId });
      // The outbox's delivery runs beside the answer (woken on a later turn of the event loop), not
      // before it: stopped, so that only what the answer waits for is counted.
      await bot.app.dispatcher.stop();
    });

    afterAll(async () => {
      await bot?.stop();
      await edge?.stop();
      await azurite?.stop();
    });

    it(`\`elevate me in\` shows its card after at most ${CARD_ROUND_TRIPS} sequential Table requests`, async () => {
      const from = edge.seen.length;
      const asked = await bot.say(ALEX, 'elevate me in Contoso Dev');
      const card = asked.calls.find((call) => cardOf(call.activity));
      expect(card).toBeDefined();
      const before = answeredAfter(edge.seen.slice(from), card!.receivedAt);
      expectRoundTrips(before, CARD_ROUND_TRIPS);
    });

    it(`Elevate answers with the outcome after at most ${OUTCOME_ROUND_TRIPS} sequential Table requests`, async () => {
      const asked = await bot.say(ALEX, 'elevate me in Contoso Dev');
      const requestId = actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId;
      // The API takes its time, as the real one does (seconds): what the bot reads meanwhile
      // costs the user nothing.
      bot.simulator.override(`delay-ms=${API_CALL_MS}`, { operation: 'applyAdminRole' });
      const from = edge.seen.length;
      const calls = bot.simulator.calls.length;
      const click = await bot.click(ALEX, 'elevate', {
        requestId,
        justification: 'INC-1042: restore a broken flow',
      });
      bot.simulator.clearOverrides();
      expect(JSON.stringify(click.body)).toContain('Elevated: you are System Administrator');
      const before = answeredAfter(edge.seen.slice(from), click.answeredAt);
      const api = apiCalls(bot, calls);
      expect(api).toHaveLength(1);
      expectRoundTrips(before, OUTCOME_ROUND_TRIPS, api);
    });

    if (path.env.ELEVATION_TIME_BOX === undefined) {
      it("a stop waits for msal's token cache written behind the answer", async () => {
        // The Elevate above exchanged for a Dataverse token; its cache write is held at the edge.
        const msalWrites = () =>
          edge.seen.filter((r) => r.method === 'PUT' && /RowKey='msal%2F/.test(r.url));
        expect(msalWrites().filter((r) => r.end === undefined).length).toBeGreaterThan(0);
        await bot.app.stop();
        expect(msalWrites().every((r) => r.end !== undefined)).toBe(true);
      });
    }
  },
);
