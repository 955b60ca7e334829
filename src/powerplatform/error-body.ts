/**
 * Turns any response body into a readable error: the Power Platform gateway answers with a flat
 * `{code, message, innererror}`, some namespaces wrap it as `{error: {...}}`, user management uses
 * the `{errors: [...], information: [...]}` envelope, and proxies answer with HTML or nothing.
 */
import { redactText } from '../log';
import { field, isRecord, readResultEnvelope, ResultEntry } from './result-envelope';

/** Which form the body had. */
export type BodyShape =
  /** No body at all (or only whitespace). */
  | 'empty'
  /** `{code, message, innererror}` as the gateway sends it. */
  | 'flat'
  /** `{error: {code, message}}`. */
  | 'wrapped'
  /** `{errors: [{Subject, Description, Code}], information: [...]}`. */
  | 'envelope'
  /** JSON of another form. */
  | 'json'
  /** An HTML page, typically from a proxy or load balancer. */
  | 'html'
  /** Any other text. */
  | 'text';

export interface ErrorBody {
  /** The most specific code the body gave (innererror.code, errors[0].Code, code). */
  errorCode?: string;
  /** Every code in the body, outermost first, so callers can look for a known one anywhere. */
  codes: string[];
  /** One readable sentence (never containing tokens). */
  message: string;
  /** Further lines: inner errors, the errors[] entries beyond the first. */
  details: string[];
  /** The body says the caller is not a Global, Power Platform or Dynamics 365 admin. */
  notTenantAdmin: boolean;
  shape: BodyShape;
}

/** Long enough for a stack-trace-like InnerException to stay useful, short enough for a card. */
const MAX_MESSAGE_CHARS = 1000;
const MAX_DETAILS = 20;
/** How deep we follow innererror chains. */
const MAX_DEPTH = 5;
/**
 * The not-tenant-admin refusal ("...as the user is not either a Global admin, Power Platform admin,
 * or Dynamics 365 admin"). Its status and wrapper are unconfirmed, so it is found in the raw text.
 */
const NOT_TENANT_ADMIN = [
  /not\s+either\s+a\s+Global\s+admin/i,
  /Global\s+admin,\s*Power\s+Platform\s+admin,?\s+or\s+Dynamics\s+365\s+admin/i,
];

/** Parses a response body of any form; never throws. */
export function parseErrorBody(bodyText: string): ErrorBody {
  const notTenantAdmin = NOT_TENANT_ADMIN.some((pattern) => pattern.test(bodyText));
  const parsed = parse(bodyText);
  return {
    ...parsed,
    message: clip(redactText(parsed.message)),
    details: parsed.details.slice(0, MAX_DETAILS).map((line) => clip(redactText(line))),
    notTenantAdmin,
  };
}

type Parsed = Omit<ErrorBody, 'notTenantAdmin'>;

function parse(bodyText: string): Parsed {
  const text = bodyText.trim();
  if (text.length === 0) {
    return { codes: [], message: 'The response body was empty', details: [], shape: 'empty' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fromText(text);
  }

  const envelope = readResultEnvelope(json);
  if (envelope) return fromEnvelope(envelope.errors, envelope.information);
  if (isRecord(json)) {
    const wrapped = field(json, 'error');
    if (isRecord(wrapped)) return { ...fromErrorObject(wrapped), shape: 'wrapped' };
    if (typeof field(json, 'code') === 'string' || isRecord(field(json, 'innererror'))) {
      return { ...fromErrorObject(json), shape: 'flat' };
    }
    return fromOtherJson(json);
  }
  if (typeof json === 'string' && json.trim().length > 0) {
    return { codes: [], message: json.trim(), details: [], shape: 'json' };
  }
  return {
    codes: [],
    message: `The response was JSON of an unknown form`,
    details: [],
    shape: 'json',
  };
}

/** `{code, message, innererror: {code, message, innererror...}, details: [{code, message}]}`. */
function fromErrorObject(error: Record<string, unknown>): Omit<Parsed, 'shape'> {
  const codes: string[] = [];
  const details: string[] = [];
  const topCode = stringField(error, 'code');
  const topMessage = stringField(error, 'message');
  if (topCode) codes.push(topCode);

  let inner = field(error, 'innererror');
  let innermostMessage: string | undefined;
  for (let depth = 0; depth < MAX_DEPTH && isRecord(inner); depth++) {
    const code = stringField(inner, 'code');
    const message = stringField(inner, 'message');
    if (code) codes.push(code);
    if (message) innermostMessage = message;
    if (code || message) details.push([code, message].filter(Boolean).join(': '));
    inner = field(inner, 'innererror');
  }
  const more = field(error, 'details');
  if (Array.isArray(more)) {
    for (const item of more) {
      if (!isRecord(item)) continue;
      const code = stringField(item, 'code');
      const message = stringField(item, 'message');
      if (code) codes.push(code);
      if (code || message) details.push([code, message].filter(Boolean).join(': '));
    }
  }
  return {
    errorCode: codes.length > 1 ? codes[codes.length - 1] : topCode,
    codes,
    message: topMessage ?? innermostMessage ?? topCode ?? 'The response gave no error message',
    details,
  };
}

function fromEnvelope(errors: ResultEntry[], information: ResultEntry[]): Parsed {
  const codes = errors.map((entry) => entry.code).filter((code): code is string => !!code);
  const [first, ...rest] = errors;
  if (!first) {
    const info = information.map((entry) => entry.description).filter(Boolean);
    return {
      codes: information.map((entry) => entry.code).filter((code): code is string => !!code),
      message: 'The response listed no errors',
      details: info,
      shape: 'envelope',
    };
  }
  return {
    errorCode: first.code,
    codes,
    message: first.description || first.code || 'The response gave no error description',
    details: rest.map((entry) =>
      [entry.subject, entry.description || entry.code].filter(Boolean).join(': '),
    ),
    shape: 'envelope',
  };
}

/** Other JSON: ASP.NET `{Message}`, problem+json `{title, detail}`, OAuth `{error, error_description}`. */
function fromOtherJson(json: Record<string, unknown>): Parsed {
  const message =
    stringField(json, 'message') ??
    stringField(json, 'error_description') ??
    stringField(json, 'detail') ??
    stringField(json, 'title') ??
    stringField(json, 'error');
  const code = stringField(json, 'error') ?? stringField(json, 'errorCode');
  return {
    errorCode: code,
    codes: code ? [code] : [],
    message: message ?? 'The response was JSON of an unknown form',
    details: [],
    shape: 'json',
  };
}

function fromText(text: string): Parsed {
  if (/^<(!doctype|html|\?xml|head|body)/i.test(text) || /<\/html>\s*$/i.test(text)) {
    const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(text)?.[1];
    const visible = collapse(title ?? text.replace(/<[^>]*>/g, ' '));
    const summary = visible.length > 0 ? ` ("${clip(visible, 200)}")` : '';
    return {
      codes: [],
      message: `The response was an HTML page${summary}, not JSON`,
      details: [],
      shape: 'html',
    };
  }
  return {
    codes: [],
    message: `The response was not JSON: "${clip(collapse(text), 200)}"`,
    details: [],
    shape: 'text',
  };
}

function stringField(record: Record<string, unknown>, name: string): string | undefined {
  const value = field(record, name);
  return typeof value === 'string' && value.trim().length > 0 ? value.trim() : undefined;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function clip(text: string, max = MAX_MESSAGE_CHARS): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
