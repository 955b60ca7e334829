/**
 * The sample tenant the simulated Power Platform API serves: a few environments people would ask
 * for ("Contoso Dev"), names that are easy to confuse, the default environment, and one
 * environment per failure shape, so every outcome can be reached by naming an environment.
 */
import { createHash } from 'node:crypto';

/** How applyAdminRole answers for an environment. */
export type AdminRoleBehavior =
  /** 200, `UserExists`, Description with the instance URL and the caller's systemuserid. */
  | 'grant'
  /** 400 flat: the environment has no Dataverse database (the real answer is unconfirmed). */
  | 'no-dataverse'
  /** 400 flat: the environment is disabled (the real answer is unconfirmed). */
  | 'disabled'
  /** 200 with errors[] userNotPartOfSecurityGroup plus an InnerException entry. */
  | 'security-group'
  /** 403 flat, innererror InsufficientPrincipalPermissions. */
  | 'missing-permission'
  /** 403 flat whose message says the caller is not a Global, Power Platform or Dynamics 365 admin. */
  | 'not-tenant-admin'
  /** 500 wrapped `{error: {code, message}}`. */
  | 'server-error'
  /** 502 HTML page, as a proxy sends it. */
  | 'proxy-error'
  /** 503 with an empty body and no Retry-After. */
  | 'unavailable'
  /** 404: listed, but deleted by the time of the call. */
  | 'deleted'
  /** 429 with `Retry-After: 1`. */
  | 'throttled';

export const ADMIN_ROLE_BEHAVIORS: readonly AdminRoleBehavior[] = [
  'grant',
  'no-dataverse',
  'disabled',
  'security-group',
  'missing-permission',
  'not-tenant-admin',
  'server-error',
  'proxy-error',
  'unavailable',
  'deleted',
  'throttled',
];

/** One environment as the simulator holds it: the list fields plus how it answers. */
export interface SimulatedEnvironment {
  /** A GUID, or `Default-<tenant GUID>`. */
  id: string;
  displayName: string;
  type: string;
  state: string;
  geo: string;
  azureRegion: string;
  /** Dataverse instance URL; absent for an environment without Dataverse. */
  url?: string;
  domainName?: string;
  dataverseId?: string;
  securityGroupId?: string;
  tenantId: string;
  createdDateTime: string;
  adminRole: AdminRoleBehavior;
}

/** The sample tenant ("Contoso"). */
export const SEED_TENANT_ID = '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8';

/** Environments tests refer to by name; each `id` is stable across runs. */
export const WELL_KNOWN = {
  contosoDev: { id: 'a8d2d8c5-2541-43b3-81db-73b5541a77b9', displayName: 'Contoso Dev' },
  contosoProd: { id: 'caf114fd-823b-4931-acf3-8cb3dfb77d5b', displayName: 'Contoso Prod' },
  /** Confusable with `contosoTestHyphen`. */
  contosoTest: { id: '6f51380e-7a9b-4615-a2bf-18c9193b32f6', displayName: 'Contoso Test' },
  /** Confusable with `contosoTest`. */
  contosoTestHyphen: { id: '40faf8a2-f5c0-4077-999b-a2770ec0a2f0', displayName: 'Contoso-Test' },
  /** The tenant's default environment: its id is not a GUID but `Default-<tenant GUID>`. */
  contosoDefault: { id: `Default-${SEED_TENANT_ID}`, displayName: 'Contoso (default)' },
  /** No Dataverse: no url, no domainName; cannot be elevated into. */
  noDataverse: {
    id: '514fa5d9-0223-44bb-af95-bef58b79eb3d',
    displayName: 'Contoso Flows (no Dataverse)',
  },
  /** state Disabled. */
  disabled: {
    id: 'f382a30c-bd57-431e-bb46-8f280e271761',
    displayName: 'Contoso Archive (disabled)',
  },
  /** A Dataverse for Teams environment. */
  teams: { id: '26970af4-ff57-459d-b3af-cd4f5a2e7c63', displayName: 'Contoso Marketing Team' },
  securityGroup: {
    id: 'a16b57d5-f1b2-4a6a-96c3-ad184fb098f4',
    displayName: 'Fabrikam Security Group',
  },
  missingPermission: {
    id: 'abe4bd4e-c8df-4bb9-ab2a-bfc7933fd80c',
    displayName: 'Fabrikam Missing Permission',
  },
  notTenantAdmin: {
    id: '16a82fd6-b418-41ff-a0e5-ed766f87de81',
    displayName: 'Fabrikam Not Tenant Admin',
  },
  serverError: { id: '6ed8beef-813c-40d7-baf7-5f776e7be525', displayName: 'Fabrikam Server Error' },
  proxyError: { id: '7b572a91-0525-46aa-9e30-283ba9ef3b21', displayName: 'Fabrikam Proxy Error' },
  unavailable: { id: 'f07da227-c5c5-4603-bd6a-14ef9358d185', displayName: 'Fabrikam Unavailable' },
  deleted: { id: 'a9443cd5-cf3c-4e96-88fc-a8dfdd5a2a7a', displayName: 'Fabrikam Deleted' },
  throttled: { id: '8e78f4a1-fb08-48b2-8207-d6d85ad746d3', displayName: 'Fabrikam Throttled' },
} as const;

export type WellKnownName = keyof typeof WELL_KNOWN;

/** Readable shorthand for the seed table below. */
interface Row {
  id?: string;
  name: string;
  type: string;
  /** Dataverse org label; the URL is built from it. Omit for no Dataverse. */
  org?: string;
  geo?: keyof typeof REGIONS;
  state?: string;
  adminRole?: AdminRoleBehavior;
}

const REGIONS = {
  unitedstates: { azureRegion: 'westus', crm: 'crm' },
  europe: { azureRegion: 'westeurope', crm: 'crm4' },
  asia: { azureRegion: 'southeastasia', crm: 'crm5' },
  canada: { azureRegion: 'canadacentral', crm: 'crm3' },
  unitedkingdom: { azureRegion: 'uksouth', crm: 'crm11' },
} as const;

const W = WELL_KNOWN;

/** The order is the list order: confusable names land on different pages of ten. */
const ROWS: Row[] = [
  { ...ref(W.contosoDefault), type: 'Default', org: 'org6d1f0e2a' },
  { ...ref(W.contosoDev), type: 'Sandbox', org: 'contoso-dev' },
  { ...ref(W.contosoProd), type: 'Production', org: 'contoso' },
  { ...ref(W.contosoTest), type: 'Sandbox', org: 'contoso-test' },
  { name: 'Northwind Sales', type: 'Production', org: 'northwind-sales' },
  {
    ...ref(W.securityGroup),
    type: 'Production',
    org: 'fabrikam-secgroup',
    adminRole: 'security-group',
  },
  { name: 'Adventure Works HR', type: 'Production', org: 'adventureworks-hr', geo: 'europe' },
  { ...ref(W.noDataverse), type: 'Production', adminRole: 'no-dataverse' },
  { name: 'Tailspin Toys Trial', type: 'Trial', org: 'tailspin-trial' },
  {
    ...ref(W.missingPermission),
    type: 'Sandbox',
    org: 'fabrikam-perm',
    adminRole: 'missing-permission',
  },
  { name: 'Wide World Importers', type: 'Production', org: 'wideworld', geo: 'asia' },
  {
    ...ref(W.notTenantAdmin),
    type: 'Production',
    org: 'fabrikam-admin',
    adminRole: 'not-tenant-admin',
  },
  {
    ...ref(W.disabled),
    type: 'Sandbox',
    org: 'contoso-archive',
    state: 'Disabled',
    adminRole: 'disabled',
  },
  { name: 'Woodgrove Finance', type: 'Production', org: 'woodgrove-fin', geo: 'unitedkingdom' },
  { ...ref(W.serverError), type: 'Sandbox', org: 'fabrikam-500', adminRole: 'server-error' },
  { name: 'Northwind Sales Dev', type: 'Sandbox', org: 'northwind-sales-dev' },
  { ...ref(W.proxyError), type: 'Production', org: 'fabrikam-proxy', adminRole: 'proxy-error' },
  { ...ref(W.contosoTestHyphen), type: 'Developer', org: 'contosotest', geo: 'europe' },
  { name: 'Litware Developer', type: 'Developer', org: 'litware-dev' },
  { ...ref(W.unavailable), type: 'Sandbox', org: 'fabrikam-503', adminRole: 'unavailable' },
  { name: 'Alpine Ski House', type: 'Production', org: 'alpineskihouse', geo: 'canada' },
  { ...ref(W.teams), type: 'Teams', org: 'orgteams7c4b' },
  { ...ref(W.deleted), type: 'Sandbox', org: 'fabrikam-deleted', adminRole: 'deleted' },
  {
    name: 'Woodgrove Finance Test',
    type: 'Sandbox',
    org: 'woodgrove-fin-test',
    geo: 'unitedkingdom',
  },
  { name: 'Fourth Coffee', type: 'Trial', org: 'fourthcoffee' },
  { ...ref(W.throttled), type: 'Production', org: 'fabrikam-429', adminRole: 'throttled' },
  { name: 'Proseware Sandbox', type: 'Sandbox', org: 'proseware' },
  { name: 'Adventure Works HR UAT', type: 'Sandbox', org: 'adventureworks-hr-uat', geo: 'europe' },
  { name: 'Contoso Marketing', type: 'Production', org: 'contoso-mkt' },
  { name: 'Contoso Marketing Dev', type: 'Sandbox', org: 'contoso-mkt-dev' },
];

/** The sample tenant's environments, in list order (a fresh copy each call). */
export function defaultSeed(): SimulatedEnvironment[] {
  return ROWS.map((row, index) => environment(row, index));
}

/**
 * `count` synthetic environments ("Synthetic 00001", ...) that all grant, for scale tests:
 * `startPowerPlatformSimulator({ seed: [...defaultSeed(), ...seedMany(10_000)] })`.
 */
export function seedMany(count: number, tenantId: string = SEED_TENANT_ID): SimulatedEnvironment[] {
  const types = ['Production', 'Sandbox', 'Developer', 'Trial'];
  return Array.from({ length: count }, (_, index) => {
    const number = String(index + 1).padStart(5, '0');
    return environment(
      {
        id: guidFrom(`synthetic:${tenantId}:${number}`),
        name: `Synthetic ${number}`,
        type: types[index % types.length] ?? 'Sandbox',
        org: `synthetic-${number}`,
      },
      index,
      tenantId,
    );
  });
}

/** A stable GUID-shaped id derived from any text (the same text, the same id). */
export function guidFrom(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function ref(known: { id: string; displayName: string }): Pick<Row, 'id' | 'name'> {
  return { id: known.id, name: known.displayName };
}

function environment(row: Row, index: number, tenantId = SEED_TENANT_ID): SimulatedEnvironment {
  const geo = row.geo ?? 'unitedstates';
  const region = REGIONS[geo];
  const id = row.id ?? guidFrom(`seed:${row.name}`);
  const created = new Date(Date.UTC(2023, 0, 1) + index * 86_400_000 * 7).toISOString();
  return {
    id,
    displayName: row.name,
    type: row.type,
    state: row.state ?? 'Enabled',
    geo,
    azureRegion: region.azureRegion,
    ...(row.org !== undefined && {
      url: `https://${row.org}.${region.crm}.dynamics.com/`,
      domainName: row.org,
      dataverseId: guidFrom(`dataverse:${id}`),
    }),
    securityGroupId:
      row.type === 'Default' || row.type === 'Teams' ? undefined : guidFrom(`group:${id}`),
    tenantId,
    createdDateTime: created,
    adminRole: row.adminRole ?? 'grant',
  };
}
