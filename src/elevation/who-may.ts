/**
 * Who may do what, one function per rule, so that each rule is read, tested and changed in one
 * place. The Teams layer asks before it acts on a message or a click; a refusal is its to word.
 * People are compared by Entra object id only (never by display name), in any case.
 */
import type { ElevationRequest, Requester } from './request';

function samePerson(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function isBotAdministrator(user: Requester, botAdminIds: readonly string[]): boolean {
  return botAdminIds.some((id) => samePerson(id, user.aadObjectId));
}

/**
 * The tenant allow-list (ALLOWED_TENANT_IDS, lower case): users of any other organisation get
 * nothing from the bot. An empty list (`*`) allows every tenant.
 */
export function tenantAllowed(user: Requester, allowedTenantIds: readonly string[]): boolean {
  return allowedTenantIds.length === 0 || allowedTenantIds.includes(user.tenantId.toLowerCase());
}

/** Reading an environment's audit (`audit <environment>` and its pages): the bot's administrators only (BOT_ADMIN_IDS). */
export function mayReadAudit(user: Requester, botAdminIds: readonly string[]): boolean {
  return isBotAdministrator(user, botAdminIds);
}

/** `who is elevated` (every active elevation of the tenant): the bot's administrators only (BOT_ADMIN_IDS). */
export function mayListTenantElevations(user: Requester, botAdminIds: readonly string[]): boolean {
  return isBotAdministrator(user, botAdminIds);
}

/**
 * `policy` (every rule of the policy, where it came from): the bot's administrators only
 * (BOT_ADMIN_IDS). `policy <environment>` (the one rule that applies there) is for anyone.
 */
export function mayReadPolicy(user: Requester, botAdminIds: readonly string[]): boolean {
  return isBotAdministrator(user, botAdminIds);
}

/**
 * I'm done, Remove now and Extend on an elevation (its status card, reminder, the `elevations`
 * list): its requester only, as for the request's other buttons.
 */
export function mayEndOrExtend(clicker: Requester, request: ElevationRequest): boolean {
  return mayActOnRequest(clicker, request);
}

/** Subscribing a channel or stopping its notifications: the bot's administrators only (BOT_ADMIN_IDS). */
export function mayChangeNotifications(user: Requester, botAdminIds: readonly string[]): boolean {
  return isBotAdministrator(user, botAdminIds);
}

/**
 * Elevate, Cancel and Try again on a request's card: its requester only, in the tenant they asked
 * from. Anyone else in a group chat sees the same buttons.
 */
export function mayActOnRequest(clicker: Requester, request: ElevationRequest): boolean {
  return (
    samePerson(request.requester.aadObjectId, clicker.aadObjectId) &&
    samePerson(request.requester.tenantId, clicker.tenantId)
  );
}

/**
 * Picking an environment on a picker card (which opens a request for the clicker): the person who
 * asked, whom the card names. A card that names nobody may be used by whoever clicks it, since the
 * request it opens is theirs.
 */
export function mayPickEnvironment(
  clicker: Requester,
  cardRequesterId: string | undefined,
): boolean {
  return !cardRequesterId || samePerson(cardRequesterId, clicker.aadObjectId);
}

/** Cancel on a picker card: the person who asked, whom the card names (a card that names nobody, anyone). */
export function mayClosePicker(clicker: Requester, cardRequesterId: string | undefined): boolean {
  return cardRequesterId === undefined || samePerson(cardRequesterId, clicker.aadObjectId);
}

/**
 * "Yes, elevate me" on a typo suggestion ("Did you mean ..."): the person who typed it only; a
 * card that names nobody runs for nobody.
 */
export function mayRunSuggestion(clicker: Requester, cardRequesterId: string | undefined): boolean {
  return !!cardRequesterId && samePerson(cardRequesterId, clicker.aadObjectId);
}
