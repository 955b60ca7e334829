/**
 * The consent fallback of Teams SSO in headless chromium: a stand-in Teams client opens the bot's
 * auth-start.html in a popup, the popup goes to the local identity provider's authorize endpoint
 * (authorization code + PKCE), comes back to auth-end.html, and reports the outcome to Teams
 * through @microsoft/teams-js served by the bot itself. Nothing may leave the machine.
 */
import type restify from 'restify';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Page,
  type Route,
} from 'playwright-core';

import {
  registerConsentPages,
  TEAMS_JS_ROUTE,
  type ConsentPagesOptions,
} from '../../src/consent-pages';
import { silentLogger } from '../../src/log';
import { freePort } from '../../src/sandbox/playground';
import {
  OBO_GRANT_TYPE,
  startIdentityProvider,
  type IdentityProvider,
  type IdpUser,
} from '../../src/sandbox/identity-provider';
import { createServer, listen } from '../../src/server';
import {
  answerInitialize,
  openSignInPopup,
  TEAMS_HOST_HTML,
  TEAMS_HOST_PATH,
  waitForReport,
  waitForRequest,
} from './support/consent-teams-host';

import { CHROMIUM, CHROMIUM_ARGS } from './support/chromium';
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

// Each story takes about a second; the margin is for a loaded machine.
jest.setTimeout(60_000);

const TENANT_ID = '6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const CLIENT_ID = '2b7e9c1d-3f4a-4b5c-8d6e-7f8091a2b3c4';
const CLIENT_SECRET = 'consent-pages-test-secret';
const POWER_PLATFORM_SCOPE = 'https://api.powerplatform.com/.default';
const MEGAN: IdpUser = {
  oid: '9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a',
  tid: TENANT_ID,
  name: 'Megan Bowen',
  upn: 'megan@contoso.example',
};

let browser: Browser;
let identityProvider: IdentityProvider;
let bot: restify.Server;
let botUrl: string;
let authorizeEndpoint: string;

beforeAll(async () => {
  // The identity provider must know the redirect URI before the bot exists to serve it.
  const botPort = await freePort();
  botUrl = `http://127.0.0.1:${botPort}`;
  identityProvider = await startIdentityProvider({
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
    ssoAudiences: [CLIENT_ID],
    redirectUris: [`${botUrl}/auth-end.html`],
    users: [MEGAN],
  });
  authorizeEndpoint = `${identityProvider.url}/${TENANT_ID}/oauth2/v2.0/authorize`;
  bot = createServer({
    logger: silentLogger,
    processActivity: async () => undefined,
    routes: (server) =>
      registerConsentPages(server, {
        authorizeEndpoint,
        clientId: CLIENT_ID,
        scopes: [POWER_PLATFORM_SCOPE],
      }),
  });
  await listen(bot, botPort, '127.0.0.1');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (bot ? bot.close(() => resolve()) : resolve()));
  await identityProvider?.stop();
});

/** A browser context with a stand-in Teams client open in it, and what its pages asked for. */
interface TeamsClient {
  context: BrowserContext;
  host: Page;
  /** Every URL any page of the context requested (the popup's navigations included). */
  requested: URL[];
  /** Requests to other machines; aborted, and expected to be none. */
  offsite: string[];
  /** Content types of the bot's answers, by path. */
  contentTypes: Map<string, string>;
  /** Console lines of every page (CSP refusals show up here). */
  console: string[];
}

/** Lets a test play man in the middle on the authorize request (e.g. to change the reply). */
type AuthorizeInterceptor = (route: Route) => Promise<void>;

const contexts: BrowserContext[] = [];
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
  identityProvider.setUserBehavior(MEGAN.oid, undefined);
});

async function openTeamsClient(onAuthorize?: AuthorizeInterceptor): Promise<TeamsClient> {
  const context = await browser.newContext();
  contexts.push(context);
  const client: TeamsClient = {
    context,
    host: undefined as unknown as Page,
    requested: [],
    offsite: [],
    contentTypes: new Map(),
    console: [],
  };
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (!LOCAL_HOSTS.has(url.hostname)) {
      client.offsite.push(url.href);
      return route.abort('blockedbyclient');
    }
    if (url.origin === botUrl && url.pathname === TEAMS_HOST_PATH) {
      return route.fulfill({ contentType: 'text/html; charset=utf-8', body: TEAMS_HOST_HTML });
    }
    if (onAuthorize && url.href.startsWith(authorizeEndpoint)) return onAuthorize(route);
    return route.continue();
  });
  context.on('request', (request) => client.requested.push(new URL(request.url())));
  context.on('console', (message) => client.console.push(message.text()));
  context.on('response', (response) => {
    const url = new URL(response.url());
    if (url.origin === botUrl) {
      client.contentTypes.set(url.pathname, response.headers()['content-type'] ?? '');
    }
  });
  client.host = await context.newPage();
  await client.host.goto(`${botUrl}${TEAMS_HOST_PATH}`);
  return client;
}

/** The authorize requests the popup made, as sent. */
function authorizeRequests(client: TeamsClient): URLSearchParams[] {
  return client.requested
    .filter((url) => url.href.startsWith(authorizeEndpoint))
    .map((url) => url.searchParams);
}

/** What the popup shows once auth-end.html has decided, read before teams-js closes it. */
async function popupOutcome(popup: Page) {
  await popup.waitForSelector('body[data-result]');
  return popup.evaluate(() => ({
    page: document.body.dataset.page,
    result: document.body.dataset.result,
    reason: document.body.dataset.reason,
    text: document.getElementById('message')?.textContent,
    html: document.getElementById('message')?.innerHTML,
    href: location.href,
    storedItems: sessionStorage.length,
  }));
}

async function waitForClose(popup: Page): Promise<void> {
  if (!popup.isClosed()) await popup.waitForEvent('close');
}

/** The on-behalf-of exchange the bot retries after consent, as msal-node would send it. */
async function onBehalfOfStatus(user: IdpUser): Promise<{ status: number; suberror?: string }> {
  const assertion = await identityProvider.mintSsoToken(user);
  const response = await fetch(`${identityProvider.url}/${TENANT_ID}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: OBO_GRANT_TYPE,
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      assertion,
      scope: POWER_PLATFORM_SCOPE,
      requested_token_use: 'on_behalf_of',
    }),
  });
  const body = (await response.json()) as { suberror?: string };
  return { status: response.status, suberror: body.suberror };
}

test('a completed consent is reported to Teams as success, and the popup closes itself', async () => {
  const client = await openTeamsClient();
  const popup = await openSignInPopup(
    client.host,
    `${botUrl}/auth-start.html?loginHint=${encodeURIComponent(MEGAN.upn ?? '')}`,
  );

  const shown = await popupOutcome(popup);
  expect(shown).toMatchObject({
    page: 'auth-end',
    result: 'success',
    text: 'Signed in. You can close this window.',
    // The authorization code leaves the address bar and history; state and verifier are gone.
    href: `${botUrl}/auth-end.html`,
    storedItems: 0,
  });
  expect(shown.reason).toBeUndefined();

  await waitForRequest(client.host, 'initialize');
  await answerInitialize(client.host);
  const seen = await waitForReport(client.host);
  expect(seen.reports).toEqual([{ outcome: 'success', result: undefined }]);
  expect(seen.requests.map((request) => request.func)).toEqual([
    'initialize',
    'authentication.authenticate.success',
  ]);
  expect(new Set(seen.requests.map((request) => request.origin))).toEqual(new Set([botUrl]));
  await waitForClose(popup);
});

test('consent in the popup is what lets the retried on-behalf-of exchange succeed', async () => {
  identityProvider.setUserBehavior(MEGAN.oid, 'consent-required');
  expect(await onBehalfOfStatus(MEGAN)).toEqual({ status: 400, suberror: 'consent_required' });

  const client = await openTeamsClient();
  const popup = await openSignInPopup(
    client.host,
    `${botUrl}/auth-start.html?loginHint=${encodeURIComponent(MEGAN.upn ?? '')}`,
  );
  expect((await popupOutcome(popup)).result).toBe('success');
  await answerInitialize(client.host);
  expect((await waitForReport(client.host)).reports).toEqual([
    { outcome: 'success', result: undefined },
  ]);

  expect((await onBehalfOfStatus(MEGAN)).status).toBe(200);
});

test('the authorize request carries PKCE S256 with a 43-character challenge, a fresh state, the consent scopes and the login hint', async () => {
  const client = await openTeamsClient();
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const popup = await openSignInPopup(
      client.host,
      `${botUrl}/auth-start.html?loginHint=${encodeURIComponent(MEGAN.upn ?? '')}`,
    );
    await popupOutcome(popup);
    await answerInitialize(client.host);
    await waitForClose(popup);
  }

  const [first, second] = authorizeRequests(client);
  expect(authorizeRequests(client)).toHaveLength(2);
  for (const request of [first, second]) {
    expect(Object.fromEntries(request!)).toEqual({
      client_id: CLIENT_ID,
      response_type: 'code',
      response_mode: 'query',
      redirect_uri: `${botUrl}/auth-end.html`,
      scope: `openid profile offline_access ${POWER_PLATFORM_SCOPE}`,
      state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge_method: 'S256',
      login_hint: MEGAN.upn,
    });
  }
  expect(second!.get('state')).not.toBe(first!.get('state'));
  expect(second!.get('code_challenge')).not.toBe(first!.get('code_challenge'));
});

test('an unfilled {loginHint} placeholder is not sent as a login hint', async () => {
  const client = await openTeamsClient(async (route) => {
    // No default user here: answer as the provider would once it had signed someone in.
    const request = new URL(route.request().url()).searchParams;
    const back = new URL(`${botUrl}/auth-end.html`);
    back.searchParams.set('code', 'a-code');
    back.searchParams.set('state', request.get('state') ?? '');
    await route.fulfill({ status: 302, headers: { location: back.href } });
  });
  const popup = await openSignInPopup(
    client.host,
    `${botUrl}/auth-start.html?loginHint={loginHint}`,
  );
  await popupOutcome(popup);
  expect(authorizeRequests(client)[0]?.has('login_hint')).toBe(false);
});

test('a reply whose state was tampered with is reported to Teams as failure', async () => {
  const client = await openTeamsClient(async (route) => {
    // The real provider answers; the reply is changed on its way back to the popup.
    const answer = await route.fetch({ maxRedirects: 0 });
    const location = new URL(answer.headers()['location'] ?? '');
    expect(location.searchParams.get('code')).toBeTruthy();
    location.searchParams.set('state', 'forged-state');
    await route.fulfill({ status: 302, headers: { location: location.href } });
  });
  const popup = await openSignInPopup(
    client.host,
    `${botUrl}/auth-start.html?loginHint=${encodeURIComponent(MEGAN.upn ?? '')}`,
  );

  const shown = await popupOutcome(popup);
  expect(shown).toMatchObject({ result: 'failure', reason: 'state_mismatch', storedItems: 0 });
  expect(shown.text).toMatch(/^Sign-in failed: /);

  await answerInitialize(client.host);
  const seen = await waitForReport(client.host);
  expect(seen.reports).toEqual([{ outcome: 'failure', reason: 'state_mismatch' }]);
  await waitForClose(popup);
});

test('a refused consent shows the error description as text, not HTML, and reports failure', async () => {
  const description = 'The user declined <img src=x onerror="window.injected=1"><b>consent</b>.';
  const client = await openTeamsClient(async (route) => {
    // What Entra sends back when the user presses Cancel on its consent page.
    const state = new URL(route.request().url()).searchParams.get('state') ?? '';
    const back = new URL(`${botUrl}/auth-end.html`);
    back.searchParams.set('error', 'access_denied');
    back.searchParams.set('error_description', description);
    back.searchParams.set('state', state);
    await route.fulfill({ status: 302, headers: { location: back.href } });
  });
  const popup = await openSignInPopup(client.host, `${botUrl}/auth-start.html`);

  const shown = await popupOutcome(popup);
  expect(shown).toMatchObject({
    result: 'failure',
    reason: 'access_denied',
    text: `Sign-in failed: ${description}`,
  });
  expect(shown.html).not.toContain('<img');
  expect(await popup.locator('#message *').count()).toBe(0);
  expect(await popup.evaluate(() => (window as { injected?: number }).injected)).toBeUndefined();

  await answerInitialize(client.host);
  expect((await waitForReport(client.host)).reports).toEqual([
    { outcome: 'failure', reason: 'access_denied' },
  ]);
  await waitForClose(popup);
});

test("the identity provider's own error (an unknown login hint) is shown and reported", async () => {
  const client = await openTeamsClient();
  const popup = await openSignInPopup(
    client.host,
    `${botUrl}/auth-start.html?loginHint=${encodeURIComponent('<i>nobody</i>@contoso.example')}`,
  );

  const shown = await popupOutcome(popup);
  expect(shown).toMatchObject({ result: 'failure', reason: 'login_required' });
  expect(shown.text).toContain("No account matches the login_hint '<i>nobody</i>@contoso.example'");
  expect(await popup.locator('#message *').count()).toBe(0);

  await answerInitialize(client.host);
  expect((await waitForReport(client.host)).reports).toEqual([
    { outcome: 'failure', reason: 'login_required' },
  ]);
});

test('a link straight to auth-end.html, outside any sign-in, is refused', async () => {
  const client = await openTeamsClient();
  const page = await client.context.newPage();
  await page.goto(`${botUrl}/auth-end.html?code=stolen-code&state=guessed-state`);

  const shown = await popupOutcome(page);
  expect(shown).toMatchObject({ result: 'failure', reason: 'state_mismatch' });
  // Opened outside Teams, there is no one to report to; the page says so instead of hanging.
  await page.waitForSelector('body[data-reported="no-host"]');
});

test('teams-js comes from the bot itself with a JavaScript content type, and no request leaves the machine', async () => {
  const client = await openTeamsClient();
  const popup = await openSignInPopup(
    client.host,
    `${botUrl}/auth-start.html?loginHint=${encodeURIComponent(MEGAN.upn ?? '')}`,
  );
  await popupOutcome(popup);
  await answerInitialize(client.host);
  await waitForReport(client.host);
  await waitForClose(popup);

  const scripts = client.requested.filter((url) => url.pathname.endsWith('.js'));
  expect(scripts.map((url) => url.href)).toEqual(
    expect.arrayContaining([`${botUrl}${TEAMS_JS_ROUTE}`, `${botUrl}/auth.js`]),
  );
  expect(scripts.every((url) => url.origin === botUrl)).toBe(true);
  expect(client.contentTypes.get(TEAMS_JS_ROUTE)).toMatch(/^application\/javascript/);
  expect(client.contentTypes.get('/auth.js')).toMatch(/^application\/javascript/);
  expect(client.offsite).toEqual([]);
  expect(client.requested.filter((url) => !LOCAL_HOSTS.has(url.hostname))).toEqual([]);
  // teams-js looks up its list of valid origins on a CDN when it loads; the CSP refuses it.
  expect(client.console).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/res\.cdn\.office\.net.*Content Security Policy/),
    ]),
  );
});

test('the consent routes send CSP, nosniff and no-referrer, and serve nothing else', async () => {
  for (const route of [
    '/auth-start.html',
    '/auth-end.html',
    '/auth.js',
    '/auth-config.json',
    TEAMS_JS_ROUTE,
  ]) {
    const response = await fetch(`${botUrl}${route}`);
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toMatch(/frame-ancestors [^;]*https:\/\/teams\.microsoft\.com/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  }
  const teamsJs = await fetch(`${botUrl}${TEAMS_JS_ROUTE}`);
  expect(teamsJs.headers.get('cache-control')).toMatch(/max-age=\d+/);

  const config = await (await fetch(`${botUrl}/auth-config.json`)).json();
  expect(config).toEqual({
    authorizeEndpoint,
    clientId: CLIENT_ID,
    scopes: ['openid', 'profile', 'offline_access', POWER_PLATFORM_SCOPE],
    redirectUri: `${botUrl}/auth-end.html`,
  });

  for (const path of [
    '/public/auth.js',
    '/auth-start.html/../package.json',
    '/vendor/teams-js/',
    '/vendor/teams-js/MicrosoftTeams.js.map',
    '/vendor/teams-js/..%2f..%2fpackage.json',
    '/node_modules/@microsoft/teams-js/package.json',
    '/public/',
  ]) {
    const response = await fetch(`${botUrl}${path}`);
    expect({ path, status: response.status }).toEqual({ path, status: 404 });
  }
});

/** Runs `use` against another bot, configured otherwise. */
async function withBot(
  options: Partial<ConsentPagesOptions>,
  use: (url: string) => Promise<void>,
): Promise<void> {
  const server = createServer({
    logger: silentLogger,
    processActivity: async () => undefined,
    routes: (routes) =>
      registerConsentPages(routes, {
        authorizeEndpoint,
        scopes: [POWER_PLATFORM_SCOPE],
        ...options,
      }),
  });
  const url = await listen(server, 0, '127.0.0.1');
  try {
    await use(url);
  } finally {
    // The test's page is still open (closed after the test), and a connection it was using when
    // close() began would hold the server open: closed with the server, not left to time out.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.server.closeAllConnections();
    await closed;
  }
}

test('with a public base URL, the redirect URI is the public one, whatever the Host header', async () => {
  await withBot(
    { clientId: CLIENT_ID, publicBaseUrl: 'https://bot.contoso.example/' },
    async (url) => {
      const config = await (await fetch(`${url}/auth-config.json`)).json();
      expect(config.redirectUri).toBe('https://bot.contoso.example/auth-end.html');
    },
  );
});

test('without a sign-in app configured, auth-start.html says so instead of redirecting', async () => {
  await withBot({ clientId: undefined }, async (url) => {
    expect((await fetch(`${url}/auth-config.json`)).status).toBe(503);
    const client = await openTeamsClient();
    const page = await client.context.newPage();
    await page.goto(`${url}/auth-start.html`);

    const shown = await popupOutcome(page);
    expect(shown).toMatchObject({
      page: 'auth-start',
      result: 'failure',
      reason: 'start_failed',
      text: 'Sign-in failed: This bot has no sign-in app configured.',
    });
    expect(authorizeRequests(client)).toEqual([]);
  });
});
