/**
 * One structured logger for the whole bot: JSON lines, child loggers carrying context (correlation
 * ids, request ids), and redaction so that tokens and secrets never reach a log line.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Lowest level written. */
  level?: LogLevel;
  /** Where lines go; stdout by default. Tests pass a function to capture them. */
  sink?: (line: string) => void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names whose values are never logged, whatever they hold. */
const SECRET_KEY = /token|authorization|secret|password|assertion|cookie|client_?key/i;
/** Anything shaped like a JWT (three base64url parts, header starting with '{"'). */
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
/** Bearer credentials written inside free text. */
const BEARER = /(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

/** Removes anything token-like from a string. Exported for error messages shown to people. */
export function redactText(text: string): string {
  return text.replace(JWT, '[redacted-jwt]').replace(BEARER, '$1[redacted]');
}

/** Deep copy of a value with secrets replaced; safe on cycles and Error objects. */
export function redact(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    return { name: value.name, message: redactText(value.message) };
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, seen));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(item, seen);
  }
  return out;
}

export function createLogger(options: LoggerOptions = {}, context: LogFields = {}): Logger {
  const threshold = ORDER[options.level ?? 'info'];
  const sink = options.sink ?? ((line: string) => process.stdout.write(line + '\n'));
  const write = (level: LogLevel, message: string, fields?: LogFields) => {
    if (ORDER[level] < threshold) return;
    const entry = redact({
      time: new Date().toISOString(),
      level,
      msg: message,
      ...context,
      ...fields,
    });
    sink(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(options, { ...context, ...fields }),
  };
}

/** A logger that writes nothing (for code paths that have no logger wired yet). */
export const silentLogger: Logger = createLogger({ sink: () => undefined });
