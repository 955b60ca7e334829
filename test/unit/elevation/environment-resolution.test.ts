import type { Environment } from '../../../src/elevation/vocabulary';
import {
  createEnvironmentIndex,
  type MatchReason,
  type Resolution,
} from '../../../src/elevation/environment-resolution';
import { nameKey } from '../../../src/elevation/environment-names';
import { runResolutionBench } from '../../../bench/resolution.bench';
import { defaultSeed, WELL_KNOWN } from '../../../src/sandbox/power-platform-simulator';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

function environment(displayName: string, fields: Partial<Environment> = {}): Environment {
  return { id: fields.id ?? guidFor(displayName), displayName, type: 'Sandbox', ...fields };
}

/** A stable, distinct GUID per name, so failures print readable fixtures. */
function guidFor(text: string): string {
  let hash = 0x811c9dc5;
  for (const character of text)
    hash = Math.imul(hash ^ character.codePointAt(0)!, 0x01000193) >>> 0;
  const hex = hash.toString(16).padStart(8, '0');
  return `${hex}-0000-4000-8000-${hex}${hex.slice(0, 4)}`;
}

function withDataverse(displayName: string, domainName: string, region = 'crm'): Environment {
  return environment(displayName, {
    domainName,
    dataverseUrl: `https://${domainName}.${region}.dynamics.com/`,
  });
}

const contosoDev = withDataverse('Contoso Dev', 'contoso-dev');
const contosoProd = withDataverse('Contoso Prod', 'contosoprod', 'crm4');
const fabrikamUat = withDataverse('Fabrikam UAT', 'fabrikam-uat', 'crm11');
const defaultEnvironment = environment('Contoso (default)', {
  id: `Default-${TENANT}`,
  type: 'Default',
});
const munich = environment('München Vertrieb');
const noDataverse = environment('Teams Sandbox', { type: 'Teams' });

const tenant = [contosoDev, contosoProd, fabrikamUat, defaultEnvironment, munich, noDataverse];
const index = createEnvironmentIndex(tenant);

function found(environment: Environment, matchedBy: string, reason?: MatchReason): Resolution {
  return (
    reason
      ? { kind: 'found', environment, matchedBy, reason }
      : { kind: 'found', environment, matchedBy }
  ) as Resolution;
}

function names(resolution: Resolution): string[] {
  switch (resolution.kind) {
    case 'found':
      return [resolution.environment.displayName];
    case 'ambiguous':
      return resolution.candidates.map((candidate) => candidate.displayName);
    case 'not-found':
      return resolution.suggestions.map((suggestion) => suggestion.displayName);
    default:
      return assertNever(resolution);
  }
}

/** mulberry32, so that the "random" typos are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pickFrom<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

/** Drops, doubles, replaces or swaps letters: the typos people make. */
function withTypos(text: string, count: number, random: () => number): string {
  let typed = text;
  for (let n = 0; n < count; n++) {
    const at = 1 + Math.floor(random() * (typed.length - 3));
    const edit = Math.floor(random() * 4);
    if (edit === 0) typed = typed.slice(0, at) + typed.slice(at + 1);
    else if (edit === 1) typed = typed.slice(0, at) + typed.charAt(at) + typed.slice(at);
    else if (edit === 2) typed = `${typed.slice(0, at)}x${typed.slice(at + 1)}`;
    else typed = typed.slice(0, at) + typed.charAt(at + 1) + typed.charAt(at) + typed.slice(at + 2);
  }
  return typed;
}

function assertNever(value: never): never {
  throw new Error(`Unexpected resolution: ${JSON.stringify(value)}`);
}

/** The sandbox's sample tenant, as the list endpoint gives it to the bot. */
const sample: Environment[] = defaultSeed().map((seeded) => ({
  id: seeded.id,
  displayName: seeded.displayName,
  type: seeded.type,
  state: seeded.state,
  geo: seeded.geo,
  azureRegion: seeded.azureRegion,
  ...(seeded.url !== undefined && { dataverseUrl: seeded.url, domainName: seeded.domainName }),
}));
const sampleIndex = createEnvironmentIndex(sample);
const byName = (displayName: string): Environment => {
  const environment = sample.find((candidate) => candidate.displayName === displayName);
  if (!environment) throw new Error(`no ${displayName} in the sample tenant`);
  return environment;
};
const CONTOSO_PROD = byName(WELL_KNOWN.contosoProd.displayName);

/** What a resolution offers: the one opened, or the names to choose from (first one first). */
function offered(resolution: Resolution): {
  kind: Resolution['kind'];
  first?: string;
  names: string[];
  reason?: MatchReason;
} {
  const answer = { kind: resolution.kind, names: names(resolution) };
  if (resolution.kind === 'found')
    return resolution.reason ? { ...answer, reason: resolution.reason } : answer;
  return { ...answer, first: names(resolution)[0] };
}

describe('a partial name never skips the choice (the sample tenant, Production first)', () => {
  it.each<[string, string, ReturnType<typeof offered> | ((o: ReturnType<typeof offered>) => void)]>(
    [
      [
        'the domain name of Production, when other names hold it too, lists them all, Production first',
        'contoso',
        (answer) => {
          expect(answer.kind).toBe('ambiguous');
          expect(answer.first).toBe('Contoso Prod');
          expect(answer.names).toEqual(
            expect.arrayContaining(['Contoso Dev', 'Contoso Test', 'Contoso (default)']),
          );
        },
      ],
      [
        'the same in capitals',
        'CONTOSO',
        (answer) => {
          expect(answer.kind).toBe('ambiguous');
          expect(answer.first).toBe('Contoso Prod');
        },
      ],
      [
        "Production's exact display name opens it, with no reason to give",
        'Contoso Prod',
        { kind: 'found', names: ['Contoso Prod'] },
      ],
      [
        "Production's display name typed loosely is still its display name",
        'contoso-prod',
        { kind: 'found', names: ['Contoso Prod'] },
      ],
      ["Production's id opens it", CONTOSO_PROD.id, { kind: 'found', names: ['Contoso Prod'] }],
      [
        "Production's Dataverse URL opens it",
        'https://contoso.crm.dynamics.com/main.aspx',
        { kind: 'found', names: ['Contoso Prod'] },
      ],
      [
        "a link with Production's id opens it and says it was the id in the link",
        `https://admin.powerplatform.microsoft.com/environments/${CONTOSO_PROD.id}/hub`,
        {
          kind: 'found',
          names: ['Contoso Prod'],
          reason: { field: 'the environment id in the link', value: CONTOSO_PROD.id },
        },
      ],
      [
        "Production's Web API host opens it and says it was the domain name",
        'https://contoso.api.crm.dynamics.com/api/data/v9.2/',
        {
          kind: 'found',
          names: ['Contoso Prod'],
          reason: { field: 'the domain name', value: 'contoso' },
        },
      ],
      [
        'a part of a Production name opens nothing: it is a suggestion',
        'prod',
        (answer) => {
          expect(answer.kind).toBe('not-found');
          expect(answer.names).toContain('Contoso Prod');
        },
      ],
      [
        'a Production domain name that other names merely start with lists them',
        'contoso-mkt',
        {
          kind: 'ambiguous',
          first: 'Contoso Marketing',
          names: ['Contoso Marketing', 'Contoso Marketing Dev'],
        },
      ],
      [
        'a domain name nothing else holds opens its environment and says why',
        'org6d1f0e2a',
        {
          kind: 'found',
          names: ['Contoso (default)'],
          reason: { field: 'the domain name', value: 'org6d1f0e2a' },
        },
      ],
      [
        'a name shared by two environments lists both',
        'contoso test',
        { kind: 'ambiguous', first: 'Contoso Test', names: ['Contoso Test', 'Contoso-Test'] },
      ],
      [
        'a domain name that is also a display name is the display name',
        'contoso-dev',
        { kind: 'found', names: ['Contoso Dev'] },
      ],
    ],
  )('%s: %j', (_rule, query, expected) => {
    const answer = offered(sampleIndex.resolve(query));
    if (typeof expected === 'function') expected(answer);
    else expect(answer).toEqual(expected);
  });

  it('an ambiguous domain-name answer counts every environment the words match', () => {
    const resolution = sampleIndex.resolve('contoso');
    const holding = sample.filter((environment) =>
      [environment.displayName, environment.domainName ?? ''].some((text) =>
        nameKey(text).includes('contoso'),
      ),
    );
    expect(resolution).toMatchObject({ kind: 'ambiguous', matchedBy: 'domain' });
    expect(resolution.kind === 'ambiguous' && resolution.total).toBe(holding.length);
  });
});

describe('finding the environment the user means', () => {
  describe('by id', () => {
    it('an id finds its environment', () => {
      expect(index.resolve(contosoDev.id)).toEqual(found(contosoDev, 'id'));
    });

    it('a GUID in upper case finds its environment', () => {
      expect(index.resolve(contosoDev.id.toUpperCase())).toEqual(found(contosoDev, 'id'));
    });

    it('a GUID in braces finds its environment', () => {
      expect(index.resolve(`{${contosoDev.id}}`)).toEqual(found(contosoDev, 'id'));
    });

    it('the default environment is found by its Default- id in any case', () => {
      expect(index.resolve(`Default-${TENANT}`)).toEqual(found(defaultEnvironment, 'id'));
      expect(index.resolve(`DEFAULT-${TENANT.toUpperCase()}`)).toEqual(
        found(defaultEnvironment, 'id'),
      );
      expect(index.resolve(`default-${TENANT}`)).toEqual(found(defaultEnvironment, 'id'));
    });

    it('a link copied from the admin center or a maker portal finds the environment in it', () => {
      const inLink = (id: string): MatchReason => ({
        field: 'the environment id in the link',
        value: id,
      });
      expect(
        index.resolve(
          `https://admin.powerplatform.microsoft.com/environments/${contosoProd.id}/hub`,
        ),
      ).toEqual(found(contosoProd, 'id', inLink(contosoProd.id)));
      expect(
        index.resolve(`https://make.powerapps.com/environments/Default-${TENANT}/home`),
      ).toEqual(found(defaultEnvironment, 'id', inLink(defaultEnvironment.id)));
    });

    it('an unknown GUID finds nothing and suggests nothing', () => {
      expect(index.resolve('00000000-0000-0000-0000-000000000000')).toEqual({
        kind: 'not-found',
        suggestions: [],
      });
    });
  });

  describe('by display name', () => {
    it.each([
      ['Contoso Dev'],
      ['contoso dev'],
      ['Contoso-Dev'],
      ['CONTOSO_DEV.'],
      ['contosodev'],
      ['  Contoso   Dev  '],
    ])('a display name typed loosely finds its environment: %j', (query) => {
      expect(index.resolve(query)).toEqual(found(contosoDev, 'name'));
    });

    it('full-width letters are read as their ordinary forms', () => {
      expect(
        index.resolve('\uff23\uff4f\uff4e\uff54\uff4f\uff53\uff4f \uff24\uff45\uff56'),
      ).toEqual(found(contosoDev, 'name'));
    });

    it('diacritics are optional: "Munchen" finds "München"', () => {
      expect(index.resolve('munchen vertrieb')).toEqual(found(munich, 'name'));
      expect(index.resolve('MÜNCHEN-VERTRIEB')).toEqual(found(munich, 'name'));
    });

    it('an environment without Dataverse is found by name', () => {
      expect(index.resolve('teams sandbox')).toEqual(found(noDataverse, 'name'));
    });

    it('two environments with confusable names are reported as ambiguous', () => {
      const test = environment('Contoso Test');
      const dashed = environment('Contoso-Test');
      const resolution = createEnvironmentIndex([dashed, contosoDev, test]).resolve('contoso test');
      expect(resolution).toEqual({
        kind: 'ambiguous',
        candidates: [test, dashed],
        total: 2,
        matchedBy: 'name',
      });
    });

    it('names that differ only by an accent are ambiguous, never silently picked', () => {
      const cafe = environment('Cafe');
      const accented = environment('Café');
      const resolution = createEnvironmentIndex([cafe, accented]).resolve('cafe');
      expect(resolution.kind).toBe('ambiguous');
    });

    it('candidates are capped, with the total given', () => {
      const many = Array.from({ length: 13 }, (_, i) =>
        environment('Shared', { id: guidFor(`s${i}`) }),
      );
      const resolution = createEnvironmentIndex(many).resolve('shared');
      expect(resolution).toMatchObject({ kind: 'ambiguous', total: 13, matchedBy: 'name' });
      expect(names(resolution)).toHaveLength(10);
    });

    it('the cap on candidates can be chosen', () => {
      const twins = [
        environment('Twin', { id: guidFor('a') }),
        environment('twin', { id: guidFor('b') }),
      ];
      const resolution = createEnvironmentIndex(twins, { maxCandidates: 1 }).resolve('twin');
      expect(resolution).toMatchObject({ kind: 'ambiguous', total: 2 });
      expect(names(resolution)).toHaveLength(1);
    });

    it('the same environment listed twice (overlapping pages) is not ambiguous', () => {
      const twice = createEnvironmentIndex([contosoDev, { ...contosoDev }]);
      expect(twice.size).toBe(1);
      expect(twice.resolve('Contoso Dev')).toEqual(found(contosoDev, 'name'));
    });

    it('a name made only of emoji finds itself and not other symbol-only names', () => {
      const rocket = environment('\ud83d\ude80');
      const star = environment('\u2b50');
      const emojiIndex = createEnvironmentIndex([rocket, star]);
      expect(emojiIndex.resolve('\ud83d\ude80')).toEqual(found(rocket, 'name'));
    });

    it('emoji decorating a name are ignored', () => {
      const rocketLab = environment('\ud83d\ude80 Rocket Lab');
      expect(createEnvironmentIndex([rocketLab]).resolve('rocket lab')).toEqual(
        found(rocketLab, 'name'),
      );
    });
  });

  describe('by domain name or Dataverse URL', () => {
    it.each([
      ['contoso-dev', 'domain'],
      ['CONTOSO-DEV', 'domain'],
      ['contoso-dev.crm.dynamics.com', 'url'],
      ['https://contoso-dev.crm.dynamics.com', 'url'],
      ['https://contoso-dev.crm.dynamics.com/', 'url'],
      ['HTTPS://Contoso-Dev.CRM.Dynamics.com/main.aspx?appid=1#top', 'url'],
      ['https://contoso-dev.crm.dynamics.com:443/api/data/v9.2/', 'url'],
      ['https://contoso-dev.api.crm.dynamics.com/api/data/v9.2/', 'url'],
    ])('a domain name or URL finds its environment: %j', (query, matchedBy) => {
      // "contoso-dev" is also Contoso Dev's loose display name; use an index where it is not.
      const renamed = { ...contosoDev, displayName: 'Development' };
      // Only the whole Dataverse URL is exact; a domain name (or another host of it) says why.
      const exact = /^(https:\/\/)?contoso-dev\.crm\.dynamics\.com/i.test(query);
      expect(createEnvironmentIndex([renamed, contosoProd]).resolve(query)).toEqual(
        found(
          renamed,
          matchedBy,
          exact ? undefined : { field: 'the domain name', value: 'contoso-dev' },
        ),
      );
    });

    it('other regions are understood', () => {
      expect(index.resolve('https://contosoprod.crm4.dynamics.com/')).toEqual(
        found(contosoProd, 'url'),
      );
      expect(index.resolve('fabrikam-uat.crm11.dynamics.com')).toEqual(found(fabrikamUat, 'url'));
    });

    it('the domain name is found from the URL when the list omits domainName', () => {
      const urlOnly = environment('Northwind', {
        dataverseUrl: 'https://nw-sales.crm.dynamics.com',
      });
      expect(createEnvironmentIndex([urlOnly]).resolve('nw-sales')).toEqual(
        found(urlOnly, 'domain', { field: 'the domain name', value: 'nw-sales' }),
      );
    });

    it('the same domain name in two regions is ambiguous unless the full host is given', () => {
      const us = withDataverse('Sales US', 'sales');
      const eu = withDataverse('Sales EU', 'sales', 'crm4');
      const regions = createEnvironmentIndex([us, eu]);
      expect(regions.resolve('sales.crm4.dynamics.com')).toEqual(found(eu, 'url'));
      expect(regions.resolve('sales')).toMatchObject({
        kind: 'ambiguous',
        total: 2,
        matchedBy: 'domain',
      });
    });

    it("a name that equals another environment's domain name finds the environment with that name", () => {
      const named = environment('contoso-dev');
      const both = createEnvironmentIndex([withDataverse('Something Else', 'contoso-dev'), named]);
      expect(both.resolve('contoso-dev')).toEqual(found(named, 'name'));
      expect(both.resolve('contoso-dev.crm.dynamics.com').kind).toBe('found');
    });
  });

  describe('when nothing matches', () => {
    it('a typo suggests the closest names', () => {
      expect(index.resolve('Contoso Dve')).toEqual({
        kind: 'not-found',
        suggestions: [contosoDev],
      });
      expect(names(index.resolve('fabrikm uat'))).toEqual(['Fabrikam UAT']);
    });

    it('a partial name suggests the names that start with it, shortest first', () => {
      expect(names(index.resolve('contoso'))).toEqual([
        'Contoso Dev',
        'Contoso Prod',
        'Contoso (default)',
      ]);
    });

    it('a name with extra words suggests the name inside it', () => {
      expect(names(index.resolve('the contoso dev environment'))).toEqual(['Contoso Dev']);
    });

    it('a mistyped domain name suggests its environment', () => {
      expect(names(index.resolve('https://contoso-dve.crm.dynamics.com/'))).toEqual([
        'Contoso Dev',
      ]);
    });

    it('a name that starts with the query is suggested before one that merely contains it', () => {
      const containing = environment('Old Contoso');
      const starting = environment('Contoso Archive');
      const list = createEnvironmentIndex([containing, starting]);
      expect(names(list.resolve('contoso'))).toEqual(['Contoso Archive', 'Old Contoso']);
    });

    it('one typo beats two', () => {
      const one = environment('Payroll');
      const two = environment('Parole');
      expect(names(createEnvironmentIndex([two, one]).resolve('Paryoll'))).toEqual([
        'Payroll',
        'Parole',
      ]);
    });

    it('an environment reached by both its name and its domain name is suggested once', () => {
      const finance = withDataverse('Finance Sandbox', 'fin-sandbox');
      expect(names(createEnvironmentIndex([finance]).resolve('sandbox'))).toEqual([
        'Finance Sandbox',
      ]);
      expect(names(createEnvironmentIndex([finance]).resolve('fin-sandbx'))).toEqual([
        'Finance Sandbox',
      ]);
    });

    it('every environment survives one or two typos in a large list', () => {
      const random = seeded(7);
      const words = ['Contoso', 'Fabrikam', 'Finance', 'Sales', 'Northwind', 'Support', 'Payroll'];
      const stages = ['Dev', 'Test', 'UAT', 'Prod', 'Training', 'Hotfix'];
      const list = Array.from({ length: 400 }, (_, i) =>
        environment(
          `${pickFrom(words, random)} ${pickFrom(words, random)} ${pickFrom(stages, random)} ${i}`,
        ),
      );
      const large = createEnvironmentIndex(list, { maxSuggestions: 50 });
      for (const target of list.slice(0, 100)) {
        const typed = withTypos(target.displayName, random() < 0.5 ? 1 : 2, random);
        const resolution = large.resolve(typed);
        const offered =
          resolution.kind === 'found'
            ? [resolution.environment]
            : resolution.kind === 'ambiguous'
              ? resolution.candidates
              : resolution.suggestions;
        expect({ typed, offered: offered.includes(target) }).toEqual({ typed, offered: true });
      }
    });

    it('nothing wildly unrelated is suggested', () => {
      expect(index.resolve('Northwind Traders')).toEqual({ kind: 'not-found', suggestions: [] });
      expect(index.resolve('xyz')).toEqual({ kind: 'not-found', suggestions: [] });
    });

    it('two letters are too few to suggest anything', () => {
      expect(index.resolve('co')).toEqual({ kind: 'not-found', suggestions: [] });
    });

    it('at most five suggestions are given, and the number can be chosen', () => {
      const many = Array.from({ length: 8 }, (_, i) =>
        environment(`Project ${String.fromCharCode(65 + i)}`),
      );
      expect(names(createEnvironmentIndex(many).resolve('project'))).toHaveLength(5);
      expect(names(createEnvironmentIndex(many, { maxSuggestions: 2 }).resolve('project'))).toEqual(
        ['Project A', 'Project B'],
      );
    });

    it.each([[''], ['   '], ['\u00a0']])('an empty query finds nothing: %j', (query) => {
      expect(index.resolve(query)).toEqual({ kind: 'not-found', suggestions: [] });
    });

    it('a query longer than any command finds nothing without scanning', () => {
      expect(index.resolve('contoso'.repeat(100))).toEqual({ kind: 'not-found', suggestions: [] });
    });

    it('an empty environment list finds nothing', () => {
      expect(createEnvironmentIndex([]).resolve('Contoso Dev')).toEqual({
        kind: 'not-found',
        suggestions: [],
      });
    });
  });

  describe('what the list holds', () => {
    it("a disabled environment is still found: saying so is the caller's job", () => {
      const disabled = environment('Old Sandbox', { state: 'Disabled' });
      expect(createEnvironmentIndex([disabled]).resolve('old sandbox')).toEqual(
        found(disabled, 'name'),
      );
    });

    it('an environment without a display name is found by its id only', () => {
      const nameless = environment('', { id: guidFor('nameless') });
      const list = createEnvironmentIndex([nameless, contosoDev]);
      expect(list.resolve(nameless.id)).toEqual(found(nameless, 'id'));
      expect(list.resolve('""').kind).toBe('not-found');
    });

    it('the answer carries the listed environment itself, every field intact', () => {
      const resolution = index.resolve('contoso-dev.crm.dynamics.com');
      expect(resolution.kind === 'found' && resolution.environment).toBe(contosoDev);
    });
  });

  describe('the name normal form', () => {
    it.each([
      ['Contoso Dev', 'contosodev'],
      ['CONTOSO_DEV.', 'contosodev'],
      ['Straße', 'strasse'],
      ['Øresund', 'oresund'],
      ['İstanbul', 'istanbul'],
      ['ﬁnance', 'finance'],
      ['開発 環境', '開発環境'],
      ['हिन्दी', 'हिन्दी'],
      ['🚀', '#🚀'],
      ['  ', ''],
    ])('%j compares as %j', (name, key) => {
      expect(nameKey(name)).toBe(key);
    });
  });

  it('the benchmark runs end to end on a small tenant', () => {
    const report = runResolutionBench({ environments: 50, queriesPerKind: 5 });
    expect(report.environments).toBe(50);
    expect(report.rows.map((row) => row.kind)).toEqual([
      'build index',
      'first miss (builds suggestion tables)',
      'hit: name',
      'hit: id',
      'hit: domain',
      'hit: url',
      'miss: typo (suggestions)',
      'miss: unrelated',
    ]);
    for (const row of report.rows) expect(row.samples).toBeGreaterThan(0);
  });
});
