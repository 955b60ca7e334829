/**
 * Each user's environments, listed with their own token and kept for a while, and the one their
 * words mean: a name resolves from the kept list, without an API call, until the list expires.
 */
import { BoundedMap } from '../support/bounded-map';
import {
  createEnvironmentIndex,
  type EnvironmentIndex,
  type MatchReason,
} from './environment-resolution';
import type { Clock, PowerPlatform, UserTokens } from './ports';
import type { Refusals } from './refusals';
import type { Requester } from './request';
import type { Environment, Failure, TokenRefusal } from './vocabulary';

export interface EnvironmentListsOptions {
  powerPlatform: PowerPlatform;
  tokens: UserTokens;
  clock: Clock;
  /** Where a token refused before any call is audited. */
  refusals: Refusals;
  /** How long a user's environment list is reused. */
  environmentCacheSeconds: number;
}

/** Why there is no list to look in: no usable token, or the API did not list. */
export type ListingProblem =
  /** No usable token: sign in first, or a pre-flight check refused (nothing was called). */
  | { kind: 'no-token'; reason: TokenRefusal; message: string }
  | { kind: 'listing-failed'; failure: Failure };

/** What the user's words came to among the environments they can see. */
export type FoundEnvironment =
  | { kind: 'found'; environment: Environment; reason?: MatchReason }
  | { kind: 'ambiguous'; query: string; candidates: Environment[]; total: number }
  | { kind: 'not-found'; query: string; suggestions: Environment[] }
  | ListingProblem;

interface CachedEnvironments {
  index: EnvironmentIndex;
  byId: Map<string, Environment>;
  expiresAt: number;
  fetchedAt: number;
}

/** Users whose environment lists are cached at once. */
const ENVIRONMENT_CACHE_ENTRIES = 1000;
/** How old a cached list may be before a miss is checked against a fresh one. */
const STALE_AFTER_MS = 5_000;

export class EnvironmentLists {
  private readonly environmentCache = new BoundedMap<string, CachedEnvironments>(
    ENVIRONMENT_CACHE_ENTRIES,
  );

  constructor(private readonly options: EnvironmentListsOptions) {}

  /** The one environment the user means, among those they can see, or why there is none. */
  async find(requester: Requester, query: string): Promise<FoundEnvironment> {
    let environments = await this.environmentsFor(requester, { query });
    if (environments.kind !== 'ok') return environments.result;
    let resolution = environments.cached.index.resolve(query);
    if (resolution.kind === 'not-found' && this.isStale(environments.cached)) {
      // The environment may be new since the list was cached: look once more before saying no.
      environments = await this.environmentsFor(requester, { refresh: true, query });
      if (environments.kind !== 'ok') return environments.result;
      resolution = environments.cached.index.resolve(query);
    }
    switch (resolution.kind) {
      case 'found':
        return { kind: 'found', environment: resolution.environment, reason: resolution.reason };
      case 'ambiguous':
        return {
          kind: 'ambiguous',
          query,
          candidates: resolution.candidates,
          total: resolution.total,
        };
      case 'not-found':
        return { kind: 'not-found', query, suggestions: resolution.suggestions };
    }
  }

  /** Every environment the user can see, with their own token, as listed. */
  async all(
    requester: Requester,
  ): Promise<{ kind: 'ok'; environments: Environment[] } | ListingProblem> {
    const environments = await this.environmentsFor(requester);
    if (environments.kind !== 'ok') return environments.result;
    return { kind: 'ok', environments: [...environments.cached.byId.values()] };
  }

  /** The environment with this id among those the user can see (they picked it from a list). */
  async byId(
    requester: Requester,
    environmentId: string,
    query: string,
  ): Promise<{ kind: 'ok'; environment?: Environment } | ListingProblem> {
    const environments = await this.environmentsFor(requester, { query });
    if (environments.kind !== 'ok') return environments.result;
    return { kind: 'ok', environment: environments.cached.byId.get(environmentId.toLowerCase()) };
  }

  /** Whether the user's environment list is cached and fresh (no API call, no wait). */
  isFresh(requester: Requester): boolean {
    return this.freshEnvironments(requester) !== undefined;
  }

  /** The user's list is out of date: the next request fetches a new one. */
  forget(requester: Requester): void {
    this.environmentCache.delete(this.cacheKey(requester));
  }

  /** The user's cached environment list, unless there is none or it has expired. */
  private freshEnvironments(requester: Requester): CachedEnvironments | undefined {
    const hit = this.environmentCache.get(this.cacheKey(requester));
    return hit && hit.expiresAt > this.options.clock.now().getTime() ? hit : undefined;
  }

  private cacheKey(requester: Requester): string {
    return `${requester.tenantId}/${requester.aadObjectId}`.toLowerCase();
  }

  /** A cached list older than this is fetched again before a name is declared unknown. */
  private isStale(cached: CachedEnvironments): boolean {
    return this.options.clock.now().getTime() - cached.fetchedAt > STALE_AFTER_MS;
  }

  private async environmentsFor(
    requester: Requester,
    options: { refresh?: boolean; query?: string } = {},
  ): Promise<
    { kind: 'ok'; cached: CachedEnvironments } | { kind: 'failed'; result: ListingProblem }
  > {
    const key = this.cacheKey(requester);
    const nowMs = this.options.clock.now().getTime();
    const hit = options.refresh ? undefined : this.freshEnvironments(requester);
    if (hit) return { kind: 'ok', cached: hit };

    const token = await this.options.tokens.powerPlatformToken(requester);
    if (!token.ok) {
      await this.options.refusals.refuseToken(
        { ...requester, upn: token.upn ?? requester.upn },
        token.reason,
        { query: options.query },
      );
      return {
        kind: 'failed',
        result: { kind: 'no-token', reason: token.reason, message: token.message },
      };
    }
    const listed = await this.options.powerPlatform.listEnvironments(token.token);
    if (!listed.ok) return { kind: 'failed', result: { kind: 'listing-failed', failure: listed } };

    const cached: CachedEnvironments = {
      index: createEnvironmentIndex(listed.environments),
      byId: new Map(listed.environments.map((e) => [e.id.toLowerCase(), e])),
      expiresAt: nowMs + this.options.environmentCacheSeconds * 1000,
      fetchedAt: nowMs,
    };
    this.environmentCache.set(key, cached);
    return { kind: 'ok', cached };
  }
}
