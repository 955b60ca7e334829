/**
 * The only environment ids the bot ever puts into a URL. Everything else (names, URLs, "../x",
 * percent-encoded slashes) is refused before a URL is built, so no input can reach another path.
 */

const GUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** A GUID, or `Default-<tenant GUID>`: the tenant's default environment is not named by a GUID. */
const ENVIRONMENT_ID = new RegExp(`^(?:default-)?${GUID}$`, 'i');

/** True only for a GUID or `Default-<GUID>` (any letter case), with nothing before or after. */
export function isEnvironmentId(value: unknown): value is string {
  return typeof value === 'string' && ENVIRONMENT_ID.test(value);
}
