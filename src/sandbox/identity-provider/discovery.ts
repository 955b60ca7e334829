/** The OpenID Connect discovery document and the subset msal-node takes as `authorityMetadata`. */

/** What msal-node's `auth.authorityMetadata` needs (pass it through JSON.stringify). */
export interface AuthorityMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  end_session_endpoint: string;
}

/** Path segments that stand for "whichever tenant the user is in". */
const MULTI_TENANT = ['common', 'organizations'];

export function authorityMetadata(baseUrl: string, tenant: string): AuthorityMetadata {
  const root = `${baseUrl}/${tenant}`;
  // Like Entra, the multi-tenant documents name a placeholder issuer that validators fill in.
  const issuerTenant = MULTI_TENANT.includes(tenant.toLowerCase()) ? '{tenantid}' : tenant;
  return {
    issuer: `${baseUrl}/${issuerTenant}/v2.0`,
    authorization_endpoint: `${root}/oauth2/v2.0/authorize`,
    token_endpoint: `${root}/oauth2/v2.0/token`,
    jwks_uri: `${root}/discovery/v2.0/keys`,
    end_session_endpoint: `${root}/oauth2/v2.0/logout`,
  };
}

export function openIdConfiguration(baseUrl: string, tenant: string): Record<string, unknown> {
  return {
    ...authorityMetadata(baseUrl, tenant),
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    response_modes_supported: ['query'],
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    request_uri_parameter_supported: false,
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'nbf',
      'name',
      'nonce',
      'oid',
      'preferred_username',
      'tid',
      'ver',
    ],
    tenant_region_scope: null,
    cloud_instance_name: 'sandbox.local',
  };
}
