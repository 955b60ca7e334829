/**
 * Reads a V8 heap snapshot (`v8.writeHeapSnapshot`, a .heapsnapshot file) and says what the heap
 * holds: self size and count by constructor (or kind, for strings, code and the like). Used to
 * explain resident memory: `npm run bench -- --heap` writes the bot's and the floor's snapshots
 * after the memory run and prints this comparison.
 */
import { readFileSync } from 'node:fs';

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapLine {
  name: string;
  count: number;
  bytes: number;
}

export interface HeapSummary {
  totalBytes: number;
  byName: HeapLine[];
}

export function summarizeHeap(path: string, top = 25): HeapSummary {
  const heap = JSON.parse(readFileSync(path, 'utf8')) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const totals = new Map<string, { count: number; bytes: number }>();
  let totalBytes = 0;
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!] ?? 'unknown';
    const bytes = heap.nodes[i + sizeAt]!;
    totalBytes += bytes;
    // Objects by constructor; everything else (strings, code, arrays, ...) by kind.
    const name =
      type === 'object' || type === 'closure' || type === 'native'
        ? `${type === 'object' ? '' : `(${type}) `}${heap.strings[heap.nodes[i + nameAt]!] ?? '?'}`
        : `(${type})`;
    const entry = totals.get(name) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += bytes;
    totals.set(name, entry);
  }
  return {
    totalBytes,
    byName: [...totals]
      .map(([name, entry]) => ({ name, ...entry }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, top),
  };
}

/** Two heaps side by side, largest difference first. */
export function formatHeapComparison(bot: HeapSummary, floor: HeapSummary): string {
  const floorByName = new Map(floor.byName.map((line) => [line.name, line]));
  const botByName = new Map(bot.byName.map((line) => [line.name, line]));
  const names = new Set([...botByName.keys(), ...floorByName.keys()]);
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  const rows = [...names]
    .map((name) => ({ name, bot: botByName.get(name), floor: floorByName.get(name) }))
    .sort(
      (a, b) =>
        (b.bot?.bytes ?? 0) - (b.floor?.bytes ?? 0) - ((a.bot?.bytes ?? 0) - (a.floor?.bytes ?? 0)),
    );
  return [
    `Live heap (after a full collection): bot ${mib(bot.totalBytes)} MiB, floor ${mib(floor.totalBytes)} MiB.`,
    '',
    '| held by | bot MiB | bot count | floor MiB | floor count |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.name.replace(/\|/g, '\\|').slice(0, 80)} | ${row.bot ? mib(row.bot.bytes) : '—'} | ${row.bot?.count ?? '—'} | ` +
        `${row.floor ? mib(row.floor.bytes) : '—'} | ${row.floor?.count ?? '—'} |`,
    ),
  ].join('\n');
}
