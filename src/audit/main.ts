/**
 * Entry point of `npm run audit -- <command>` (see audit-cli.ts). Exit codes: 0 all good,
 * 1 the audit trail is altered, 2 a usage or configuration error.
 */
import { loadStorageConfig } from '../config';
import { openStore } from '../store/open-store';
import { exportAudit, parseAuditArgs, USAGE, verifyAudit } from './audit-cli';

async function main(): Promise<number> {
  let command;
  try {
    command = parseAuditArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const store = await openStore(loadStorageConfig(process.env), { createIfMissing: false });
  try {
    if (command.kind === 'verify') {
      const { ok, lines } = await verifyAudit(store);
      process.stdout.write(`${lines.join('\n')}\n`);
      return ok ? 0 : 1;
    }
    const count = await exportAudit(store, command, (text) => process.stdout.write(text));
    process.stderr.write(`${count} events exported.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
