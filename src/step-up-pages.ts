/**
 * The step-up sign-in's two routes on the bot's HTTP server: GET /step-up?ticket=... sends the
 * browser to the authorize endpoint with the claims challenge, GET /step-up/callback redeems the
 * code (identity/step-up-sign-in.ts decides). Answers are redirects or small pages without
 * scripts; nothing from the URL is echoed except through HTML escaping.
 */
import type restify from 'restify';
import {
  STEP_UP_CALLBACK_PATH,
  STEP_UP_PATH,
  type StepUpAnswer,
  type StepUpSignIn,
} from './identity/step-up-sign-in';
import type { Logger } from './log';

const HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  // The authorization code is in the callback's URL: it must not leak in a Referer header.
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export function registerStepUpPages(
  server: restify.Server,
  stepUp: StepUpSignIn,
  logger: Logger,
): void {
  const route = (path: string, handle: (query: URLSearchParams) => Promise<StepUpAnswer>) => {
    server.get(path, async (req, res) => {
      let answer: StepUpAnswer;
      try {
        answer = await handle(new URL(req.url ?? '/', 'http://bot').searchParams);
      } catch (error) {
        logger.error('step-up sign-in failed', { error: error instanceof Error ? error.name : '' });
        answer = {
          kind: 'page',
          status: 500,
          title: 'Something went wrong',
          message: 'The sign-in could not be checked. Press Elevate again in Teams to retry.',
        };
      }
      send(res, answer);
    });
  };
  route(STEP_UP_PATH, (query) => stepUp.start(query.get('ticket') ?? undefined));
  route(STEP_UP_CALLBACK_PATH, (query) => stepUp.callback(query));
}

function send(res: restify.Response, answer: StepUpAnswer): void {
  if (answer.kind === 'redirect') {
    res.sendRaw(302, '', { ...HEADERS, Location: answer.location, 'Content-Length': '0' });
    return;
  }
  const body = Buffer.from(
    [
      '<!DOCTYPE html>',
      `<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(answer.title)}</title>`,
      '<meta name="viewport" content="width=device-width, initial-scale=1"></head>',
      '<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">',
      `<h1>${escapeHtml(answer.title)}</h1><p>${escapeHtml(answer.message)}</p>`,
      '</body></html>',
    ].join('\n'),
  );
  res.sendRaw(answer.status, body, {
    ...HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(body.length),
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
