/**
 * The sandbox's people: the Agents Playground's mock users, given real GUIDs (the SSO token
 * validator accepts nothing else) and directory roles, so that the sandbox can show both a tenant
 * admin elevating and someone who is not one being refused.
 */
import { SEED_TENANT_ID } from './power-platform-simulator';
import { TENANT_ADMIN_ROLES } from '../identity/admin-roles';

export interface SandboxUser {
  /** The Playground's user id (from.id). */
  id: string;
  name: string;
  upn: string;
  /** Entra object id. */
  oid: string;
  /** Directory role template ids in the user's tokens. */
  wids: string[];
}

function role(name: string): string {
  const found = TENANT_ADMIN_ROLES.find((r) => r.name === name);
  if (!found) throw new Error(`unknown role ${name}`);
  return found.templateId;
}

export const SANDBOX_TENANT_ID = SEED_TENANT_ID;
/** The sandbox's own SSO app (stands for AAD_APP_CLIENT_ID). */
export const SANDBOX_APP_ID = '5a1d0e6b-1c3f-4d2e-9b8a-7c6d5e4f3a21';

/** Alex is the Playground's current user; the first five others are its other mock users. */
export const SANDBOX_USERS: readonly SandboxUser[] = [
  {
    id: 'user-id-0',
    name: 'Alex Wilber',
    upn: 'alexw@contoso.example',
    oid: '0c3b2a19-8f7e-4d6c-9b5a-1e2d3c4b5a60',
    wids: [role('Power Platform Administrator')],
  },
  {
    id: 'user-id-1',
    name: 'Megan Bowen',
    upn: 'meganb@contoso.example',
    oid: '1d4c3b2a-9e8f-4a7b-8c6d-2f3e4d5c6b71',
    wids: [role('Global Administrator')],
  },
  {
    id: 'user-id-2',
    name: 'Adele Vance',
    upn: 'adelev@contoso.example',
    oid: '2e5d4c3b-0a9f-4b8c-9d7e-3a4f5e6d7c82',
    wids: [role('Dynamics 365 Administrator')],
  },
  // Not a tenant admin: shows the refusal before any API call.
  {
    id: 'user-id-3',
    name: 'Isaiah Langer',
    upn: 'isaiahl@contoso.example',
    oid: '3f6e5d4c-1b0a-4c9d-8e8f-4b5a6f7e8d93',
    wids: [],
  },
  {
    id: 'user-id-4',
    name: 'Patti Fernandez',
    upn: 'pattif@contoso.example',
    oid: '4a7f6e5d-2c1b-4d0e-9f9a-5c6b7a8f9ea4',
    wids: [role('Power Platform Administrator')],
  },
  {
    id: 'user-id-5',
    name: 'Lynne Robbins',
    upn: 'lynner@contoso.example',
    oid: '5b8a7f6e-3d2c-4e1f-8a0b-6d7c8b9a0fb5',
    wids: [role('Power Platform Administrator')],
  },
];

/**
 * Who holds System Administrator in an environment before any elevation (the Dataverse simulator
 * says so whatever the grants): Lynne in Contoso Dev, so that the sandbox shows a role the bot
 * did not grant and therefore leaves in place when a time-boxed elevation ends.
 */
export const SANDBOX_HELD_ROLES: ReadonlyArray<{ org: string; oid: string }> = [
  { org: 'contoso-dev', oid: SANDBOX_USERS[5]!.oid },
];

/** Who the Playground signs in as; in the sandbox, also the one who manages notifications. */
export const PLAYGROUND_CURRENT_USER: SandboxUser = SANDBOX_USERS[0]!;

function yamlUser(user: SandboxUser): string {
  const [given, ...rest] = user.name.split(' ');
  return `{ id: ${user.id}, name: ${user.name}, userPrincipleName: ${user.upn}, aadObjectId: ${user.oid}, givenName: ${given}, surname: ${rest.join(' ')}, email: ${user.upn} }`;
}

/** The Playground's configuration file (its schema spells `userPrincipleName` so, and wants five users). */
export function playgroundConfigYaml(): string {
  const others = SANDBOX_USERS.filter((u) => u !== PLAYGROUND_CURRENT_USER);
  return [
    'version: "0.1.1"',
    `tenantId: ${SANDBOX_TENANT_ID}`,
    'bot: { id: 00000000-0000-0000-0000-00000000b07b, name: Elevation Bot }',
    `currentUser: ${yamlUser(PLAYGROUND_CURRENT_USER)}`,
    'users:',
    ...others.map((u) => `  - ${yamlUser(u)}`),
    'personalChat: { id: personal-chat }',
    'groupChat: { id: group-chat, name: Group Chat }',
    'team:',
    '  id: "19:my-team-general@thread.tacv2"',
    '  name: My Team',
    '  aadGroupId: 7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
    '  channels: [ { id: "19:my-team-announcements@thread.tacv2", name: Announcements } ]',
    '',
  ].join('\n');
}
