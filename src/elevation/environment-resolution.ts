/**
 * Which environment the user means, from what they typed: an id, a display name typed loosely, a
 * domain name or a Dataverse URL.
 *
 * Display names are not unique and people type them loosely, so the answer can be "these several"
 * or "none, but maybe one of these". The index is built once per environment list (the list is
 * cached) so that resolving is a few Map look-ups; only a miss scans the list, for suggestions.
 */

import type { Environment } from './vocabulary';

export type MatchedBy = 'id' | 'name' | 'domain' | 'url';

/**
 * What a query matched when it was not the environment's exact id, display name or Dataverse URL:
 * the user did not name the environment as the card names it, so the card says why it chose it.
 */
export interface MatchReason {
  /** What of the environment matched, in the user's words ("the domain name"). */
  field: 'the domain name' | 'the environment id in the link';
  /** The environment's value that matched (its domain name or id). */
  value: string;
}

export type Resolution =
  /**
   * Exactly one environment matches at the strongest tier that matched anything. `reason` is set
   * when the query was not its exact id, display name or URL.
   */
  | { kind: 'found'; environment: Environment; matchedBy: MatchedBy; reason?: MatchReason }
  /**
   * Several match. `candidates` is sorted by display name and capped
   * (EnvironmentIndexOptions.maxCandidates); `total` counts them all. A domain name that matched
   * one environment while the words also match others puts that one first.
   */
  | { kind: 'ambiguous'; candidates: Environment[]; total: number; matchedBy: MatchedBy }
  /** Nothing matches; `suggestions` are the closest names, best first, possibly none. */
  | { kind: 'not-found'; suggestions: Environment[] };

export interface EnvironmentIndex {
  /** How many distinct environments (by id) the index holds. */
  readonly size: number;
  resolve(query: string): Resolution;
}

export interface EnvironmentIndexOptions {
  /** Most candidates returned in an `ambiguous` answer. */
  maxCandidates?: number;
  /** Most suggestions returned in a `not-found` answer. */
  maxSuggestions?: number;
}

const DEFAULTS: Required<EnvironmentIndexOptions> = { maxCandidates: 10, maxSuggestions: 5 };

/** Queries longer than this (in characters) match nothing and are not scanned for suggestions. */
const MAX_QUERY_LENGTH = 500;
/** Prefix and substring suggestions need this many characters, or "co" would suggest half the tenant. */
const MIN_PARTIAL_LENGTH = 3;
/**
 * Keys longer than this (normalized) are suggested only when they contain the query: no typo
 * distance, and no search for them inside the query. Bounds the work a long query can cause.
 */
const MAX_TYPO_LENGTH = 64;

/**
 * Builds the look-up tables in one O(n) pass. What only some answers need is done on first use:
 * a group of equal names is sorted when first reported as ambiguous, and the suggestion tables are
 * built on the first miss, so a list that is only ever hit never pays for them.
 */
export function createEnvironmentIndex(
  environments: readonly Environment[],
  options: EnvironmentIndexOptions = {},
): EnvironmentIndex {
  // `??` rather than a spread, so that an explicit `undefined` keeps the default.
  const maxCandidates = options.maxCandidates ?? DEFAULTS.maxCandidates;
  const maxSuggestions = options.maxSuggestions ?? DEFAULTS.maxSuggestions;
  const byId = new Map<string, Environment>();
  const byName = new Map<string, Environment[]>();
  const byDomain = new Map<string, Environment[]>();

  for (const environment of environments) {
    const id = idKey(environment.id);
    // Pages of the list can overlap; the same environment twice must not look ambiguous.
    if (id === '' || byId.has(id)) continue;
    byId.set(id, environment);

    const name = nameKey(environment.displayName);
    if (name !== '') push(byName, name, environment);
    const domain = domainOf(environment);
    if (domain !== '') push(byDomain, domain, environment);
  }

  const sortedGroups = new WeakSet<Environment[]>();
  let suggestionTable: SuggestionTable | undefined;
  let others: WordSearch | undefined;

  const answer = (
    group: Environment[] | undefined,
    matchedBy: MatchedBy,
  ): Resolution | undefined => {
    const [only] = group ?? [];
    if (!group || !only) return undefined;
    if (group.length === 1) return { kind: 'found', environment: only, matchedBy };
    if (!sortedGroups.has(group)) {
      group.sort(byDisplayName);
      sortedGroups.add(group);
    }
    return {
      kind: 'ambiguous',
      candidates: group.slice(0, maxCandidates),
      total: group.length,
      matchedBy,
    };
  };

  const resolve = (query: string): Resolution => {
    const typed = query.trim();
    if (typed === '' || typed.length > MAX_QUERY_LENGTH)
      return { kind: 'not-found', suggestions: [] };

    const byTypedId = byId.get(idKey(typed));
    if (byTypedId) return { kind: 'found', environment: byTypedId, matchedBy: 'id' };
    const byLinkedId = idsInLink(typed)
      .map((id) => byId.get(id))
      .find(Boolean);
    if (byLinkedId) {
      const reason = { field: 'the environment id in the link', value: byLinkedId.id } as const;
      return { kind: 'found', environment: byLinkedId, matchedBy: 'id', reason };
    }

    const name = nameKey(typed);
    const byTypedName = answer(byName.get(name), 'name');
    if (byTypedName) return byTypedName;

    const host = hostOf(typed);
    const isUrl = host?.includes('.') ?? false;
    if (host !== undefined) {
      const sameLabel = byDomain.get(firstLabel(host));
      // The full host tells regions apart (sales.crm vs sales.crm4); another region's host or the
      // Web API host (org.api.crm...) matches none, and the first label alone decides.
      const sameHost = isUrl
        ? sameLabel?.filter((environment) => dataverseHost(environment.dataverseUrl) === host)
        : undefined;
      const byTypedHost = answer(sameHost?.length ? sameHost : sameLabel, isUrl ? 'url' : 'domain');
      if (byTypedHost?.kind === 'found') {
        const { environment } = byTypedHost;
        // A whole URL of the environment is as exact as its id; a bare domain name is a word,
        // which other environments' names can hold too ("contoso" for Contoso Prod and Dev).
        if (isUrl && sameHost?.length) return byTypedHost;
        if (!isUrl) {
          others ??= createWordSearch(byId.values());
          const alsoMatching = others.containing(nameKey(typed), environment);
          if (alsoMatching.length > 0) {
            return {
              kind: 'ambiguous',
              candidates: [environment, ...alsoMatching].slice(0, maxCandidates),
              total: 1 + alsoMatching.length,
              matchedBy: 'domain',
            };
          }
        }
        const reason = { field: 'the domain name', value: domainOf(environment) } as const;
        return { ...byTypedHost, reason };
      }
      if (byTypedHost) return byTypedHost;
    }

    suggestionTable ??= createSuggestionTable(byName, byDomain);
    const near = isUrl && host !== undefined ? nameKey(firstLabel(host)) : name;
    return { kind: 'not-found', suggestions: suggestionTable.suggest(near, maxSuggestions) };
  };

  return { size: byId.size, resolve };
}

/** The domain name is the URL's first label; the URL is read only when the list omits the name. */
function domainOf(environment: Environment): string {
  return (environment.domainName ?? firstLabel(dataverseHost(environment.dataverseUrl)))
    .trim()
    .toLowerCase();
}

interface WordSearch {
  /**
   * The environments other than `except` whose display name or domain name holds `key` (a
   * nameKey), sorted by display name: they "also match the words".
   */
  containing(key: string, except: Environment): Environment[];
}

/**
 * Built on the first domain-name hit: every environment's name and domain keys in one string, so
 * that finding those that hold a word is one native substring search, not a loop over the tenant.
 */
function createWordSearch(environments: Iterable<Environment>): WordSearch {
  const listed = [...environments];
  /** Where each environment's keys start in `joined`, ascending. */
  const starts: number[] = [];
  let offset = 0;
  const parts = listed.map((environment) => {
    // Keys hold no whitespace: a space between name and domain, a newline between environments.
    const part = `${nameKey(environment.displayName)} ${nameKey(domainOf(environment))}`;
    starts.push(offset);
    offset += part.length + 1;
    return part;
  });
  const joined = parts.join('\n');
  const environmentAt = (position: number): number => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= position) low = middle;
      else high = middle - 1;
    }
    return low;
  };
  return {
    containing(key, except) {
      if (key === '' || /\s/.test(key)) return [];
      const found: Environment[] = [];
      for (let at = joined.indexOf(key); at !== -1;) {
        const i = environmentAt(at);
        if (listed[i] !== except) found.push(listed[i]!);
        // On to the next environment: one that holds the word twice is listed once.
        at = joined.indexOf(key, starts[i]! + parts[i]!.length + 1);
      }
      return found.sort(byDisplayName);
    },
  };
}

/**
 * The form display names are compared in. Decided: NFKC (full-width letters and ligatures fold),
 * lower case, Latin/Greek/Cyrillic diacritics folded (people type "Munchen" for "München"; a
 * collision is reported as ambiguous, never silently picked), a few letters that have no
 * decomposition folded (ß, æ, ø, ł, ...), then everything that is not a letter or a digit removed:
 * spaces, dashes, underscores, punctuation, symbols and emoji. A name made only of symbols keeps
 * its symbols, so that "🚀" finds "🚀" and not every other symbol-only name.
 */
export function nameKey(text: string): string {
  const ascii = asciiNameKey(text);
  if (ascii !== undefined) return ascii;
  // NFKD both applies the compatibility mappings and separates the diacritics; NFC then puts
  // back together what must stay whole (Hangul syllables, Indic vowel signs).
  const folded = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .normalize('NFC')
    .replace(/[ßæœøłđðþı]/g, (letter) => LETTER_FOLDS[letter] ?? letter);
  const lettersAndDigits = folded.replace(/[^\p{L}\p{N}\p{M}]/gu, '');
  if (lettersAndDigits !== '') return lettersAndDigits;
  // '#' cannot occur in a key made of letters and digits, so the two kinds never collide.
  const symbols = folded.replace(/\s+/g, '');
  return symbols === '' ? '' : `#${symbols}`;
}

const LETTER_FOLDS: Record<string, string> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  ł: 'l',
  đ: 'd',
  ð: 'd',
  þ: 'th',
  ı: 'i',
};

/** Printable ASCII; anything else (tabs included) takes the full Unicode path. */
const ASCII = /^[ -~]*$/;
const NOT_ASCII_LETTER_OR_DIGIT = /[^a-z0-9]+/g;

/**
 * nameKey for the common all-ASCII name, without the Unicode passes (several times faster, and
 * most of the index build); undefined when the text has anything else. Gives the same key.
 */
function asciiNameKey(text: string): string | undefined {
  if (!ASCII.test(text)) return undefined;
  const key = text.toLowerCase().replace(NOT_ASCII_LETTER_OR_DIGIT, '');
  // A name of punctuation only ("---") is a name of symbols: let the full path decide.
  return key === '' && text.trim() !== '' ? undefined : key;
}

/** Ids compare case-insensitively; `{guid}` as some tools print it is accepted. */
function idKey(text: string): string {
  const trimmed = text.trim();
  const unbraced =
    trimmed.startsWith('{') && trimmed.endsWith('}') ? trimmed.slice(1, -1) : trimmed;
  return unbraced.toLowerCase();
}

const ENVIRONMENT_ID_IN_TEXT =
  /(?:default-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/**
 * Links copied from the admin center or a maker portal carry the environment id in their path,
 * whatever the portal's URL layout of the day; other GUIDs in a link (app or record ids) simply
 * match no environment.
 */
function idsInLink(text: string): string[] {
  if (!/^https?:\/\//i.test(text)) return [];
  return Array.from(text.matchAll(ENVIRONMENT_ID_IN_TEXT), (match) => match[0].toLowerCase());
}

const SCHEME = /^[a-z][a-z0-9+.-]*$/i;
const HOST = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/;

/**
 * The lower-case host of a URL or of a bare host or domain name ("contoso-dev",
 * "contoso-dev.crm4.dynamics.com", "https://contoso-dev.crm.dynamics.com/main.aspx?..."), or
 * undefined when the text cannot be one (it has spaces, say).
 */
function hostOf(text: string): string | undefined {
  const schemeEnd = text.indexOf('://');
  if (schemeEnd !== -1 && !SCHEME.test(text.slice(0, schemeEnd))) return undefined;
  const start = schemeEnd === -1 ? 0 : schemeEnd + 3;
  let end = text.length;
  for (const delimiter of ['/', '?', '#']) {
    const at = text.indexOf(delimiter, start);
    if (at !== -1 && at < end) end = at;
  }
  let host = text.slice(start, end);
  host = host.slice(host.lastIndexOf('@') + 1); // user info
  const port = host.indexOf(':');
  if (port !== -1) host = host.slice(0, port);
  if (host.endsWith('.')) host = host.slice(0, -1); // the DNS root
  host = host.toLowerCase();
  return HOST.test(host) ? host : undefined;
}

/** The host of a Dataverse URL as the list endpoint gives it (well formed, so no validation). */
function dataverseHost(url: string | undefined): string {
  if (url === undefined) return '';
  const schemeEnd = url.indexOf('://');
  const start = schemeEnd === -1 ? 0 : schemeEnd + 3;
  const slash = url.indexOf('/', start);
  return url.slice(start, slash === -1 ? url.length : slash).toLowerCase();
}

function firstLabel(host: string): string {
  const dot = host.indexOf('.');
  return dot === -1 ? host : host.slice(0, dot);
}

function push(table: Map<string, Environment[]>, key: string, environment: Environment): void {
  const group = table.get(key);
  if (group) group.push(environment);
  else table.set(key, [environment]);
}

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

function byDisplayName(a: Environment, b: Environment): number {
  return collator.compare(a.displayName, b.displayName) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------
// Suggestions on a miss. The work is bounded by the tenant's size and by the query's length
// (queries longer than MAX_QUERY_LENGTH never get here): one native substring search over all
// keys joined, look-ups of the query's own substrings, and the edit distance only for keys of
// about the query's length whose letters could be that close.

interface SuggestionTable {
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

function createSuggestionTable(
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
  const keyAt = (position: number): number => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= position) low = middle;
      else high = middle - 1;
    }
    return low;
  };

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
