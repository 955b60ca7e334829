/** Reads a card action's data, which comes from the client and may hold anything. */

/** A string field of an action's data; undefined when absent or not a string. */
export function field(data: unknown, name: string): string | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const value = (data as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}
