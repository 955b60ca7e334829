/**
 * `npm run audit -- verify` checks every tenant's audit chain and names the first broken link;
 * `npm run audit -- export --since <date> [--until <date>] --format csv|json` writes the events.
 * It reads the store the bot is configured with (STORAGE, SQLITE_PATH, AZURE_STORAGE_CONNECTION_STRING
 * or AZURE_STORAGE_ACCOUNT_URL with an Azure identity; SANDBOX=true for the sandbox's file).
 */
import { ChainVerifier, type StoredAuditEvent } from '../elevation/audit-chain';
import type { AuditStore } from '../elevation/ports';

export const USAGE = [
  'Usage:',
  '  npm run audit -- verify',
  '  npm run audit -- export [--since <date>] [--until <date>] [--format json|csv]',
  '',
  'Dates are ISO 8601 (2026-11-01 or 2026-11-01T08:00:00Z). The store is the one the bot uses:',
  'STORAGE, SQLITE_PATH, AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL',
  '(SANDBOX=true: the sandbox file).',
].join('\n');

const PAGE = 1000;

export type AuditCommand =
  | { kind: 'verify' }
  | { kind: 'export'; since?: Date; until?: Date; format: 'json' | 'csv' }
  | { kind: 'help' };

/** Reads the command line; throws an Error with a one-line reason when it makes no sense. */
export function parseAuditArgs(args: readonly string[]): AuditCommand {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === 'help' || verb === '--help' || verb === '-h') {
    return { kind: 'help' };
  }
  if (verb === 'verify') {
    if (rest.length > 0) throw new Error(`verify takes no options (got ${rest.join(' ')})`);
    return { kind: 'verify' };
  }
  if (verb !== 'export') throw new Error(`unknown command "${verb}"`);
  const command: Extract<AuditCommand, { kind: 'export' }> = { kind: 'export', format: 'json' };
  for (let i = 0; i < rest.length; i += 2) {
    const option = rest[i];
    const value = rest[i + 1];
    if (value === undefined) throw new Error(`${option} needs a value`);
    switch (option) {
      case '--since':
      case '--until': {
        const date = new Date(value);
        if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
          throw new Error(`${option} must be an ISO 8601 date, like 2026-11-01 (got "${value}")`);
        }
        if (option === '--since') command.since = date;
        else command.until = date;
        break;
      }
      case '--format':
        if (value !== 'json' && value !== 'csv')
          throw new Error(`--format must be json or csv (got "${value}")`);
        command.format = value;
        break;
      default:
        throw new Error(`unknown option "${option}"`);
    }
  }
  if (command.since && command.until && command.since > command.until) {
    throw new Error('--since is after --until');
  }
  return command;
}

/** Every event of a chain, page by page, in order. */
async function* eventsOf(
  store: AuditStore,
  chain: string,
  since?: Date,
): AsyncGenerator<StoredAuditEvent> {
  let afterSeq = 0;
  for (;;) {
    const page = await store.readAudit({ chain, afterSeq, since, limit: PAGE });
    for (const event of page) yield event;
    if (page.length < PAGE) return;
    afterSeq = page[page.length - 1]!.seq;
  }
}

/** Checks every chain; resolves with the report lines and whether all chains hold. */
export async function verifyAudit(store: AuditStore): Promise<{ ok: boolean; lines: string[] }> {
  const lines: string[] = [];
  let ok = true;
  const chains = await store.auditChains();
  for (const { chain, anchor } of chains) {
    const verifier = new ChainVerifier(chain, anchor);
    for await (const event of eventsOf(store, chain)) if (!verifier.add(event)) break;
    const result = verifier.result();
    if (result.ok) {
      const from = anchor ? ` (from event ${anchor.seq + 1}; older ones removed by retention)` : '';
      lines.push(`OK      chain ${chain}: ${result.events} events${from}`);
    } else {
      ok = false;
      lines.push(
        `BROKEN  chain ${chain}: first broken link at event ${result.seq}: ${result.problem}`,
      );
    }
  }
  if (chains.length === 0) lines.push('No audit events.');
  lines.push(ok ? 'The audit trail is intact.' : 'The audit trail has been altered.');
  return { ok, lines };
}

const COLUMNS = [
  'chain',
  'seq',
  'at',
  'type',
  'requestId',
  'actor',
  'tenantId',
  'environmentId',
  'details',
  'prevHash',
  'hash',
] as const;

function row(event: StoredAuditEvent): Record<(typeof COLUMNS)[number], string | number | null> {
  return {
    chain: event.chain,
    seq: event.seq,
    at: event.at.toISOString(),
    type: event.type,
    requestId: event.requestId ?? null,
    actor: event.actor ?? null,
    tenantId: event.tenantId ?? null,
    environmentId: event.environmentId ?? null,
    details: event.details ? JSON.stringify(event.details) : null,
    prevHash: event.prevHash,
    hash: event.hash,
  };
}

/**
 * One CSV cell, always quoted: a reader then never has to guess where a cell ends or whether it
 * is text (some spreadsheets read an unquoted cell as a number, a date or a formula). A leading
 * = + - @ (or tab, CR) is also defused with a quote mark, so that a justification cannot become a
 * formula in a spreadsheet that evaluates quoted cells too.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '""';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

/** Writes the events (all chains, each in order) between the dates, as JSON or CSV. */
export async function exportAudit(
  store: AuditStore,
  options: { since?: Date; until?: Date; format: 'json' | 'csv' },
  write: (text: string) => void,
): Promise<number> {
  let count = 0;
  if (options.format === 'csv') write(`${COLUMNS.map(csvCell).join(',')}\n`);
  else write('[');
  for (const { chain } of await store.auditChains()) {
    for await (const event of eventsOf(store, chain, options.since)) {
      if (options.until && event.at > options.until) break;
      const values = row(event);
      if (options.format === 'csv') {
        write(`${COLUMNS.map((c) => csvCell(values[c])).join(',')}\n`);
      } else {
        write(`${count === 0 ? '\n' : ',\n'}${JSON.stringify(values)}`);
      }
      count += 1;
    }
  }
  if (options.format === 'json') write(count === 0 ? ']\n' : '\n]\n');
  return count;
}
