/** Reading form posts and writing answers on node:http, the same way for every endpoint. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A status and body to send; `body` undefined means an empty body. */
export interface Answer {
  status: number;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** Browser pages (the consent page's own script) may call the token endpoint and read keys. */
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'content-type, authorization, client-request-id',
};

export function json(status: number, value: unknown, headers?: Record<string, string>): Answer {
  return {
    status,
    body: JSON.stringify(value),
    contentType: 'application/json; charset=utf-8',
    headers: { 'cache-control': 'no-store', ...headers },
  };
}

/** A small page for errors that must not be redirected (unknown client, unregistered redirect URI). */
export function errorPage(status: number, title: string, message: string): Answer {
  const body = [
    '<!DOCTYPE html>',
    `<html><head><title>${escapeHtml(title)}</title></head>`,
    `<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`,
    '<p>(sandbox identity provider)</p></body></html>',
  ].join('\n');
  return { status, body, contentType: 'text/html; charset=utf-8' };
}

export function redirect(location: string): Answer {
  return { status: 302, headers: { location, 'cache-control': 'no-store' } };
}

export function preflight(): Answer {
  return { status: 204 };
}

/** The request body as form fields; undefined when it is larger than `limitBytes`. */
export async function readForm(
  req: IncomingMessage,
  limitBytes = 64 * 1024,
): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export function send(res: ServerResponse, answer: Answer): void {
  const headers: Record<string, string> = { ...CORS, ...answer.headers };
  if (answer.contentType) headers['content-type'] = answer.contentType;
  // restify, loaded in the same test processes, patches writeHead so it no longer returns `res`:
  // never chain writeHead(...).end().
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
