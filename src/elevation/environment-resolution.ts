/**
 * Which environment the user means, from what they typed: an id, a display name typed loosely, a
 * domain name or a Dataverse URL.
 *
 * Display names are not unique and people type them loosely, so the answer can be "these several"
 * or "none, but maybe one of these". The index is built once per environment list (the list is
 * cached) so that resolving is a few Map look-ups; only a miss scans the list, for suggestions.
 */

import { byDisplayName, nameKey, partAt } from './environment-names';
import { createSuggestionTable, type SuggestionTable } from './environment-suggestions';
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
  const environmentAt = (position: number): number => partAt(starts, position);
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
