/**
 * Test-only overrides of how the simulator answers, written as `key=value;key=value`, sent in the
 * `x-sim-behavior` request header or registered with `simulator.override(spec)`:
 *
 *   status=<100-599>    answer with this status (4xx/5xx: a flat error body unless body= says else)
 *   body=<shape>        flat | wrapped | envelope-error | html | text | empty | neither
 *                       (neither = 2xx `{"errors":[],"information":[]}`); alone, status is 200
 *   retry-after=<value> add a Retry-After header (seconds or an HTTP date), verbatim
 *   delay-ms=<n>        wait n ms before answering (for timeouts)
 *   reset               close the connection without answering (for connection failures)
 *   as=<behavior>       answer applyAdminRole like a seeded environment (e.g. as=security-group)
 *   times=<n>           apply to the first n matching requests only, then answer normally; from
 *                       the header, counted per x-ms-client-request-id (so per call, retries included)
 */
import { ADMIN_ROLE_BEHAVIORS, AdminRoleBehavior } from './seed';

export type BodyShapeOverride =
  'flat' | 'wrapped' | 'envelope-error' | 'html' | 'text' | 'empty' | 'neither';

const BODY_SHAPES: readonly BodyShapeOverride[] = [
  'flat',
  'wrapped',
  'envelope-error',
  'html',
  'text',
  'empty',
  'neither',
];

export interface SimBehavior {
  status?: number;
  body?: BodyShapeOverride;
  retryAfter?: string;
  delayMs?: number;
  reset?: boolean;
  as?: AdminRoleBehavior;
  times?: number;
  /** Answer without an `x-ms-correlation-id` header (the bot must say so, not show nothing). */
  noCorrelationId?: boolean;
}

/** The parsed behaviour, or the reason the spec is wrong (answered as a 400 so tests fail loudly). */
export function parseSimBehavior(spec: string): SimBehavior | { error: string } {
  const behavior: SimBehavior = {};
  for (const part of spec.split(';')) {
    const directive = part.trim();
    if (directive.length === 0) continue;
    const equals = directive.indexOf('=');
    const key = (equals < 0 ? directive : directive.slice(0, equals)).trim().toLowerCase();
    const value = equals < 0 ? '' : directive.slice(equals + 1).trim();
    switch (key) {
      case 'status': {
        const status = wholeNumber(value);
        if (status === undefined || status < 100 || status > 599) return bad(directive);
        behavior.status = status;
        break;
      }
      case 'body':
        if (!BODY_SHAPES.includes(value as BodyShapeOverride)) return bad(directive);
        behavior.body = value as BodyShapeOverride;
        break;
      case 'retry-after':
        if (value.length === 0) return bad(directive);
        behavior.retryAfter = value;
        break;
      case 'delay-ms':
        behavior.delayMs = wholeNumber(value);
        if (behavior.delayMs === undefined) return bad(directive);
        break;
      case 'times':
        behavior.times = wholeNumber(value);
        if (behavior.times === undefined) return bad(directive);
        break;
      case 'reset':
        behavior.reset = true;
        break;
      case 'no-correlation-id':
        behavior.noCorrelationId = true;
        break;
      case 'as':
        if (!ADMIN_ROLE_BEHAVIORS.includes(value as AdminRoleBehavior)) return bad(directive);
        behavior.as = value as AdminRoleBehavior;
        break;
      default:
        return bad(directive);
    }
  }
  return behavior;
}

function wholeNumber(value: string): number | undefined {
  return /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

function bad(directive: string): { error: string } {
  return { error: `x-sim-behavior: cannot read "${directive}"` };
}
