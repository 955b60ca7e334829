/** Who is calling the token endpoint: a registered client id with its secret (form or Basic). */
import { createHash, timingSafeEqual } from 'node:crypto';

import { entraError, missingParameter } from './entra-errors';
import type { Answer } from './http-answers';

export interface ClientRegistration {
  /** The app (client) id. */
  clientId: string;
  /** Its client secret. */
  clientSecret: string;
}

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
  if (!sameSecret(secret, client.clientSecret)) {
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
