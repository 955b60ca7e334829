/**
 * A stand-in for the Teams client around the consent popup: a page that opens the bot's
 * auth-start.html with window.open (as Teams does for the sign-in button) and answers the
 * @microsoft/teams-js postMessage protocol just enough for the popup to report its outcome.
 *
 * The protocol, as teams-js 2.58 speaks it (dist/umd/MicrosoftTeams.js, communication.ts):
 * - the app posts requests to `window.opener`:
 *   `{ id, uuidAsString, func, args, timestamp, monotonicTimestamp, apiVersionTag, isProxiedFromChild, teamsJsInstanceId }`;
 * - `app.initialize()` sends `func: 'initialize'` (to any origin) and waits for a response
 *   `{ id, uuidAsString, args: [frameContext, hostClientType, runtimeConfigJson, clientSdkVersion] }`
 *   from a window whose origin is its own or on its allow list;
 * - `authentication.notifySuccess(result)` / `notifyFailure(reason)` then send
 *   `func: 'authentication.authenticate.success' | 'authentication.authenticate.failure'`,
 *   `args: [result | reason]`, need no answer, and close the popup about 300 ms later.
 *
 * The host holds its answer to `initialize` until the test calls `answerInitialize`, so that the
 * test can read the popup before teams-js closes it.
 */
import type { Page } from 'playwright-core';

export const TEAMS_HOST_PATH = '/__test-teams-host.html';

/** What the host page saw from the popup. */
export interface TeamsHostRecord {
  /** Every teams-js request, in order: function name, its args and the sender's origin. */
  requests: { func: string; args: unknown[]; origin: string }[];
  /** What `authentication.notifySuccess` / `notifyFailure` said. */
  reports: ({ outcome: 'success'; result: unknown } | { outcome: 'failure'; reason: unknown })[];
}

/** Served by the test at TEAMS_HOST_PATH on the bot's origin: teams-js accepts same-origin hosts. */
export const TEAMS_HOST_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Teams (test host)</title></head>
<body>
<script>
  const host = { requests: [], reports: [], held: [], answerAtOnce: false };
  window.teamsHost = host;

  // Teams' answer to initialize: an authentication window, the web client, a version 4 runtime.
  const INITIALIZE_ANSWER = ['authentication', 'web', JSON.stringify({ apiVersion: 4, supports: {} }), '2.58.0'];

  function answer(pending) {
    pending.source.postMessage(
      { id: pending.request.id, uuidAsString: pending.request.uuidAsString, args: INITIALIZE_ANSWER },
      pending.origin,
    );
  }

  window.addEventListener('message', (event) => {
    const request = event.data;
    if (!request || typeof request.func !== 'string') return;
    if (event.source !== host.popup) return;
    host.requests.push({ func: request.func, args: request.args, origin: event.origin });
    switch (request.func) {
      case 'initialize': {
        const pending = { source: event.source, origin: event.origin, request };
        if (host.answerAtOnce) answer(pending);
        else host.held.push(pending);
        break;
      }
      case 'authentication.authenticate.success':
        host.reports.push({ outcome: 'success', result: request.args[0] });
        break;
      case 'authentication.authenticate.failure':
        host.reports.push({ outcome: 'failure', reason: request.args[0] });
        break;
    }
  });

  window.openSignIn = (url) => {
    host.popup = window.open(url, 'teams-sign-in', 'width=600,height=535');
  };
  window.answerInitialize = () => {
    host.answerAtOnce = true;
    host.held.splice(0).forEach(answer);
  };
</script>
</body></html>`;

interface HostWindow {
  teamsHost: TeamsHostRecord & { held: unknown[] };
  openSignIn(url: string): void;
  answerInitialize(): void;
}

/** Opens the sign-in popup from the host page, as Teams does; resolves with the popup's page. */
export async function openSignInPopup(host: Page, url: string): Promise<Page> {
  const [popup] = await Promise.all([
    host.waitForEvent('popup'),
    host.evaluate((target) => (window as unknown as HostWindow).openSignIn(target), url),
  ]);
  return popup;
}

/** Lets the popup's `app.initialize()` resolve (now, and at once from here on). */
export async function answerInitialize(host: Page): Promise<void> {
  await host.evaluate(() => (window as unknown as HostWindow).answerInitialize());
}

/** Waits until the popup has asked Teams for something (`initialize`, most likely). */
export async function waitForRequest(host: Page, func: string): Promise<void> {
  await host.waitForFunction(
    (name) => (window as unknown as HostWindow).teamsHost.requests.some((r) => r.func === name),
    func,
  );
}

/** Waits for the popup's report, then returns everything the host saw. */
export async function waitForReport(host: Page): Promise<TeamsHostRecord> {
  await host.waitForFunction(() => (window as unknown as HostWindow).teamsHost.reports.length > 0);
  return host.evaluate(() => {
    const { requests, reports } = (window as unknown as HostWindow).teamsHost;
    return { requests, reports };
  });
}
