/**
 * Small helpers of the Azure Table Storage store (table-store.ts): keys that Table Storage
 * accepts, long values split over several properties, and the service's size limits checked
 * before a write, so that nothing is ever cut silently.
 */
import { createHash } from 'node:crypto';

/**
 * Table Storage forbids `/`, `\`, `#`, `?` and control characters in PartitionKey and RowKey, and
 * `'` and `%` are awkward in the URLs that address an entity. Every character outside a small safe
 * set is percent-encoded (its UTF-8 bytes), `|` included, so `|` can separate the parts of a key.
 * A key longer than 400 characters once encoded keeps its first 300 and a SHA-256 of the whole
 * after `!` (never produced by the encoding itself), well under the 1 KiB key limit.
 */
export function keyPart(value: string): string {
  let out = '';
  for (const ch of value) {
    if (/^[A-Za-z0-9._~:@-]$/.test(ch)) out += ch;
    else
      for (const byte of Buffer.from(ch, 'utf8')) {
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }
  }
  if (out.length <= 400) return out;
  return `${out.slice(0, 300)}!${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}

/** The inverse of keyPart for keys that were not shortened. */
export function fromKeyPart(key: string): string {
  return decodeURIComponent(key);
}

/** A string property holds at most 64 KiB, i.e. 32 Ki UTF-16 code units; chunks stay below. */
export const CHUNK_CHARS = 30_000;

/** An entity holds at most 1 MiB (as the service counts it) and 255 properties. */
export const MAX_ENTITY_BYTES = 1024 * 1024;

/** An entity group transaction carries at most 100 operations and 4 MiB. */
export const MAX_TRANSACTION_OPERATIONS = 100;
export const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;

/**
 * Splits a text over properties `name`, `name_1`, `name_2`, ... (with `name_parts` when there is
 * more than one), each within a string property's 64 KiB.
 */
export function packText(name: string, text: string): Record<string, string | number> {
  if (text.length <= CHUNK_CHARS) return { [name]: text };
  const packed: Record<string, string | number> = {};
  let parts = 0;
  for (let start = 0; start < text.length; parts += 1) {
    let end = Math.min(text.length, start + CHUNK_CHARS);
    // Never split a surrogate pair: each part must be valid UTF-16 on its own.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    packed[parts === 0 ? name : `${name}_${parts}`] = text.slice(start, end);
    start = end;
  }
  packed[`${name}_parts`] = parts;
  return packed;
}

/** Reads back what packText wrote; undefined when the entity has no such text. */
export function unpackText(entity: Record<string, unknown>, name: string): string | undefined {
  const first = entity[name];
  if (typeof first !== 'string') return undefined;
  const parts = entity[`${name}_parts`];
  if (typeof parts !== 'number' || parts <= 1) return first;
  let text = first;
  for (let i = 1; i < parts; i += 1) {
    const part = entity[`${name}_${i}`];
    if (typeof part !== 'string') {
      throw new Error(`TableStore: part ${i} of ${parts} of "${name}" is missing from an entity`);
    }
    text += part;
  }
  return text;
}

/**
 * The size of an entity as Table Storage counts it: 4 bytes, the keys in UTF-16, and per property
 * 8 bytes, its name in UTF-16 and its value (a string: 4 bytes and UTF-16).
 */
export function entityBytes(entity: Record<string, unknown>): number {
  let bytes = 4;
  for (const [name, value] of Object.entries(entity)) {
    if (value === undefined) continue;
    if (name === 'partitionKey' || name === 'rowKey') {
      bytes += String(value).length * 2;
      continue;
    }
    bytes += 8 + name.length * 2;
    if (typeof value === 'string') bytes += 4 + value.length * 2;
    else if (typeof value === 'boolean') bytes += 1;
    else bytes += 8;
  }
  return bytes;
}

/** Refuses, with a sentence that says what and how big, an entity the service would refuse. */
export function checkEntity(entity: Record<string, unknown>, what: string): void {
  const bytes = entityBytes(entity);
  if (bytes > MAX_ENTITY_BYTES) {
    throw new Error(
      `TableStore: ${what} is ${bytes} bytes as a table entity, above Azure Table Storage's limit of ${MAX_ENTITY_BYTES} bytes (1 MiB); it was not written.`,
    );
  }
  const properties = Object.keys(entity).length;
  if (properties > 250) {
    throw new Error(
      `TableStore: ${what} needs ${properties} table properties, above Azure Table Storage's limit of 255; it was not written.`,
    );
  }
}

/** Roughly what an operation weighs in a transaction's body (the entity as JSON and headers). */
export function wireBytes(entity: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(entity), 'utf8') + 600;
}

/** Seq numbers zero-padded, so RowKey order is seq order. */
export function paddedSeq(seq: number): string {
  return String(seq).padStart(12, '0');
}
