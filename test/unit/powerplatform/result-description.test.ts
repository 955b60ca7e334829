import {
  parseResultDescription,
  readResultEnvelope,
} from '../../../src/powerplatform/result-envelope';

const SYSTEM_USER = '0b5e4c1f-6d6a-4f2e-9a57-5d8f3e0c7a11';
const OID = '9f1c2b3a-4d5e-4f60-8a7b-1c2d3e4f5a6b';
const LINES = [
  'SyncMode: Default',
  'Instance 1f0e9d8c-7b6a-4594-8372-615049382716 exists',
  'Instance Url found https://org123.crm.dynamics.com',
  'User found in AD tenant',
  `SystemUser with Id:${SYSTEM_USER}, objectId:${OID} exists in instance`,
];

describe('reading the success Description', () => {
  it('reads the JSON array encoded inside the string', () => {
    expect(parseResultDescription(JSON.stringify(LINES))).toEqual({
      lines: LINES,
      instanceUrl: 'https://org123.crm.dynamics.com',
      systemUserId: SYSTEM_USER,
    });
  });

  it('reads it from the raw response body, where it is escaped once more', () => {
    const body = JSON.stringify({
      errors: [],
      information: [{ Subject: 'Result', Description: JSON.stringify(LINES), Code: 'UserExists' }],
    });
    const envelope = readResultEnvelope(JSON.parse(body));
    const description = envelope?.information[0]?.description ?? '';
    expect(parseResultDescription(description).systemUserId).toBe(SYSTEM_USER);
  });

  it('tolerates a doubly encoded array', () => {
    const result = parseResultDescription(JSON.stringify(JSON.stringify(LINES)));
    expect(result.instanceUrl).toBe('https://org123.crm.dynamics.com');
    expect(result.lines).toHaveLength(5);
  });

  it('still finds the facts in a Description that is not JSON', () => {
    const result = parseResultDescription(
      `Instance Url found https://contoso.crm4.dynamics.com. SystemUser with Id:${SYSTEM_USER.toUpperCase()}, objectId:${OID}`,
    );
    expect(result.instanceUrl).toBe('https://contoso.crm4.dynamics.com');
    expect(result.systemUserId).toBe(SYSTEM_USER);
    expect(result.lines).toHaveLength(1);
  });

  it('leaves the facts out when the Description does not give them', () => {
    expect(parseResultDescription('["SyncMode: Default","User found in AD tenant"]')).toEqual({
      lines: ['SyncMode: Default', 'User found in AD tenant'],
      instanceUrl: undefined,
      systemUserId: undefined,
    });
    expect(parseResultDescription('')).toEqual({
      lines: [],
      instanceUrl: undefined,
      systemUserId: undefined,
    });
  });

  it('does not take a malformed id for a systemuserid', () => {
    expect(
      parseResultDescription('["SystemUser with Id:not-a-guid, objectId:x"]').systemUserId,
    ).toBeUndefined();
  });

  it('reads the envelope only from values that have errors or information arrays', () => {
    expect(readResultEnvelope({ code: 'x' })).toBeUndefined();
    expect(readResultEnvelope([])).toBeUndefined();
    expect(readResultEnvelope(null)).toBeUndefined();
    expect(readResultEnvelope({ information: [{ Code: 'UserExists', Description: 'd' }] })).toEqual(
      {
        errors: [],
        information: [{ code: 'UserExists', description: 'd', subject: undefined }],
      },
    );
  });
});
