/**
 * A local Bot Connector: the bot's replies, updates and proactive messages arrive here over real
 * HTTP (the activities' serviceUrl points at it), and tests read what the user would have seen.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConnectorCall {
  method: 'POST' | 'PUT' | 'DELETE';
  conversationId: string;
  /** The activity replied to (POST) or updated (PUT). */
  activityId?: string;
  /** The id the stub gave the activity (POST). */
  assignedId?: string;
  activity: Record<string, unknown>;
  /** When the stub received it (performance.now()), to order it against other edges' requests. */
  receivedAt: number;
}

export interface FailureOptions {
  /** Only calls to this conversation fail (default: any). */
  conversationId?: string;
  headers?: Record<string, string>;
  /** The error body (default: a generic Bot Framework error). */
  body?: string;
  /** Answer only after this long (to test timeouts). */
  delayMs?: number;
}

export interface ConnectorStub {
  url: string;
  /** Calls the stub accepted (answered 2xx), in order. */
  calls: ConnectorCall[];
  /** Every request, accepted or failed: conversation id and the status answered. */
  requests: Array<{ method: string; conversationId: string; status: number }>;
  /** Makes the next N calls (to one conversation, or any) answer with this status. */
  failNext(status: number, count?: number, options?: FailureOptions): void;
  /** Forgets the failures still to come: every call succeeds again. */
  clearFailures(): void;
  stop(): Promise<void>;
}

interface FailureRule extends FailureOptions {
  status: number;
  remaining: number;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startConnectorStub(): Promise<ConnectorStub> {
  const calls: ConnectorCall[] = [];
  const requests: ConnectorStub['requests'] = [];
  const rules: FailureRule[] = [];
  let next = 1;
  const server: Server = createServer(async (req, res) => {
    const receivedAt = performance.now();
    const body = await readBody(req);
    const match = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/?]+))?/.exec(req.url ?? '');
    if (!match) {
      res.writeHead(404);
      res.end();
      return;
    }
    const conversationId = decodeURIComponent(match[1] ?? '');
    const rule = rules.find(
      (r) => r.remaining > 0 && (!r.conversationId || r.conversationId === conversationId),
    );
    if (rule) {
      rule.remaining -= 1;
      if (rule.delayMs) await new Promise((resolve) => setTimeout(resolve, rule.delayMs));
      requests.push({ method: req.method ?? '', conversationId, status: rule.status });
      res.writeHead(rule.status, { 'content-type': 'application/json', ...rule.headers });
      res.end(rule.body ?? '{"error":{"code":"Stub","message":"failure made by the test"}}');
      return;
    }
    requests.push({ method: req.method ?? '', conversationId, status: 200 });
    const method = req.method as ConnectorCall['method'];
    const assignedId = method === 'POST' ? `activity-${next++}` : undefined;
    calls.push({
      method,
      conversationId,
      activityId: match[2] ? decodeURIComponent(match[2]) : undefined,
      assignedId,
      activity: body ? (JSON.parse(body) as Record<string, unknown>) : {},
      receivedAt,
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: assignedId ?? match[2] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    requests,
    failNext: (status, count = 1, options = {}) => {
      rules.push({ ...options, status, remaining: count });
    },
    clearFailures: () => {
      rules.length = 0;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
