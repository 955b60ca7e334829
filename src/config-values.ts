/**
 * Reading one setting from the environment, each kind with its rule (a flag, an integer within
 * bounds, a GUID, an https URL, a key), and the error that names the setting. config.ts builds
 * the whole configuration from these.
 */
import { isIP } from 'node:net';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Configuration error: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

export function oneOf<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = text(env, name);
  if (value === undefined) return fallback;
  const match = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (!match) throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got "${value}")`);
  return match;
}

export function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = text(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${value}")`);
  }
  return Number(value);
}

export function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = text(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(name, `must be true or false (got "${value}")`);
}

export function httpsUrl(env: Env, name: string, fallback: string, allowHttp: boolean): string {
  const value = text(env, name) ?? fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, `must be an absolute URL (got "${value}")`);
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw new ConfigError(name, `must be an https URL (got "${value}")`);
  }
  return value.replace(/\/+$/, '');
}

/**
 * A stand-in server for the sandbox: https, or http on a loopback address (a local fake); only
 * in sandbox mode, where nothing else would read it.
 */
export function sandboxUrl(env: Env, name: string, sandbox: boolean): string | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  if (!sandbox) throw new ConfigError(name, 'only applies with SANDBOX=true');
  const url = httpsUrl(env, name, value, true);
  const { protocol, hostname } = new URL(url);
  if (protocol === 'http:' && !isLoopback(hostname.replace(/^\[|\]$/g, ''))) {
    throw new ConfigError(name, `must be https, or http on a loopback address (got "${value}")`);
  }
  return url;
}

export function guid(env: Env, name: string): string | undefined {
  const value = text(env, name);
  if (value !== undefined && !GUID.test(value)) {
    throw new ConfigError(name, `must be a GUID (got "${value}")`);
  }
  return value;
}

export function guidList(env: Env, name: string): string[] {
  const value = text(env, name);
  if (value === undefined) return [];
  const ids = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const id of ids) {
    if (!GUID.test(id))
      throw new ConfigError(name, `must be a comma-separated list of GUIDs (got "${id}")`);
  }
  return ids;
}

/** 32 bytes, written as 64 hex digits or in base64 (`openssl rand -base64 32`). */
export function aesKey(env: Env, name: string): Buffer | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  const key = /^[0-9a-f]{64}$/i.test(value)
    ? Buffer.from(value, 'hex')
    : /^[A-Za-z0-9+/]{43}=?$/.test(value)
      ? Buffer.from(value, 'base64')
      : undefined;
  if (!key || key.length !== 32) {
    throw new ConfigError(
      name,
      'must be 32 random bytes, as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)',
    );
  }
  return key;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export function isLoopbackUrl(value: string): boolean {
  try {
    return isLoopback(new URL(value).hostname.replace(/^\[|\]$/g, ''));
  } catch {
    return false;
  }
}
