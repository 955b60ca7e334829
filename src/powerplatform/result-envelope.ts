/**
 * The user management envelope `{ errors: [...], information: [...] }`, entries shaped
 * `{ Subject, Description, Code }`. applyAdminRole answers with it on success AND on functional
 * failures, both with a 2xx status, so the envelope (not the status) says which one happened.
 */

/** One entry of `errors[]` or `information[]`. */
export interface ResultEntry {
  subject?: string;
  description: string;
  code?: string;
}

export interface ResultEnvelope {
  errors: ResultEntry[];
  information: ResultEntry[];
}

/** What the success Description says, read line by line. */
export interface ResultDescription {
  /** The Description's entries, one per line. */
  lines: string[];
  /** From "Instance Url found <url>". */
  instanceUrl?: string;
  /** From "SystemUser with Id:<guid>". */
  systemUserId?: string;
}

const INSTANCE_URL = /Instance Url found\s+(https?:\/\/[^\s"',\]]+)/i;
const SYSTEM_USER_ID =
  /SystemUser with Id:\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i;

/** The envelope, when the value has an `errors` or `information` array; otherwise undefined. */
export function readResultEnvelope(json: unknown): ResultEnvelope | undefined {
  if (!isRecord(json)) return undefined;
  const errors = field(json, 'errors');
  const information = field(json, 'information');
  if (!Array.isArray(errors) && !Array.isArray(information)) return undefined;
  return { errors: readEntries(errors), information: readEntries(information) };
}

/**
 * Reads a success Description. The API encodes a JSON array inside the string; when it does not
 * (an older or changed format), the whole text is one line and is still searched.
 */
export function parseResultDescription(description: string): ResultDescription {
  const lines = descriptionLines(description);
  const text = lines.join('\n');
  const instanceUrl = INSTANCE_URL.exec(text)?.[1]?.replace(/[.;]+$/, '');
  const systemUserId = SYSTEM_USER_ID.exec(text)?.[1]?.toLowerCase();
  return { lines, instanceUrl, systemUserId };
}

function descriptionLines(description: string): string[] {
  let value: unknown = description;
  // Tolerate one extra level of encoding: a JSON string that itself holds the JSON array.
  for (let depth = 0; depth < 2 && typeof value === 'string'; depth++) {
    try {
      value = JSON.parse(value);
    } catch {
      break;
    }
  }
  if (Array.isArray(value)) return value.map(asText).filter((line) => line.length > 0);
  const text = description.trim();
  return text.length > 0 ? [text] : [];
}

function readEntries(value: unknown): ResultEntry[] {
  if (!Array.isArray(value)) return [];
  return value.map((item): ResultEntry => {
    if (!isRecord(item)) return { description: asText(item) };
    const subject = field(item, 'subject');
    const code = field(item, 'code');
    return {
      subject: typeof subject === 'string' ? subject : undefined,
      description: asText(field(item, 'description') ?? field(item, 'message') ?? ''),
      code: typeof code === 'string' ? code : undefined,
    };
  });
}

/** A property by name, ignoring letter case: the API mixes `Code` and `code`. */
export function field(record: Record<string, unknown>, name: string): unknown {
  if (name in record) return record[name];
  const wanted = name.toLowerCase();
  const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === wanted);
  return key === undefined ? undefined : record[key];
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}
