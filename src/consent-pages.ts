/**
 * The consent fallback of Teams SSO: the pages Teams opens in a popup when Entra needs the user's
 * consent (public/auth-start.html, public/auth-end.html, public/auth.js), their settings
 * (/auth-config.json) and @microsoft/teams-js, served from node_modules rather than a CDN; and
 * the privacy and terms pages the Teams app manifest links to (public/privacy.html, terms.html).
 *
 * Only these files are served; no path is taken from the URL.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type restify from 'restify';

export interface ConsentPagesOptions {
  /** The authority's authorize endpoint (`https://login.microsoftonline.com/<tenant>/oauth2/v2.0/authorize`). */
  authorizeEndpoint: string;
  /** The SSO app the user consents to; without it the pages say that sign-in is not configured. */
  clientId?: string;
  /** Scopes to consent to (the Power Platform API's); openid, profile and offline_access are added. */
  scopes: string[];
  /** `https://<BOT_DOMAIN>`, where Teams reaches the bot; without it, the origin of each request. */
  publicBaseUrl?: string;
}

/** What the browser receives from GET /auth-config.json. */
export interface ConsentPagesConfig {
  authorizeEndpoint: string;
  clientId: string;
  scopes: string[];
  redirectUri: string;
}

/** Scopes every consent request carries: the user's identity and a refresh token for the bot. */
const SIGN_IN_SCOPES = ['openid', 'profile', 'offline_access'];

/** Teams clients (web, desktop, the Microsoft 365 app and Outlook) that may frame these pages. */
const TEAMS_FRAME_ANCESTORS = [
  'https://teams.microsoft.com',
  'https://*.teams.microsoft.com',
  'https://*.cloud.microsoft',
  'https://teams.live.com',
  'https://*.office.com',
  'https://*.microsoft365.com',
];

const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  `frame-ancestors 'self' ${TEAMS_FRAME_ANCESTORS.join(' ')}`,
].join('; ');

/**
 * Sent with every response of these routes. No Cross-Origin-Opener-Policy: the popup must keep
 * `window.opener` (the Teams client) for teams-js to report back to it.
 */
const SECURITY_HEADERS = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  // The authorization code is in auth-end.html's URL: it must not leak in a Referer header.
  'Referrer-Policy': 'no-referrer',
};

const CACHE = {
  /** Pages and settings change with each deployment and are tiny. */
  never: 'no-store',
  /** teams-js changes only with the package; a day keeps popups fast without pinning a stale copy long. */
  aDay: 'public, max-age=86400',
};

interface StaticFile {
  route: string;
  body: Buffer;
  contentType: string;
  cacheControl: string;
}

export const TEAMS_JS_ROUTE = '/vendor/teams-js/MicrosoftTeams.min.js';

export function registerConsentPages(server: restify.Server, options: ConsentPagesOptions): void {
  const publicDir = findPublicDir();
  const page = (name: string, contentType: string): StaticFile => ({
    route: `/${name}`,
    body: readFileSync(path.join(publicDir, name)),
    contentType,
    cacheControl: CACHE.never,
  });
  const files: StaticFile[] = [
    page('auth-start.html', 'text/html; charset=utf-8'),
    page('auth-end.html', 'text/html; charset=utf-8'),
    page('auth.js', 'application/javascript; charset=utf-8'),
    // The manifest's privacyUrl and termsOfUseUrl (Teams shows them on the app's details page).
    page('privacy.html', 'text/html; charset=utf-8'),
    page('terms.html', 'text/html; charset=utf-8'),
    {
      route: TEAMS_JS_ROUTE,
      body: readFileSync(require.resolve('@microsoft/teams-js/dist/umd/MicrosoftTeams.min.js')),
      contentType: 'application/javascript; charset=utf-8',
      cacheControl: CACHE.aDay,
    },
  ];
  for (const file of files) {
    server.get(file.route, async (_req, res) => {
      send(res, 200, file.body, file.contentType, file.cacheControl);
    });
  }

  const scopes = [...new Set([...SIGN_IN_SCOPES, ...options.scopes])];
  const publicBaseUrl = options.publicBaseUrl?.replace(/\/+$/, '');
  server.get('/auth-config.json', async (req, res) => {
    if (!options.clientId) {
      sendJson(res, 503, { error: 'This bot has no sign-in app configured.' });
      return;
    }
    const baseUrl = publicBaseUrl ?? requestOrigin(req);
    if (!baseUrl) {
      sendJson(res, 400, { error: 'The request has no usable Host header.' });
      return;
    }
    const config: ConsentPagesConfig = {
      authorizeEndpoint: options.authorizeEndpoint,
      clientId: options.clientId,
      scopes,
      redirectUri: `${baseUrl}/auth-end.html`,
    };
    sendJson(res, 200, config);
  });
}

/** `public/` at the repository root, from src/ (ts-jest) as from dist/src/ (the build). */
function findPublicDir(): string {
  const candidates = [
    path.resolve(__dirname, '..', 'public'),
    path.resolve(__dirname, '../..', 'public'),
  ];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'auth-start.html')));
  if (!found) throw new Error(`The consent pages are missing: looked in ${candidates.join(', ')}.`);
  return found;
}

/** The origin the browser used, when the Host header is a plain host[:port]. */
function requestOrigin(req: restify.Request): string | undefined {
  const host = req.headers.host;
  if (!host || !/^[A-Za-z0-9.[\]:-]+$/.test(host)) return undefined;
  return `${req.isSecure() ? 'https' : 'http'}://${host}`;
}

function sendJson(res: restify.Response, status: number, body: unknown): void {
  send(
    res,
    status,
    Buffer.from(JSON.stringify(body)),
    'application/json; charset=utf-8',
    CACHE.never,
  );
}

function send(
  res: restify.Response,
  status: number,
  body: Buffer,
  contentType: string,
  cacheControl: string,
): void {
  res.sendRaw(status, body, {
    ...SECURITY_HEADERS,
    'Content-Type': contentType,
    'Content-Length': String(body.length),
    'Cache-Control': cacheControl,
  });
}
