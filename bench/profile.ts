/**
 * Reads a V8 CPU profile (`node --cpu-prof`, a .cpuprofile file) and says where the time went:
 * self time by area (a package under node_modules, a folder of src/, Node's internals, the
 * garbage collector) and inclusive time of the functions that matter. Used to find the cause of a
 * missed target: `npm run bench -- --profile` writes the bot's profile and prints this summary.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileLine {
  name: string;
  /** Milliseconds of samples. */
  ms: number;
  /** Share of the profile's busy time (idle excluded), in %. */
  percent: number;
}

export interface ProfileSummary {
  /** Milliseconds the process was busy (every sample but "(idle)"). */
  busyMs: number;
  /** Self time by area, largest first. */
  areas: ProfileLine[];
  /** Self time by function, largest first. */
  selfTime: ProfileLine[];
  /** Inclusive time (the function and everything it called) of functions in src/ and bench/. */
  inclusive: ProfileLine[];
}

/** Where a function lives, in a word: `botbuilder`, `src/store`, `node:internal`, `(gc)`. */
export function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') {
      return functionName;
    }
    return '(native)';
  }
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules?.[1]) return modules[1];
  if (url.startsWith('node:')) return 'node:internal';
  // The deepest src/, bench/ or test/ of the path: the checkout may sit in a folder so named.
  const file = /\/(src|bench)\/[^/]+$/.exec(url);
  if (file) return file[1]!;
  const own = /.*\/(src|bench|test)\/([^/]+)\//.exec(url);
  if (own) return own[1] === 'src' ? `src/${own[2]}` : own[1]!;
  return url.replace(/^file:\/\//, '');
}

function shortName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url
    .replace(/^file:\/\//, '')
    .replace(/^.*?(node_modules\/|\/src\/|\/bench\/)/, '$1');
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

export interface SummaryOptions {
  /** Rows per table. */
  top?: number;
  /**
   * Only samples taken in this window, in microseconds of the monotonic clock (the profile's own
   * timestamps are on the clock of process.hrtime, in any process of the machine).
   */
  fromUs?: number;
  toUs?: number;
}

export function summarizeProfile(path: string, options: SummaryOptions = {}): ProfileSummary {
  const top = options.top ?? 20;
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // Self time per node from the sample stream (timeDeltas are in microseconds).
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (options.fromUs !== undefined && at < options.fromUs) continue;
    if (options.toUs !== undefined && at > options.toUs) break;
    const id = samples[i]!;
    // Each delta is the time before its sample; the time after sample i is delta i + 1.
    const us = deltas[i + 1] ?? deltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  }
  let busyUs = 0;
  const areaUs = new Map<string, number>();
  const functionUs = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    const area = areaOf(node.callFrame.url, node.callFrame.functionName);
    if (area === '(idle)') continue;
    busyUs += us;
    areaUs.set(area, (areaUs.get(area) ?? 0) + us);
    const name = shortName(node);
    functionUs.set(name, (functionUs.get(name) ?? 0) + us);
  }

  // Inclusive time: a depth-first walk from the root, counting each function once per stack.
  const inclusiveUs = new Map<string, number>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || areaOf(node.callFrame.url, node.callFrame.functionName) === '(idle)') continue;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at);
      if (!frame) break;
      const url = frame.callFrame.url;
      if (!/\/(src|bench)\//.test(url) || /node_modules/.test(url)) continue;
      const name = shortName(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusiveUs.set(name, (inclusiveUs.get(name) ?? 0) + us);
    }
  }

  const lines = (map: Map<string, number>): ProfileLine[] =>
    [...map]
      .sort(([, a], [, b]) => b - a)
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, percent: (100 * us) / Math.max(1, busyUs) }));
  return {
    busyMs: busyUs / 1000,
    areas: lines(areaUs),
    selfTime: lines(functionUs),
    inclusive: lines(inclusiveUs),
  };
}

export function formatProfile(summary: ProfileSummary): string {
  const table = (title: string, rows: ProfileLine[]) => [
    `| ${title} | ms | % of busy |`,
    '| --- | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.name.replace(/\|/g, '\\|')} | ${row.ms.toFixed(0)} | ${row.percent.toFixed(1)} |`,
    ),
    '',
  ];
  return [
    `Busy: ${summary.busyMs.toFixed(0)} ms of CPU samples`,
    '',
    ...table('self time by area', summary.areas),
    ...table('self time by function', summary.selfTime),
    ...table('inclusive time (src/, bench/)', summary.inclusive),
  ].join('\n');
}

/**
 * The bot's and the floor's profiles of the same load side by side, per request: where the bot
 * spends the CPU time the floor does not.
 */
export function formatComparison(
  bot: { summary: ProfileSummary; requests: number },
  floor: { summary: ProfileSummary; requests: number },
): string {
  const perRequest = (lines: ProfileLine[], requests: number) =>
    new Map(lines.map((line) => [line.name, (1000 * line.ms) / Math.max(1, requests)]));
  const botAreas = perRequest(bot.summary.areas, bot.requests);
  const floorAreas = perRequest(floor.summary.areas, floor.requests);
  const names = new Set([...botAreas.keys(), ...floorAreas.keys()]);
  const rows = [...names]
    .map((name) => ({ name, bot: botAreas.get(name) ?? 0, floor: floorAreas.get(name) ?? 0 }))
    .sort((a, b) => b.bot - b.floor - (a.bot - a.floor));
  const total = (summary: ProfileSummary, requests: number) =>
    (1000 * summary.busyMs) / Math.max(1, requests);
  const row = (name: string, b: number, f: number) =>
    `| ${name} | ${b.toFixed(0)} | ${f.toFixed(0)} | ${(b - f >= 0 ? '+' : '') + (b - f).toFixed(0)} |`;
  return [
    `CPU per request: bot ${total(bot.summary, bot.requests).toFixed(0)} µs (${bot.requests} requests), ` +
      `floor ${total(floor.summary, floor.requests).toFixed(0)} µs (${floor.requests} requests).`,
    '',
    '| self time by area, µs per request | bot | floor | bot − floor |',
    '| --- | ---: | ---: | ---: |',
    row('**all**', total(bot.summary, bot.requests), total(floor.summary, floor.requests)),
    ...rows.map((r) => row(r.name, r.bot, r.floor)),
    '',
    '| bot: self time by function | µs per request | % of busy |',
    '| --- | ---: | ---: |',
    ...bot.summary.selfTime.map(
      (line) =>
        `| ${line.name.replace(/\|/g, '\\|')} | ${((1000 * line.ms) / Math.max(1, bot.requests)).toFixed(0)} | ${line.percent.toFixed(1)} |`,
    ),
    '',
    '| bot: inclusive time (src/), synchronous part | µs per request | % of busy |',
    '| --- | ---: | ---: |',
    ...bot.summary.inclusive.map(
      (line) =>
        `| ${line.name.replace(/\|/g, '\\|')} | ${((1000 * line.ms) / Math.max(1, bot.requests)).toFixed(0)} | ${line.percent.toFixed(1)} |`,
    ),
  ].join('\n');
}

if (require.main === module) {
  const [path, top] = process.argv.slice(2);
  if (!path) {
    process.stderr.write('usage: node dist/bench/profile.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  console.log(formatProfile(summarizeProfile(path, { top: Number(top ?? 20) })));
}
