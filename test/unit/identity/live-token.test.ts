/**
 * holdsLiveToken: whether msal's memory answers an on-behalf-of request by itself, so that the
 * stored cache need not be read first. The assertion's hash is msal's own (CryptoProvider).
 */
import { CryptoProvider } from '@azure/msal-node';
import { holdsLiveToken } from '../../../src/identity/token-cache';

const NOW = Date.parse('2026-12-07T10:00:00Z');
const ASSERTION = 'header.payload-of-the-teams-sso-token.signature';
const PP = 'https://api.powerplatform.com/.default';
const DATAVERSE = 'https://contoso-dev.crm.dynamics.com/.default';

async function cacheWith(entry: { assertion?: string; target: string; expiresInMinutes: number }) {
  const hash = await new CryptoProvider().hashString(entry.assertion ?? ASSERTION);
  return JSON.stringify({
    AccessToken: {
      'some-key': {
        credential_type: 'AccessToken',
        secret: 'not-a-real-token',
        target: entry.target,
        expires_on: String(Math.floor((NOW + entry.expiresInMinutes * 60_000) / 1000)),
        userAssertionHash: hash,
      },
    },
  });
}

const HELD_PP =
  'https://api.powerplatform.com/UserManagement.Users.Apply https://api.powerplatform.com/EnvironmentManagement.Environments.Read';

it.each([
  ['a live token of the same assertion for the resource asked', {}, PP, undefined, true],
  [
    'another assertion (a newer Teams token)',
    { assertion: 'another.sso.token' },
    PP,
    undefined,
    false,
  ],
  ['another resource (Dataverse)', {}, DATAVERSE, undefined, false],
  [
    'expiring within msal’s five-minute refresh offset',
    { expiresInMinutes: 4 },
    PP,
    undefined,
    false,
  ],
  ['expired', { expiresInMinutes: -1 }, PP, undefined, false],
  ['claims asked (msal skips its cache then)', {}, PP, '{"access_token":{}}', false],
])('%s', async (_what, entry, scope, claims, expected) => {
  const serialized = await cacheWith({ target: HELD_PP, expiresInMinutes: 60, ...entry });
  expect(
    holdsLiveToken(serialized, { oboAssertion: ASSERTION, scopes: [scope], claims }, NOW),
  ).toBe(expected);
});

it('an empty or unreadable memory holds nothing', () => {
  const request = { oboAssertion: ASSERTION, scopes: [PP] };
  expect(holdsLiveToken('{}', request, NOW)).toBe(false);
  expect(holdsLiveToken('not json', request, NOW)).toBe(false);
});

it('OIDC scopes alone ask for no resource: the store is read', async () => {
  const serialized = await cacheWith({ target: HELD_PP, expiresInMinutes: 60 });
  expect(
    holdsLiveToken(serialized, { oboAssertion: ASSERTION, scopes: ['openid', 'profile'] }, NOW),
  ).toBe(false);
});
