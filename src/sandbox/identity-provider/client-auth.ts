/**
 * Who is calling the token endpoint: a registered client id with its secret (form or Basic), or
 * with a client assertion signed by its certificate's private key (as msal-node sends it).
 */
import { constants, createHash, createPublicKey, timingSafeEqual, verify } from 'node:crypto';

import { entraError, missingParameter } from './entra-errors';
import type { Answer } from './http-answers';

export interface ClientRegistration {
  /** The app (client) id. */
  clientId: string;
  /** Its client secret, if it has one. */
  clientSecret?: string;
  /** Its certificate, if it has one: the public key and the SHA-256 thumbprint (hex). */
  certificate?: { publicKeyPem: string; thumbprintSha256: string };
}

/** RFC 7523 client authentication with a signed JWT. */
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Tolerated clock difference for the assertion's time claims. */
const ASSERTION_SKEW_SECONDS = 300;

export type ClientCheck = { ok: true; clientId: string } | { ok: false; answer: Answer };

export interface ClientCheckOptions {
  /** False lets a client without a secret through (authorization code with PKCE, like a SPA). */
  secretRequired: boolean;
  correlationId?: string;
}

export function authenticateClient(
  form: URLSearchParams,
  authorization: string | undefined,
  clients: ReadonlyMap<string, ClientRegistration>,
  options: ClientCheckOptions,
): ClientCheck {
  const basic = basicCredentials(authorization);
  const clientId = form.get('client_id') ?? basic?.id;
  const secret = form.get('client_secret') ?? basic?.secret;
  const correlationId = options.correlationId;
  if (!clientId) return { ok: false, answer: missingParameter('client_id', correlationId) };

  const client = clients.get(clientId.toLowerCase());
  if (!client) {
    return {
      ok: false,
      answer: entraError(400, {
        error: 'unauthorized_client',
        code: 700016,
        text: `Application with identifier '${clientId}' was not found in the directory.`,
        correlationId,
      }),
    };
  }
  const assertion = form.get('client_assertion');
  if (assertion && form.get('client_assertion_type') === CLIENT_ASSERTION_TYPE) {
    const problem = clientAssertionProblem(assertion, client);
    if (problem) {
      return {
        ok: false,
        answer: entraError(401, {
          error: 'invalid_client',
          code: 700027,
          text: `Client assertion failed signature validation or its claims are wrong: ${problem}.`,
          correlationId,
        }),
      };
    }
    return { ok: true, clientId: client.clientId };
  }
  if (secret === undefined || secret === '') {
    if (!options.secretRequired) return { ok: true, clientId: client.clientId };
    return {
      ok: false,
      answer: entraError(401, {
        error: 'invalid_client',
        code: 7000218,
        text: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        correlationId,
      }),
    };
  }
  if (client.clientSecret === undefined || !sameSecret(secret, client.clientSecret)) {
    return {
      ok: false,
      answer: entraError(401, {
        error: 'invalid_client',
        code: 7000215,
        text: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.clientId}'.`,
        correlationId,
      }),
    };
  }
  return { ok: true, clientId: client.clientId };
}

/** What is wrong with a client assertion, or undefined when it proves the client. */
function clientAssertionProblem(assertion: string, client: ClientRegistration): string | undefined {
  if (!client.certificate) return 'the application has no certificate';
  const [headerPart, payloadPart, signaturePart] = assertion.split('.');
  if (!headerPart || !payloadPart || !signaturePart) return 'not a signed JWT';
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    payload = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return 'not a readable JWT';
  }
  const thumbprint = Buffer.from(client.certificate.thumbprintSha256, 'hex').toString('base64url');
  if (header['x5t#S256'] !== thumbprint)
    return 'the x5t#S256 thumbprint is not the registered certificate';
  const key = createPublicKey(client.certificate.publicKeyPem);
  const signed = Buffer.from(`${headerPart}.${payloadPart}`);
  const signature = Buffer.from(signaturePart, 'base64url');
  const valid =
    header.alg === 'PS256'
      ? verify(
          'sha256',
          signed,
          {
            key,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
          },
          signature,
        )
      : header.alg === 'RS256' && verify('sha256', signed, key, signature);
  if (!valid) return 'bad signature';
  const now = Math.floor(Date.now() / 1000);
  if (payload.iss !== client.clientId || payload.sub !== client.clientId)
    return 'iss and sub must be the client id';
  if (typeof payload.aud !== 'string' || !/\/oauth2\/v2\.0\/token$/.test(payload.aud))
    return 'aud must be the token endpoint';
  if (typeof payload.exp !== 'number' || payload.exp + ASSERTION_SKEW_SECONDS < now)
    return 'expired';
  if (typeof payload.nbf === 'number' && payload.nbf - ASSERTION_SKEW_SECONDS > now)
    return 'not yet valid';
  return undefined;
}

/** Compares digests so that the time taken says nothing about the secret. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    // RFC 6749 2.3.1: both parts are form-encoded before they are joined.
    return {
      id: decodeURIComponent(decoded.slice(0, colon)),
      secret: decodeURIComponent(decoded.slice(colon + 1)),
    };
  } catch {
    return undefined;
  }
}
