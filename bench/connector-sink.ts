/**
 * A Bot Connector that does as little as possible: every POST or PUT gets 200 `{"id": ...}` at
 * once, with nothing kept (unlike test/support/connector-stub.ts, which records every call). The
 * activities' `serviceUrl` points here, so the bot under test pays for its replies exactly as it
 * would against Teams, minus the network.
 *
 * With `watch`, it also remembers, per conversation, the last card's request id and message id (a
 * regular expression over the body, no JSON parse) and when each call arrived: the load driver needs
 * the request id to press Elevate, and the throttling run needs to see each outcome arrive.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SinkEvent {
  method: string;
  /** process.hrtime.bigint() when the call's body had arrived. */
  at: bigint;
}

export interface SeenCard {
  /** The id the sink gave the card's message (what Teams sends back as `replyToId`). */
  activityId: string;
  /** The `requestId` of the card's Elevate action, when it has one (the floor's card does not). */
  requestId?: string;
}

export interface ConnectorSink {
  url: string;
  /** Calls answered so far. */
  count(): number;
  /** The last message posted to the conversation whose body held an Action.Execute's data. */
  lastCard(conversationId: string): SeenCard | undefined;
  /** Every call to the conversation, oldest first (watch mode only). */
  events(conversationId: string): SinkEvent[];
  stop(): Promise<void>;
}

const ACTIVITY_PATH = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/?]+))?/;
const REQUEST_ID = /"requestId"\s*:\s*"([0-9a-fA-F-]{36})"/;
const HAS_ACTION = /"Action\.Execute"/;

export async function startConnectorSink(
  options: { watch?: boolean } = {},
): Promise<ConnectorSink> {
  const watch = options.watch ?? false;
  const cards = new Map<string, SeenCard>();
  const events = new Map<string, SinkEvent[]>();
  let next = 0;
  let answered = 0;

  const answer = (req: IncomingMessage, res: ServerResponse, body: string | undefined) => {
    const method = req.method ?? 'POST';
    let id: string;
    if (method === 'PUT') {
      const match = ACTIVITY_PATH.exec(req.url ?? '');
      id = match?.[2] ? decodeURIComponent(match[2]) : `sink-${++next}`;
    } else {
      id = `sink-${++next}`;
    }
    if (watch && body !== undefined) {
      const match = ACTIVITY_PATH.exec(req.url ?? '');
      const conversationId = match?.[1] ? decodeURIComponent(match[1]) : '';
      let list = events.get(conversationId);
      if (!list) events.set(conversationId, (list = []));
      list.push({ method, at: process.hrtime.bigint() });
      if (method === 'POST' && HAS_ACTION.test(body)) {
        cards.set(conversationId, { activityId: id, requestId: REQUEST_ID.exec(body)?.[1] });
      }
    }
    const payload = `{"id":"${id}"}`;
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
    });
    res.end(payload);
    answered++;
  };

  const server = createServer((req, res) => {
    if (!watch) {
      req.resume();
      req.on('end', () => answer(req, res, undefined));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => answer(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    count: () => answered,
    lastCard: (conversationId) => cards.get(conversationId),
    events: (conversationId) => events.get(conversationId) ?? [],
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
