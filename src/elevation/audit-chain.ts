/**
 * The audit trail is a hash chain per tenant: each event carries the hash of the one before it, so
 * editing, deleting or reordering a stored event breaks every link after it. Both stores compute
 * hashes with this module, and `npm run audit -- verify` checks them with it.
 */
import { createHash } from 'node:crypto';
import type { AuditEvent } from './ports';

/** The `prevHash` of a chain's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** Events without a tenant (rare: a refusal before Teams said who) share this chain. */
export const NO_TENANT_CHAIN = 'no-tenant';

/** An audit event as stored: its chain, its place in it, and the hashes that link it. */
export interface StoredAuditEvent extends AuditEvent {
  /** The tenant id in lower case, or NO_TENANT_CHAIN. */
  chain: string;
  /** 1, 2, 3, ... within the chain. */
  seq: number;
  prevHash: string;
  hash: string;
}

export function chainOf(event: Pick<AuditEvent, 'tenantId'>): string {
  return event.tenantId ? event.tenantId.toLowerCase() : NO_TENANT_CHAIN;
}

/** JSON with keys sorted at every level and undefined left out: one text for one value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hash of an event, given the hash of the event before it in its chain. */
function hashAuditEvent(
  prevHash: string,
  event: AuditEvent & { chain: string; seq: number },
): string {
  const content = canonicalJson({
    chain: event.chain,
    seq: event.seq,
    type: event.type,
    at: event.at.toISOString(),
    requestId: event.requestId,
    actor: event.actor,
    tenantId: event.tenantId,
    environmentId: event.environmentId,
    details: event.details,
  });
  return createHash('sha256').update(`${prevHash}\n${content}`).digest('hex');
}

/** The next link of a chain whose last event had `last` (undefined: the chain is empty). */
export function linkAuditEvent(
  event: AuditEvent,
  last: { seq: number; hash: string } | undefined,
): StoredAuditEvent {
  const chain = chainOf(event);
  const seq = (last?.seq ?? 0) + 1;
  const prevHash = last?.hash ?? GENESIS_HASH;
  // Hashed as it will read back from storage: plain JSON (a Date in details becomes its string).
  const details =
    event.details === undefined
      ? undefined
      : (JSON.parse(JSON.stringify(event.details)) as Record<string, unknown>);
  event = { ...event, details };
  return {
    ...event,
    chain,
    seq,
    prevHash,
    hash: hashAuditEvent(prevHash, { ...event, chain, seq }),
  };
}

export type ChainCheck =
  | { ok: true; chain: string; events: number }
  | { ok: false; chain: string; seq: number; problem: string };

/**
 * Checks one chain, event by event, in order. `anchor` is where the chain starts when older events
 * were removed by retention (their last seq and hash); without it the chain must start at seq 1.
 */
export class ChainVerifier {
  private expectedSeq: number;
  private prevHash: string;
  private count = 0;
  private broken: ChainCheck | undefined;

  constructor(
    readonly chain: string,
    anchor?: { seq: number; hash: string },
  ) {
    this.expectedSeq = (anchor?.seq ?? 0) + 1;
    this.prevHash = anchor?.hash ?? GENESIS_HASH;
  }

  /** Checks the next event; false once the chain is broken (the first break is kept). */
  add(event: StoredAuditEvent): boolean {
    if (this.broken) return false;
    const problem =
      event.seq !== this.expectedSeq
        ? `expected event ${this.expectedSeq} here: an event is missing or out of order`
        : event.prevHash !== this.prevHash
          ? 'its link to the previous event is wrong'
          : hashAuditEvent(this.prevHash, event) !== event.hash
            ? 'its content does not match its hash: it was changed after it was written'
            : undefined;
    if (problem) {
      this.broken = { ok: false, chain: this.chain, seq: event.seq, problem };
      return false;
    }
    this.prevHash = event.hash;
    this.expectedSeq += 1;
    this.count += 1;
    return true;
  }

  result(): ChainCheck {
    return this.broken ?? { ok: true, chain: this.chain, events: this.count };
  }
}

/** Checks a whole chain held in memory (see ChainVerifier). */
export function verifyChain(
  events: Iterable<StoredAuditEvent>,
  chain: string,
  anchor?: { seq: number; hash: string },
): ChainCheck {
  const verifier = new ChainVerifier(chain, anchor);
  for (const event of events) if (!verifier.add(event)) break;
  return verifier.result();
}
