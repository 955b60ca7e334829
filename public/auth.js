/*
 * The consent fallback of Teams SSO, shared by auth-start.html and auth-end.html (the page says which
 * it is in <body data-page>). No token is redeemed here: finishing the authorize step is what records
 * the user's consent; the bot then retries the silent token exchange.
 *
 * The outcome is written to <body data-result data-reason data-reported> so that it can be observed
 * without Teams, and is reported to Teams through @microsoft/teams-js (served by the bot itself).
 */
/* global window, document, location, history, sessionStorage, fetch, crypto, TextEncoder, URL, URLSearchParams, btoa */
(function () {
  'use strict';

  const STATE_KEY = 'consent.state';
  const VERIFIER_KEY = 'consent.codeVerifier';
  /** Long enough for any real error_description, short enough to keep the popup readable. */
  const MAX_DESCRIPTION_LENGTH = 400;

  function show(text) {
    // textContent, never innerHTML: error_description comes from the URL.
    document.getElementById('message').textContent = text;
  }

  function record(outcome) {
    document.body.dataset.result = outcome.result;
    if (outcome.reason) document.body.dataset.reason = outcome.reason;
    show(outcome.text);
  }

  function base64url(bytes) {
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function randomToken() {
    // 32 random bytes: a 43-character PKCE verifier, the shortest RFC 7636 allows.
    return base64url(crypto.getRandomValues(new Uint8Array(32)));
  }

  async function codeChallengeOf(verifier) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    return base64url(new Uint8Array(digest));
  }

  function isStringArray(value) {
    return Array.isArray(value) && value.every((item) => typeof item === 'string' && item !== '');
  }

  async function loadConfig() {
    const response = await fetch('auth-config.json', {
      cache: 'no-store',
      credentials: 'same-origin',
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new Error(
        typeof problem.error === 'string'
          ? problem.error
          : `The sign-in settings are unavailable (${response.status}).`,
      );
    }
    const config = await response.json();
    if (
      typeof config.authorizeEndpoint !== 'string' ||
      typeof config.clientId !== 'string' ||
      typeof config.redirectUri !== 'string' ||
      !isStringArray(config.scopes)
    ) {
      throw new Error('The sign-in settings are incomplete.');
    }
    return config;
  }

  /** Teams fills {loginHint} in the sign-in link; an unfilled placeholder is no hint. */
  function loginHintOf(search) {
    const hint = search.get('loginHint') || search.get('login_hint');
    return hint && !/^\{.*\}$/.test(hint) ? hint : undefined;
  }

  async function startSignIn() {
    const config = await loadConfig();
    const state = randomToken();
    const verifier = randomToken();
    sessionStorage.setItem(STATE_KEY, state);
    sessionStorage.setItem(VERIFIER_KEY, verifier);

    const url = new URL(config.authorizeEndpoint);
    url.searchParams.set('client_id', config.clientId);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('response_mode', 'query');
    url.searchParams.set('redirect_uri', config.redirectUri);
    url.searchParams.set('scope', config.scopes.join(' '));
    url.searchParams.set('state', state);
    url.searchParams.set('code_challenge', await codeChallengeOf(verifier));
    url.searchParams.set('code_challenge_method', 'S256');
    const loginHint = loginHintOf(new URLSearchParams(location.search));
    if (loginHint) url.searchParams.set('login_hint', loginHint);
    location.assign(url.toString());
  }

  function failure(reason, detail) {
    return { result: 'failure', reason, text: `Sign-in failed: ${detail}` };
  }

  /** What the authorize endpoint's reply means; the state is checked first so that a forged link cannot put its text on this page. */
  function outcomeOf(params, expectedState) {
    if (!expectedState || params.get('state') !== expectedState) {
      return failure(
        'state_mismatch',
        'This reply does not belong to a sign-in started in this window. Please try again.',
      );
    }
    const error = params.get('error');
    if (error) {
      const description = (params.get('error_description') || error).slice(
        0,
        MAX_DESCRIPTION_LENGTH,
      );
      return failure(error.replace(/[^\w.-]/g, '').slice(0, 64) || 'error', description);
    }
    if (!params.get('code')) return failure('no_code', 'The sign-in page sent no result.');
    return { result: 'success', text: 'Signed in. You can close this window.' };
  }

  function finishSignIn() {
    const params = new URLSearchParams(location.search);
    const expectedState = sessionStorage.getItem(STATE_KEY);
    sessionStorage.removeItem(STATE_KEY);
    sessionStorage.removeItem(VERIFIER_KEY);
    // The authorization code must not stay in the address bar or the history.
    history.replaceState(null, '', location.pathname);
    return outcomeOf(params, expectedState);
  }

  /** Tells Teams (the window that opened this popup) how it went; outside Teams there is no one to tell. */
  async function reportToTeams(outcome) {
    const teams = window.microsoftTeams;
    if (!teams) {
      document.body.dataset.reported = 'unavailable';
      return;
    }
    try {
      await teams.app.initialize();
    } catch {
      document.body.dataset.reported = 'no-host';
      return;
    }
    if (outcome.result === 'success') teams.authentication.notifySuccess();
    else teams.authentication.notifyFailure(outcome.reason);
    document.body.dataset.reported = 'teams';
  }

  const page = document.body.dataset.page;
  if (page === 'auth-start') {
    startSignIn().catch((error) => {
      const outcome = failure('start_failed', error.message);
      record(outcome);
      return reportToTeams(outcome);
    });
  } else if (page === 'auth-end') {
    const outcome = finishSignIn();
    record(outcome);
    reportToTeams(outcome);
  }
})();
