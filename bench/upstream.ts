/**
 * Everything outside the server under test, in the driver's process: the simulated Power
 * Platform API (0 ms latency) with a stopwatch on its own handling of each call, the connector
 * sink, and a store filled with history before a run.
 */
import {
  type DataverseSimulator,
  startDataverseSimulatorFor,
} from '../src/sandbox/dataverse-simulator';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../src/log';
import {
  defaultSeed,
  guidFrom,
  type PowerPlatformSimulator,
  type RecordedCall,
  seedMany,
  type SimulatedEnvironment,
  startPowerPlatformSimulator,
  WELL_KNOWN,
} from '../src/sandbox/power-platform-simulator';
import { SqliteStore } from '../src/store/sqlite-store';
import { type ConnectorSink, startConnectorSink } from './connector-sink';
import type { BenchUser } from './driver';

export interface Upstream {
  simulator: PowerPlatformSimulator;
  /** Dataverse for the role check and the removals of time-boxed elevations, as in the sandbox. */
  dataverse: DataverseSimulator;
  sink: ConnectorSink;
  /**
   * The simulator's own time per call, summed over the attempts of one client request id: from
   * the moment it recorded the request to the moment it had written the whole answer.
   */
  handlingNs: Map<string, bigint>;
  stop(): Promise<void>;
}

/**
 * Starts the simulator and the sink. The simulator's handling is timed without changing it: its
 * `calls` array is pushed to when a request arrives, and its logger is called right after the
 * answer is written (both carry the client request id).
 */
export async function startUpstream(
  options: { seed?: SimulatedEnvironment[]; pageSize?: number } = {},
): Promise<Upstream> {
  const arrived = new Map<string, bigint[]>();
  const handlingNs = new Map<string, bigint>();
  const logger: Logger = {
    debug: () => undefined,
    info: (message, fields) => {
      const id = fields?.clientRequestId;
      if (message !== 'simulated request' || typeof id !== 'string') return;
      const started = arrived.get(id)?.shift();
      if (started === undefined) return;
      handlingNs.set(id, (handlingNs.get(id) ?? 0n) + (process.hrtime.bigint() - started));
    },
    warn: () => undefined,
    error: () => undefined,
    child: () => logger,
  };
  const simulator = await startPowerPlatformSimulator({
    seed: options.seed,
    pageSize: options.pageSize,
    logger,
  });
  const calls = simulator.calls;
  const push = calls.push.bind(calls);
  calls.push = (...items: RecordedCall[]) => {
    const now = process.hrtime.bigint();
    for (const call of items) {
      const id = call.headers['x-ms-client-request-id'];
      if (id === undefined) continue;
      let queue = arrived.get(id);
      if (!queue) arrived.set(id, (queue = []));
      queue.push(now);
    }
    return push(...items);
  };
  const sink = await startConnectorSink({ watch: true });
  const dataverse = await startDataverseSimulatorFor(simulator);
  return {
    simulator,
    dataverse,
    sink,
    handlingNs,
    async stop() {
      await sink.stop();
      await dataverse.stop();
      await simulator.stop();
    },
  };
}

/**
 * Environments of the sample tenant that a user can be elevated in, named so that each resolves
 * to one environment ("Contoso Test" and "Contoso-Test" are left out: they are ambiguous on
 * purpose).
 */
export function grantingEnvironments(): string[] {
  const ambiguous = new Set<string>([WELL_KNOWN.contosoTest.id, WELL_KNOWN.contosoTestHyphen.id]);
  return defaultSeed()
    .filter(
      (environment) =>
        environment.adminRole === 'grant' &&
        environment.url !== undefined &&
        environment.state === 'Enabled' &&
        !ambiguous.has(environment.id),
    )
    .map((environment) => environment.displayName);
}

/** `count` synthetic environments and their names ("Synthetic 00001", ...). */
export function syntheticTenant(count: number): { seed: SimulatedEnvironment[]; names: string[] } {
  const seed = seedMany(count);
  return { seed, names: seed.map((environment) => environment.displayName) };
}

const created: string[] = [];

/** A fresh directory for a run's SQLite file and logs (under TMPDIR). */
export function runDirectory(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  created.push(dir);
  return dir;
}

/** Removes the directories of the runs so far, unless BENCH_KEEP=1 (to read the servers' logs). */
export function removeRunDirectories(): void {
  const dirs = created.splice(0);
  if (process.env.BENCH_KEEP === '1') return;
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/**
 * History written through the store before a run, as the bot writes it: requests that
 * succeeded, each with its three audit events (requested, confirmed, executed) in the tenant's
 * hash chain, a second apart, ending a day ago. Stops at exactly `auditEvents` events.
 */
export async function seedHistory(
  path: string,
  auditEvents: number,
  users: readonly BenchUser[],
): Promise<void> {
  const store = new SqliteStore({ path });
  try {
    const environment = {
      id: guidFrom('bench-history-environment'),
      displayName: 'Synthetic History',
      type: 'Sandbox',
      state: 'Enabled',
      dataverseUrl: 'https://synthetic-history.crm.dynamics.com/',
      domainName: 'synthetic-history',
    };
    const requests = Math.ceil(auditEvents / 3);
    const firstAt = Date.now() - 86_400_000 - requests * 3_000;
    let written = 0;
    for (let index = 0; written < auditEvents; index++) {
      const user = users[index % users.length]!;
      const requester = { aadObjectId: user.aadObjectId, tenantId: user.tenantId, name: user.name };
      const at = (step: number) => new Date(firstAt + index * 3_000 + step * 1_000);
      const id = guidFrom(`bench-history-request:${index}`);
      const clientRequestId = guidFrom(`bench-history-call:${index}`);
      await store.createRequest({
        id,
        state: 'succeeded',
        requester,
        environment,
        query: environment.displayName,
        justification: 'Seeded history',
        createdAt: at(0).toISOString(),
        expiresAt: new Date(at(0).getTime() + 600_000).toISOString(),
        updatedAt: at(2).toISOString(),
        clientRequestId,
      });
      const events = [
        { type: 'requested' as const, details: { query: environment.displayName } },
        {
          type: 'confirmed' as const,
          details: { justification: 'Seeded history', clientRequestId },
        },
        {
          type: 'executed' as const,
          details: { outcome: 'succeeded', status: 200, clientRequestId },
        },
      ];
      for (const [step, event] of events.entries()) {
        if (written >= auditEvents) break;
        await store.appendAudit({
          ...event,
          at: at(step),
          requestId: id,
          actor: user.aadObjectId,
          tenantId: user.tenantId,
          environmentId: environment.id,
        });
        written++;
      }
    }
  } finally {
    await store.close();
  }
}
