import { isEnvironmentId } from '../../../src/powerplatform/environment-id';

const GUID = '6f51380e-7a9b-4615-a2bf-18c9193b32f6';

describe('which environment ids may reach a URL', () => {
  it.each([
    ['a lower-case GUID', GUID],
    ['an upper-case GUID', GUID.toUpperCase()],
    ['the default environment', `Default-${GUID}`],
    ['the default environment in any letter case', `default-${GUID.toUpperCase()}`],
    ['the default environment shouted', `DEFAULT-${GUID}`],
  ])('accepts %s', (_label, id) => {
    expect(isEnvironmentId(id)).toBe(true);
  });

  it.each([
    ['an empty string', ''],
    ['a display name', 'Contoso Dev'],
    ['a parent-directory escape', '../x'],
    ['a GUID followed by a path escape', `${GUID}/../../admin`],
    ['a GUID preceded by a path escape', `../${GUID}`],
    ['an encoded slash', `${GUID}%2F..%2Fx`],
    ['an encoded slash before the GUID', `%2F${GUID}`],
    ['a GUID with a suffix', `${GUID}x`],
    ['a GUID with a query', `${GUID}?api-version=1`],
    ['a GUID with a fragment', `${GUID}#x`],
    ['a GUID with a trailing newline', `${GUID}\n`],
    ['a GUID with surrounding spaces', ` ${GUID} `],
    ['a GUID in braces', `{${GUID}}`],
    ['a GUID without dashes', GUID.replace(/-/g, '')],
    ['a GUID with a non-hex letter', GUID.replace(/^6/, 'g')],
    ['a GUID one character short', GUID.slice(0, -1)],
    ['Default- with nothing after it', 'Default-'],
    ['Default- with a display name', 'Default-Contoso'],
    ['another prefix', `Prod-${GUID}`],
    ['a doubled Default- prefix', `Default-Default-${GUID}`],
    ['a Dataverse URL', 'https://contoso-dev.crm.dynamics.com'],
    ['two GUIDs', `${GUID}/${GUID}`],
  ])('refuses %s', (_label, id) => {
    expect(isEnvironmentId(id)).toBe(false);
  });

  it('refuses values that are not strings', () => {
    expect(isEnvironmentId(undefined)).toBe(false);
    expect(isEnvironmentId(null)).toBe(false);
    expect(isEnvironmentId(42)).toBe(false);
    expect(isEnvironmentId({ toString: () => GUID })).toBe(false);
  });
});
