import { parseErrorBody } from '../../../src/powerplatform/error-body';

const JWT =
  'eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiIxMjM0NTY3OCIsInVwbiI6ImFAYi5jIn0.c2lnbmF0dXJlLXBhcnQtaGVyZQ';
const NOT_ADMIN =
  'Unable to assign System Administrator security role as the user is not either a Global admin, Power Platform admin, or Dynamics 365 admin.';

describe('reading error bodies', () => {
  it('reads the flat gateway error, keeping the inner code as the most specific one', () => {
    const body = parseErrorBody(
      JSON.stringify({
        code: 'Forbidden',
        message: 'The caller is not authorized to perform the request.',
        innererror: {
          code: 'InsufficientPrincipalPermissions',
          message:
            'Authorization denied: Principal missing required permissions: [UserManagement.Users.Apply]',
        },
      }),
    );
    expect(body).toEqual({
      shape: 'flat',
      errorCode: 'InsufficientPrincipalPermissions',
      codes: ['Forbidden', 'InsufficientPrincipalPermissions'],
      message: 'The caller is not authorized to perform the request.',
      details: [
        'InsufficientPrincipalPermissions: Authorization denied: Principal missing required permissions: [UserManagement.Users.Apply]',
      ],
      notTenantAdmin: false,
    });
  });

  it('reads ApiVersionInvalid, whose inner error has a code and no message', () => {
    const body = parseErrorBody(
      JSON.stringify({
        code: 'ApiVersionInvalid',
        message: 'API version 1999-01-01 is not supported. Supported API versions are: 2024-10-01.',
        innererror: { code: 'ApiVersionUnsupported' },
      }),
    );
    expect(body.codes).toEqual(['ApiVersionInvalid', 'ApiVersionUnsupported']);
    expect(body.message).toContain('Supported API versions are: 2024-10-01');
    expect(body.details).toEqual(['ApiVersionUnsupported']);
  });

  it('follows nested inner errors', () => {
    const body = parseErrorBody(
      JSON.stringify({
        code: 'A',
        message: 'outer',
        innererror: { code: 'B', message: 'middle', innererror: { code: 'C', message: 'inner' } },
      }),
    );
    expect(body.errorCode).toBe('C');
    expect(body.details).toEqual(['B: middle', 'C: inner']);
  });

  it('reads the wrapped {error: {...}} form, with OData details', () => {
    const body = parseErrorBody(
      JSON.stringify({
        error: {
          code: 'InternalServerError',
          message: 'Something broke.',
          details: [{ code: 'Dependency', message: 'The role service did not answer' }],
        },
      }),
    );
    expect(body).toMatchObject({
      shape: 'wrapped',
      errorCode: 'Dependency',
      codes: ['InternalServerError', 'Dependency'],
      message: 'Something broke.',
      details: ['Dependency: The role service did not answer'],
    });
  });

  it('reads the errors[] envelope: first error as the message, the rest as details', () => {
    const body = parseErrorBody(
      JSON.stringify({
        errors: [
          {
            Subject: 'Result',
            Description: 'User a@contoso.com is not part of security group 1234',
            Code: 'userNotPartOfSecurityGroup',
          },
          { Subject: 'InnerException', Description: 'Membership lookup failed', Code: 'x' },
        ],
        information: [],
      }),
    );
    expect(body).toMatchObject({
      shape: 'envelope',
      errorCode: 'userNotPartOfSecurityGroup',
      message: 'User a@contoso.com is not part of security group 1234',
      details: ['InnerException: Membership lookup failed'],
      notTenantAdmin: false,
    });
  });

  it('reads envelope entries whatever the letter case of their fields', () => {
    const body = parseErrorBody(
      JSON.stringify({ errors: [{ subject: 'Result', description: 'lower case', code: 'c1' }] }),
    );
    expect(body.errorCode).toBe('c1');
    expect(body.message).toBe('lower case');
  });

  it('says so when an envelope lists no errors', () => {
    const body = parseErrorBody(
      JSON.stringify({
        errors: [],
        information: [{ Subject: 'Result', Description: 'x', Code: 'Other' }],
      }),
    );
    expect(body.shape).toBe('envelope');
    expect(body.errorCode).toBeUndefined();
    expect(body.message).toBe('The response listed no errors');
  });

  it.each([
    ['flat', { code: 'Forbidden', message: NOT_ADMIN }],
    ['wrapped', { error: { code: 'Forbidden', message: NOT_ADMIN } }],
    ['envelope', { errors: [{ Subject: 'Result', Description: NOT_ADMIN, Code: 'x' }] }],
    [
      'inner error',
      { code: 'Forbidden', message: 'No.', innererror: { code: 'X', message: NOT_ADMIN } },
    ],
  ])('recognises the not-tenant-admin refusal in the %s form', (_shape, value) => {
    expect(parseErrorBody(JSON.stringify(value)).notTenantAdmin).toBe(true);
  });

  it('recognises the not-tenant-admin refusal in plain text', () => {
    expect(parseErrorBody(NOT_ADMIN).notTenantAdmin).toBe(true);
  });

  it('does not take other refusals for not-tenant-admin', () => {
    const body = parseErrorBody(
      JSON.stringify({ code: 'Forbidden', message: 'The user is not an admin.' }),
    );
    expect(body.notTenantAdmin).toBe(false);
  });

  it('summarises an HTML page from a proxy by its title', () => {
    const body = parseErrorBody(
      '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>',
    );
    expect(body).toMatchObject({
      shape: 'html',
      codes: [],
      message: 'The response was an HTML page ("502 Bad Gateway"), not JSON',
    });
  });

  it('summarises an HTML page without a title by its text', () => {
    const body = parseErrorBody('<html><body><p>Service   down</p></body></html>');
    expect(body.message).toBe('The response was an HTML page ("Service down"), not JSON');
  });

  it('quotes the start of a plain-text body', () => {
    const body = parseErrorBody('upstream connect error or disconnect/reset before headers');
    expect(body.shape).toBe('text');
    expect(body.message).toBe(
      'The response was not JSON: "upstream connect error or disconnect/reset before headers"',
    );
  });

  it.each([
    ['empty', ''],
    ['whitespace', '  \r\n '],
  ])('reads an %s body as empty', (_label, text) => {
    expect(parseErrorBody(text)).toEqual({
      shape: 'empty',
      codes: [],
      message: 'The response body was empty',
      details: [],
      notTenantAdmin: false,
    });
  });

  it('reads other JSON forms by their usual message fields', () => {
    expect(parseErrorBody('{"Message":"An error has occurred."}').message).toBe(
      'An error has occurred.',
    );
    expect(
      parseErrorBody('{"error":"invalid_grant","error_description":"AADSTS50173"}'),
    ).toMatchObject({
      errorCode: 'invalid_grant',
      message: 'AADSTS50173',
    });
    expect(parseErrorBody('{"title":"Not Found","status":404}').message).toBe('Not Found');
    expect(parseErrorBody('"just a string"').message).toBe('just a string');
    expect(parseErrorBody('[1,2]').message).toBe('The response was JSON of an unknown form');
  });

  it('never lets a token through into the message or details', () => {
    const body = parseErrorBody(
      JSON.stringify({
        code: 'Unauthorized',
        message: `Token ${JWT} is invalid`,
        innererror: { code: 'X', message: `Authorization: Bearer ${JWT}` },
      }),
    );
    expect(JSON.stringify(body)).not.toContain(JWT);
    expect(body.message).toContain('[redacted-jwt]');
    expect(parseErrorBody(`<html><title>${JWT}</title></html>`).message).not.toContain(JWT);
  });

  it('caps a very long message', () => {
    const body = parseErrorBody(JSON.stringify({ code: 'X', message: 'a'.repeat(50_000) }));
    expect(body.message.length).toBeLessThanOrEqual(1000);
  });
});
