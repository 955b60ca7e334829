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
}

export interface ConnectorStub {
  url: string;
  calls: ConnectorCall[];
  /** Makes the next N calls answer with this status (to test failures). */
  failNext(status: number, count?: number): void;
  stop(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startConnectorStub(): Promise<ConnectorStub> {
  const calls: ConnectorCall[] = [];
  let failures: { status: number; count: number } | undefined;
  let next = 1;
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const match = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/?]+))?/.exec(req.url ?? '');
    if (!match) {
      res.writeHead(404);
      res.end();
      return;
    }
    if (failures && failures.count > 0) {
      failures.count -= 1;
      res.writeHead(failures.status, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"Stub"}}');
      return;
    }
    const method = req.method as ConnectorCall['method'];
    const assignedId = method === 'POST' ? `activity-${next++}` : undefined;
    calls.push({
      method,
      conversationId: decodeURIComponent(match[1] ?? ''),
      activityId: match[2] ? decodeURIComponent(match[2]) : undefined,
      assignedId,
      activity: body ? (JSON.parse(body) as Record<string, unknown>) : {},
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: assignedId ?? match[2] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    failNext: (status, count = 1) => {
      failures = { status, count };
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
