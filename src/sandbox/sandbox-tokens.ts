/**
 * The sandbox's token source: the Agents Playground cannot do Teams SSO, so the sandbox mints a
 * delegated-looking Power Platform token for whoever is chatting. It sits behind the same
 * UserTokens port as real sign-in, so everything after it is the production path.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { TokenResult, UserTokens } from '../elevation/ports';
import type { Requester } from '../elevation/request';

export interface SandboxTokensOptions {
  /** Audience of the minted tokens: the Power Platform API base URL. */
  audience: string;
  /** Lifetime of a minted token. */
  lifetimeSeconds?: number;
}

/** Power Platform Administrator (directory role template id), as Entra puts it in `wids`. */
const POWER_PLATFORM_ADMINISTRATOR = '11648597-926c-4cf3-9c36-bcebb0ba8dcc';

function base64url(value: object | Buffer): string {
  const buffer = Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value));
  return buffer.toString('base64url');
}

/** A user principal name for a Playground user, who has only a display name. */
export function sandboxUpn(name: string): string {
  const local = name
    .normalize('NFKD')
    .replace(/[^\w\s.-]/g, '')
    .trim()
    .toLowerCase()
    .replace(/\s+/g, '.');
  return `${local || 'user'}@contoso.example`;
}

export class SandboxTokens implements UserTokens {
  private readonly key = randomBytes(32);

  constructor(private readonly options: SandboxTokensOptions) {}

  async powerPlatformToken(user: Requester): Promise<TokenResult> {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      aud: this.options.audience,
      iss: `https://sandbox.local/${user.tenantId}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + (this.options.lifetimeSeconds ?? 3600),
      oid: user.aadObjectId,
      tid: user.tenantId,
      name: user.name,
      upn: user.upn ?? sandboxUpn(user.name),
      scp: 'UserManagement.Users.Apply EnvironmentManagement.Environments.Read',
      wids: [POWER_PLATFORM_ADMINISTRATOR],
    };
    const header = base64url({ alg: 'HS256', typ: 'JWT' });
    const body = base64url(claims);
    const signature = createHmac('sha256', this.key)
      .update(`${header}.${body}`)
      .digest('base64url');
    return { ok: true, token: `${header}.${body}.${signature}` };
  }
}
