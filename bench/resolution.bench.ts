/**
 * How fast environment resolution is on a large tenant: building the index once, then resolving
 * each kind of query a user types. Run with `npm run bench:resolution` (see bench/README.md).
 */

import os from 'node:os';
import type { Environment } from '../src/elevation/vocabulary';
import {
  createEnvironmentIndex,
  type EnvironmentIndex,
  type Resolution,
} from '../src/elevation/environment-resolution';

export interface BenchOptions {
  /** How many synthetic environments the tenant has. */
  environments?: number;
  /** How many queries of each kind are timed. */
  queriesPerKind?: number;
  /** How many times the index is built (each timed). */
  buildRuns?: number;
  /** Seed of the generator, so that two runs time the same tenant and queries. */
  seed?: number;
}

const DEFAULTS: Required<BenchOptions> = {
  environments: 10_000,
  queriesPerKind: 2_000,
  buildRuns: 30,
  seed: 42,
};

export interface BenchRow {
  kind: string;
  /** 'ms' for building the index, 'µs' for a query. */
  unit: 'ms' | 'µs';
  samples: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
  /** What the resolutions were, e.g. "found 97%, ambiguous 3%"; empty for the build. */
  outcomes: string;
}

export interface BenchReport {
  environments: number;
  machine: string;
  node: string;
  os: string;
  date: string;
  rows: BenchRow[];
}

export function runResolutionBench(options: BenchOptions = {}): BenchReport {
  const settings = {
    environments: options.environments ?? DEFAULTS.environments,
    queriesPerKind: options.queriesPerKind ?? DEFAULTS.queriesPerKind,
    buildRuns: options.buildRuns ?? DEFAULTS.buildRuns,
    seed: options.seed ?? DEFAULTS.seed,
  };
  const random = seededRandom(settings.seed);
  const environments = syntheticTenant(settings.environments, random);

  // The first builds only warm the JIT; their times would measure the compiler, not the index.
  for (let i = 0; i < 3; i++) createEnvironmentIndex(environments);
  const buildTimes: number[] = [];
  const firstMissTimes: number[] = [];
  let index: EnvironmentIndex = createEnvironmentIndex(environments);
  for (let run = 0; run < settings.buildRuns; run++) {
    let started = process.hrtime.bigint();
    index = createEnvironmentIndex(environments);
    buildTimes.push(Number(process.hrtime.bigint() - started) / 1e6);
    // The suggestion tables are built on an index's first miss: time that deferred cost too.
    const miss = withTypo(pick(environments, random).displayName, random);
    started = process.hrtime.bigint();
    index.resolve(miss);
    firstMissTimes.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  index = createEnvironmentIndex(environments);

  const rows: BenchRow[] = [
    summarize('build index', 'ms', buildTimes, ''),
    summarize('first miss (builds suggestion tables)', 'ms', firstMissTimes, ''),
  ];
  for (const [kind, makeQuery] of QUERY_KINDS) {
    const queries = Array.from({ length: settings.queriesPerKind }, () =>
      makeQuery(pick(environments, random), random),
    );
    for (const query of queries) index.resolve(query);
    const times: number[] = [];
    const outcomes = new Map<string, number>();
    for (const query of queries) {
      const started = process.hrtime.bigint();
      const resolution = index.resolve(query);
      times.push(Number(process.hrtime.bigint() - started) / 1e3);
      const outcome = describeOutcome(resolution);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    rows.push(summarize(kind, 'µs', times, describeOutcomes(outcomes, queries.length)));
  }

  return {
    environments: index.size,
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores)`,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    rows,
  };
}

/** The report as Markdown, ready to paste into bench/RESULTS.md. */
export function formatReport(report: BenchReport): string {
  const lines = [
    `Environments: ${report.environments}`,
    `Machine: ${report.machine}, ${report.os}`,
    `Node: ${report.node}`,
    `Date: ${report.date}`,
    '',
    '| measure | samples | mean | p50 | p99 | max | outcomes |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...report.rows.map(
      (row) =>
        `| ${row.kind} | ${row.samples} | ${fixed(row.mean, row.unit)} | ${fixed(row.p50, row.unit)} | ` +
        `${fixed(row.p99, row.unit)} | ${fixed(row.max, row.unit)} | ${row.outcomes} |`,
    ),
  ];
  return lines.join('\n');
}

export function main(options: BenchOptions = {}): void {
  console.log(formatReport(runResolutionBench(options)));
}

// ---------------------------------------------------------------------------------------------
// A synthetic tenant: company, department and stage names as admins write them, with the
// duplicates and near-duplicates a real list has, ids, and Dataverse URLs on most environments.

const COMPANIES = [
  'Contoso', 'Fabrikam', 'Northwind', 'Adventure Works', 'Tailspin Toys', 'Woodgrove Bank',
  'Litware', 'Proseware', 'Wingtip Toys', 'Alpine Ski House', 'Coho Winery', 'Fourth Coffee',
  'Wide World Importers', 'Lamna Healthcare', 'Relecloud', 'Trey Research', 'Humongous Insurance',
  'Blue Yonder Airlines', 'Lucerne Publishing', 'A. Datum', 'VanArsdel', 'Bellows College',
  'First Up Consultants', 'Southridge Video', 'Consolidated Messenger', 'City Power & Light',
  'Nod Publishers', 'Best For You Organics', 'Margie’s Travel', 'Graphic Design Institute',
  'Zava', 'Munson’s Pickles', 'Société Générale Démo', 'Müller Logistik',
]; // prettier-ignore
const DEPARTMENTS = [
  'Finance', 'HR', 'Sales', 'Marketing', 'Operations', 'IT', 'Legal', 'Procurement', 'Support',
  'Field Service', 'Supply Chain', 'R&D', 'Customer Care', 'Facilities', 'Payroll',
]; // prettier-ignore
const STAGES = [
  'Dev',
  'Test',
  'UAT',
  'Prod',
  'Sandbox',
  'Training',
  'Hotfix',
  'Staging',
  'QA',
  'Trial',
];
const SUFFIXES = ['', '', '', '', ' 2', ' 3', ' (EU)', ' (US)', ' - old', ' v2'];
const REGIONS = ['crm', 'crm', 'crm', 'crm4', 'crm11', 'crm3', 'crm5', 'crm2', 'crm6', 'crm15'];
const TYPES = ['Sandbox', 'Production', 'Developer', 'Trial', 'Teams'];

function syntheticTenant(size: number, random: () => number): Environment[] {
  const domains = new Set<string>();
  const tenantId = guid(random);
  const environments: Environment[] = [];
  for (let i = 0; i < size; i++) {
    const displayName = `${pick(COMPANIES, random)} ${pick(DEPARTMENTS, random)} ${pick(STAGES, random)}${pick(SUFFIXES, random)}`;
    const isDefault = i === 0;
    const environment: Environment = {
      id: isDefault ? `Default-${tenantId}` : guid(random),
      displayName: isDefault ? 'Contoso (default)' : displayName,
      type: isDefault ? 'Default' : pick(TYPES, random),
      tenantId,
    };
    if (random() < 0.8) {
      const base = slug(environment.displayName).slice(0, 24);
      let domainName = base;
      for (let n = 2; domains.has(domainName); n++) domainName = `${base}${n}`;
      domains.add(domainName);
      environment.domainName = domainName;
      environment.dataverseUrl = `https://${domainName}.${pick(REGIONS, random)}.dynamics.com/`;
    }
    environments.push(environment);
  }
  return environments;
}

type QueryMaker = (environment: Environment, random: () => number) => string;

const QUERY_KINDS: [string, QueryMaker][] = [
  // As typed: lower case, dashes or underscores instead of spaces.
  [
    'hit: name',
    (environment, random) =>
      environment.displayName.toLowerCase().replace(/ /g, pick(['-', '_', ' '], random)),
  ],
  ['hit: id', (environment) => environment.id.toUpperCase()],
  ['hit: domain', (environment) => environment.domainName ?? environment.id],
  [
    'hit: url',
    (environment) =>
      environment.dataverseUrl
        ? `${environment.dataverseUrl}main.aspx?appid=1&pagetype=entitylist`
        : environment.id,
  ],
  ['miss: typo (suggestions)', (environment, random) => withTypo(environment.displayName, random)],
  [
    'miss: unrelated',
    (_environment, random) =>
      `qz${Array.from({ length: 10 }, () => pick(LETTERS, random)).join('')}`,
  ],
];

const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');

/** Swaps two neighbouring letters, or drops one: the typos people make. */
function withTypo(name: string, random: () => number): string {
  const at = 1 + Math.floor(random() * (name.length - 2));
  if (random() < 0.5) return name.slice(0, at) + name.slice(at + 1);
  return name.slice(0, at) + name.charAt(at + 1) + name.charAt(at) + name.slice(at + 2);
}

function slug(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function guid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

function pick<T>(items: readonly T[], random: () => number): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** mulberry32: small, fast and good enough to make test data repeatable. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------

function summarize(
  kind: string,
  unit: BenchRow['unit'],
  samples: number[],
  outcomes: string,
): BenchRow {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (fraction: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? 0;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length);
  return {
    kind,
    unit,
    samples: sorted.length,
    mean,
    p50: at(0.5),
    p99: at(0.99),
    max: at(1),
    outcomes,
  };
}

function describeOutcome(resolution: Resolution): string {
  if (resolution.kind !== 'not-found') return resolution.kind;
  return resolution.suggestions.length > 0 ? 'not-found with suggestions' : 'not-found';
}

function describeOutcomes(outcomes: Map<string, number>, total: number): string {
  return [...outcomes]
    .sort(([, a], [, b]) => b - a)
    .map(([kind, count]) => `${kind} ${((100 * count) / total).toFixed(1)}%`)
    .join(', ');
}

function fixed(value: number, unit: BenchRow['unit']): string {
  return `${value.toFixed(unit === 'ms' ? 2 : 1)} ${unit}`;
}

if (require.main === module) main();
