import {
  canonicalJson,
  GENESIS_HASH,
  linkAuditEvent,
  type StoredAuditEvent,
  verifyChain,
} from '../../../src/elevation/audit-chain';
import { csvCell, parseAuditArgs } from '../../../src/audit/audit-cli';
import type { AuditEvent } from '../../../src/elevation/ports';

const TENANT = '3A4CFEC5-A51A-4112-A8BF-15CD69DBDBA8';

function chainOf(count: number): StoredAuditEvent[] {
  const events: StoredAuditEvent[] = [];
  for (let i = 0; i < count; i += 1) {
    const event: AuditEvent = {
      type: i % 2 ? 'confirmed' : 'requested',
      at: new Date(Date.UTC(2026, 10, 26, 10, 0, i)),
      requestId: `req-${i}`,
      actor: 'oid-1',
      tenantId: TENANT,
      environmentId: 'env-1',
      details: { justification: `INC-${i}`, nested: { b: 2, a: [1, null] } },
    };
    events.push(linkAuditEvent(event, events[events.length - 1]));
  }
  return events;
}

describe('audit hash chain', () => {
  it('links events per tenant from the genesis hash, seq 1, 2, 3', () => {
    const events = chainOf(3);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[0]!.chain).toBe(TENANT.toLowerCase());
    expect(events[0]!.prevHash).toBe(GENESIS_HASH);
    expect(events[1]!.prevHash).toBe(events[0]!.hash);
    expect(events[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyChain(events, events[0]!.chain)).toEqual({
      ok: true,
      chain: events[0]!.chain,
      events: 3,
    });
  });

  it('canonical JSON does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: 'x' } })).toBe(
      canonicalJson({ a: { c: 'x', d: [1, 2] }, b: 1 }),
    );
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it.each([
    {
      what: 'a changed justification',
      tamper: (e: StoredAuditEvent[]) => {
        e[2] = { ...e[2]!, details: { ...e[2]!.details, justification: 'nothing to see' } };
      },
      seq: 3,
      problem: 'does not match its hash',
    },
    {
      what: 'a changed actor',
      tamper: (e: StoredAuditEvent[]) => {
        e[1] = { ...e[1]!, actor: 'someone-else' };
      },
      seq: 2,
      problem: 'does not match its hash',
    },
    {
      what: 'a deleted event',
      tamper: (e: StoredAuditEvent[]) => {
        e.splice(2, 1);
      },
      seq: 4,
      problem: 'missing or out of order',
    },
    {
      what: 'a rewritten event with a recomputed hash',
      tamper: (e: StoredAuditEvent[]) => {
        const forged = linkAuditEvent({ ...e[2]!, actor: 'forger' }, e[1]);
        e[2] = forged;
      },
      seq: 4,
      problem: 'link to the previous event is wrong',
    },
    {
      what: 'two events swapped',
      tamper: (e: StoredAuditEvent[]) => {
        [e[1], e[2]] = [e[2]!, e[1]!];
      },
      seq: 3,
      problem: 'missing or out of order',
    },
  ])('verify finds $what at the first broken link', ({ tamper, seq, problem }) => {
    const events = chainOf(6);
    tamper(events);
    const result = verifyChain(events, events[0]!.chain);
    expect(result).toMatchObject({ ok: false, seq });
    expect(!result.ok && result.problem).toContain(problem);
  });

  it('a chain pruned by retention verifies from its anchor', () => {
    const events = chainOf(5);
    const anchor = { seq: events[1]!.seq, hash: events[1]!.hash };
    expect(verifyChain(events.slice(2), events[0]!.chain, anchor)).toMatchObject({
      ok: true,
      events: 3,
    });
    expect(verifyChain(events.slice(3), events[0]!.chain, anchor)).toMatchObject({
      ok: false,
      seq: 4,
    });
  });
});

describe('audit command line', () => {
  it.each([
    { args: [], command: { kind: 'help' } },
    { args: ['verify'], command: { kind: 'verify' } },
    { args: ['export'], command: { kind: 'export', format: 'json' } },
    {
      args: ['export', '--since', '2026-11-01', '--format', 'csv'],
      command: { kind: 'export', format: 'csv', since: new Date('2026-11-01') },
    },
  ])('$args', ({ args, command }) => {
    expect(parseAuditArgs(args)).toEqual(command);
  });

  it.each([
    { args: ['delete'], error: 'unknown command' },
    { args: ['verify', '--fix'], error: 'verify takes no options' },
    { args: ['export', '--since', 'yesterday'], error: 'ISO 8601' },
    { args: ['export', '--format', 'xml'], error: 'json or csv' },
    { args: ['export', '--since'], error: 'needs a value' },
    { args: ['export', '--since', '2026-11-02', '--until', '2026-11-01'], error: 'after' },
  ])('$args is refused: $error', ({ args, error }) => {
    expect(() => parseAuditArgs(args)).toThrow(error);
  });

  it('every CSV cell is quoted, whatever it holds, and formulas are defused', () => {
    expect(csvCell('plain')).toBe('"plain"');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
    expect(csvCell('=HYPERLINK("https://evil.example")')).toBe(
      '"\'=HYPERLINK(""https://evil.example"")"',
    );
    expect(csvCell('+1')).toBe('"\'+1"');
    expect(csvCell('2026-11-01T08:00:00.000Z')).toBe('"2026-11-01T08:00:00.000Z"');
    expect(csvCell(42)).toBe('"42"');
    expect(csvCell(null)).toBe('""');
  });
});
