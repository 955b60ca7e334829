/**
 * Suggestions when a name matches no environment: the closest names and domain names, by prefix,
 * substring or a few typos. The work is bounded by the tenant's size and by the query's length
 * (environment-resolution.ts never passes a query over its limit): one native substring search
 * over all keys joined, look-ups of the query's own substrings, and the edit distance only for
 * keys of about the query's length whose letters could be that close.
 */
import { byDisplayName, nameKey, partAt } from './environment-names';
import type { Environment } from './vocabulary';

/** Prefix and substring suggestions need this many characters, or "co" would suggest half the tenant. */
const MIN_PARTIAL_LENGTH = 3;
/**
 * Keys longer than this (normalized) are suggested only when they contain the query: no typo
 * distance, and no search for them inside the query. Bounds the work a long query can cause.
 */
const MAX_TYPO_LENGTH = 64;

export interface SuggestionTable {
  suggest(query: string, max: number): Environment[];
}

interface Candidate {
  key: string;
  /** Lower is closer: 0 for a prefix, the edit distance for a typo, 2 for a substring. */
  distance: number;
  lengthDifference: number;
}

/** Cannot occur in a key (keys hold no whitespace), so it separates the keys when joined. */
const SEPARATOR = '\n';
/** Character counts per key are kept in this many buckets (character code modulo the size). */
const BUCKETS = 32;

export function createSuggestionTable(
  byName: ReadonlyMap<string, Environment[]>,
  byDomain: ReadonlyMap<string, Environment[]>,
): SuggestionTable {
  // Name keys and domain keys in one table: "contoso-dve" finds the domain "contoso-dev".
  const environmentsByKey = new Map<string, Environment[]>();
  for (const [key, group] of byName) environmentsByKey.set(key, [...group]);
  for (const [domain, group] of byDomain) {
    const key = nameKey(domain);
    if (key === '') continue;
    const known = environmentsByKey.get(key);
    if (!known) environmentsByKey.set(key, [...group]);
    else for (const environment of group) if (!known.includes(environment)) known.push(environment);
  }

  const keys = [...environmentsByKey.keys()];
  const joined = keys.join(SEPARATOR);
  /** Where each key starts in `joined`, ascending. */
  const starts: number[] = [];
  /** Which keys (by position in `keys`) have each length, for the typo search. */
  const keysByLength: number[][] = [];
  const counts = new Uint8Array(keys.length * BUCKETS);
  const masks = new Int32Array(keys.length);
  let offset = 0;
  keys.forEach((key, i) => {
    starts.push(offset);
    offset += key.length + SEPARATOR.length;
    (keysByLength[key.length] ??= []).push(i);
    countCharacters(key, counts, i * BUCKETS);
    masks[i] = characterMask(key);
    environmentsByKey.get(key)?.sort(byDisplayName);
  });

  /** The key that `joined[position]` belongs to. */
  const keyAt = (position: number): number => partAt(starts, position);

  const suggest = (query: string, max: number): Environment[] => {
    if (query === '' || max <= 0 || keys.length === 0) return [];
    // Each environment has at most two keys (name, domain), so this many keys hold `max` of them.
    const best = new BestCandidates(2 * max);
    const offer = (key: string, distance: number): void =>
      best.offer({ key, distance, lengthDifference: Math.abs(key.length - query.length) });

    if (query.length >= MIN_PARTIAL_LENGTH) {
      // Keys that contain the query; a prefix is the better sign.
      for (let at = joined.indexOf(query); at !== -1;) {
        const i = keyAt(at);
        const key = keys[i]!;
        offer(key, at === starts[i] ? 0 : 2);
        at = joined.indexOf(query, starts[i]! + key.length + SEPARATOR.length);
      }
      // Keys inside the query: "the contoso dev environment" points at "Contoso Dev", but a key
      // under a third of the query's length ("dev") says too little to be suggested.
      const shortest = Math.max(MIN_PARTIAL_LENGTH + 1, Math.ceil(query.length / 3));
      for (let length = Math.min(query.length, MAX_TYPO_LENGTH); length >= shortest; length--) {
        for (let from = 0; from + length <= query.length; from++) {
          const part = query.slice(from, from + length);
          if (environmentsByKey.has(part)) offer(part, 2);
        }
      }
    }

    const allowed = query.length <= MAX_TYPO_LENGTH ? typoAllowance(query.length) : 0;
    if (allowed > 0) {
      const queryCounts = new Uint8Array(BUCKETS);
      countCharacters(query, queryCounts, 0);
      const queryMask = characterMask(query);
      for (let length = query.length - allowed; length <= query.length + allowed; length++) {
        for (const i of keysByLength[length] ?? []) {
          // One edit adds or removes at most two characters: two cheap bounds before the distance,
          // first on which characters occur, then on how often.
          if (popCount(queryMask ^ masks[i]!) > 2 * allowed) continue;
          if (countDifference(queryCounts, counts, i * BUCKETS, 2 * allowed) > 2 * allowed)
            continue;
          const key = keys[i]!;
          const typos = editDistance(query, key, allowed);
          if (typos <= allowed) offer(key, typos);
        }
      }
    }

    const suggestions = new Set<Environment>();
    for (const { key } of best.sorted()) {
      for (const environment of environmentsByKey.get(key) ?? []) suggestions.add(environment);
    }
    return [...suggestions].slice(0, max);
  };

  return { suggest };
}

/** The `capacity` closest candidates seen so far, without sorting everything that matched. */
class BestCandidates {
  private readonly kept: Candidate[] = [];

  constructor(private readonly capacity: number) {}

  /** Keeps the candidate if it is among the best; a key offered twice keeps its best distance. */
  offer(candidate: Candidate): void {
    const seen = this.kept.findIndex((kept) => kept.key === candidate.key);
    if (seen !== -1) {
      if (compareCandidates(candidate, this.kept[seen]!) >= 0) return;
      this.kept.splice(seen, 1);
    }
    const worst = this.kept[this.kept.length - 1];
    if (this.kept.length >= this.capacity && worst && compareCandidates(candidate, worst) >= 0)
      return;
    let at = this.kept.length;
    while (at > 0 && compareCandidates(candidate, this.kept[at - 1]!) < 0) at--;
    this.kept.splice(at, 0, candidate);
    if (this.kept.length > this.capacity) this.kept.pop();
  }

  sorted(): readonly Candidate[] {
    return this.kept;
  }
}

function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    a.distance - b.distance ||
    a.lengthDifference - b.lengthDifference ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

/** Short names tolerate fewer typos, or every four-letter name would suggest every other. */
function typoAllowance(length: number): number {
  if (length <= 3) return 0;
  if (length <= 5) return 1;
  if (length <= 9) return 2;
  return 3;
}

// Scratch rows for editDistance, sized for the longest key it is ever asked about.
const ROW_WIDTH = MAX_TYPO_LENGTH + 1;
const rows = [
  new Int32Array(ROW_WIDTH),
  new Int32Array(ROW_WIDTH),
  new Int32Array(ROW_WIDTH),
] as const;

/**
 * Damerau-Levenshtein distance (optimal string alignment: swapping two neighbours is one edit)
 * between `a` and `b` (at most MAX_TYPO_LENGTH characters), computed only in the band of width
 * `limit` around the diagonal, and `limit + 1` as soon as the distance must exceed `limit`.
 */
function editDistance(a: string, b: string, limit: number): number {
  const tooFar = limit + 1;
  if (Math.abs(a.length - b.length) > limit || b.length > MAX_TYPO_LENGTH) return tooFar;
  let [beforePrevious, previous, current] = rows;
  for (let j = 0; j <= b.length; j++) previous[j] = j <= limit ? j : tooFar;

  for (let i = 1; i <= a.length; i++) {
    const from = Math.max(1, i - limit);
    const to = Math.min(b.length, i + limit);
    current[0] = i <= limit ? i : tooFar;
    // Cells just outside the band read as "too far", whatever an earlier row left there.
    if (from > 1) current[from - 1] = tooFar;
    let rowMinimum = from === 1 ? current[0] : tooFar;
    for (let j = from; j <= to; j++) {
      const same = a.charCodeAt(i - 1) === b.charCodeAt(j - 1);
      let value = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (same ? 0 : 1),
      );
      if (
        i > 1 &&
        j > 1 &&
        a.charCodeAt(i - 1) === b.charCodeAt(j - 2) &&
        a.charCodeAt(i - 2) === b.charCodeAt(j - 1)
      ) {
        value = Math.min(value, beforePrevious[j - 2]! + 1);
      }
      current[j] = value;
      if (value < rowMinimum) rowMinimum = value;
    }
    if (to < b.length) current[to + 1] = tooFar;
    if (rowMinimum > limit) return tooFar;
    [beforePrevious, previous, current] = [previous, current, beforePrevious];
  }
  return Math.min(previous[b.length]!, tooFar);
}

/** Which characters a text holds, each hashed to one of 32 bits (the same buckets as the counts). */
function characterMask(text: string): number {
  let mask = 0;
  for (let i = 0; i < text.length; i++) mask |= 1 << (text.charCodeAt(i) % BUCKETS);
  return mask;
}

function popCount(value: number): number {
  let bits = value - ((value >>> 1) & 0x55555555);
  bits = (bits & 0x33333333) + ((bits >>> 2) & 0x33333333);
  return (((bits + (bits >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function countCharacters(text: string, counts: Uint8Array, offset: number): void {
  for (let i = 0; i < text.length; i++) {
    const bucket = offset + (text.charCodeAt(i) % BUCKETS);
    counts[bucket] = Math.min(255, counts[bucket]! + 1);
  }
}

/** The sum of the count differences, stopping early once it exceeds `limit`. */
function countDifference(
  query: Uint8Array,
  counts: Uint8Array,
  offset: number,
  limit: number,
): number {
  let difference = 0;
  for (let bucket = 0; bucket < BUCKETS && difference <= limit; bucket++) {
    difference += Math.abs(query[bucket]! - counts[offset + bucket]!);
  }
  return difference;
}
