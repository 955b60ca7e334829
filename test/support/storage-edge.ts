/**
 * Failures at the store's edge, to show that what must be written together is written together:
 * - Azure Table Storage: an HTTP proxy in front of Azurite that refuses the requests whose body
 *   matches (as a storage account refuses a write), and forwards everything else as it is;
 * - SQLite: a trigger on the database file that makes the database refuse an insert, whichever
 *   connection (or process) writes it.
 */
import Database from 'better-sqlite3';
import {
  type Agent,
  type ClientRequest,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Azurite } from './azurite';

export interface TableEdge {
  /** A connection string whose requests go through the proxy. */
  connectionString: string;
  /** From now on, requests whose body matches are answered 403 and never reach the storage. */
  refuse(body: RegExp): void;
  /** Everything goes through again. */
  allow(): void;
  /** How many requests were refused so far. */
  refused(): number;
  /**
   * From now on, requests whose (decoded) URL matches, and whose method is `method` when given,
   * reach the storage `ms` later.
   */
  hold(url: RegExp, ms: number, method?: string): void;
  /**
   * Every request that went through, in order: method and decoded path with its query, and when
   * it arrived and when its answer was sent (performance.now(), to tell sequential requests from
   * requests in flight at the same time).
   */
  seen: Array<{ method: string; url: string; start: number; end?: number }>;
  stop(): Promise<void>;
}

/** A write of an audit event: an entity of kind "audit" in a batch or alone. */
export const AUDIT_EVENT_WRITE = /"kind":"audit"/;

/**
 * Sends `req` on to the storage at `port` on loopback as it came (method, path, headers, with the
 * host rewritten), and its answer back through `res`; 502 when the storage cannot be reached.
 * The caller ends the returned request with the body (or pipes `req` into it).
 */
export function forwardTo(
  port: number,
  req: IncomingMessage,
  res: ServerResponse,
  agent?: Agent,
): ClientRequest {
  const forwarded = request(
    {
      host: '127.0.0.1',
      port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: `127.0.0.1:${port}` },
      agent,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  forwarded.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  return forwarded;
}

export async function startTableEdge(azurite: Azurite): Promise<TableEdge> {
  let refusing: RegExp | undefined;
  let refusedCount = 0;
  const holding: Array<{ url: RegExp; ms: number; method?: string }> = [];
  const seen: TableEdge['seen'] = [];
  const server: Server = createServer((req, res) => {
    const entry: TableEdge['seen'][number] = {
      method: req.method ?? '',
      url: decodeURIComponent(req.url ?? ''),
      start: performance.now(),
    };
    seen.push(entry);
    res.on('finish', () => {
      entry.end = performance.now();
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (refusing && refusing.test(body.toString('utf8'))) {
        refusedCount += 1;
        res.writeHead(403, {
          'content-type': 'application/json',
          'x-ms-error-code': 'AuthorizationFailure',
        });
        res.end(
          JSON.stringify({
            'odata.error': {
              code: 'AuthorizationFailure',
              message: {
                lang: 'en-US',
                value: 'The storage refused the write (injected by the test).',
              },
            },
          }),
        );
        return;
      }
      const forward = () => forwardTo(azurite.port, req, res).end(body);
      const held = holding.find(
        (h) => h.url.test(entry.url) && (h.method === undefined || h.method === entry.method),
      );
      if (held) setTimeout(forward, held.ms);
      else forward();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    connectionString: azurite.connectionString.replace(
      `127.0.0.1:${azurite.port}`,
      `127.0.0.1:${port}`,
    ),
    refuse: (body) => {
      refusing = body;
    },
    allow: () => {
      refusing = undefined;
    },
    refused: () => refusedCount,
    hold: (url, ms, method) => {
      holding.push({ url, ms, method });
    },
    seen,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Makes the SQLite file at `path` refuse every new audit event (a trigger), for every connection;
 * returns the function that lifts it.
 */
export function refuseSqliteAuditEvents(path: string): () => void {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  db.exec(`CREATE TRIGGER refuse_audit_events BEFORE INSERT ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the database refused the audit event (injected by the test)'); END`);
  return () => {
    db.exec('DROP TRIGGER IF EXISTS refuse_audit_events');
    db.close();
  };
}
