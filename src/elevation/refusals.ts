/**
 * What someone was not allowed to do (press another person's button, elevate without a tenant
 * admin role, without the permission): logged and audited, never silent, and the security-relevant
 * ones told to the subscribed channels.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log';
import { refusalNotification } from './notifications';
import type { AuditEvent, Clock, ElevationStore, Notifier } from './ports';
import type { ElevationRequest, Requester } from './request';
import type { TokenRefusal } from './vocabulary';

export interface RefusalsOptions {
  store: ElevationStore;
  clock: Clock;
  logger: Logger;
  /** Told when a notification was put in the outbox. */
  notifier?: Notifier;
}

export class Refusals {
  constructor(private readonly options: RefusalsOptions) {}

  /**
   * A pre-flight refusal that matters to security (not an admin, permission missing) is audited;
   * someone without a tenant admin role trying to elevate is also told to the subscribed channels.
   */
  async refuseToken(
    user: Requester,
    reason: TokenRefusal,
    context: { request?: ElevationRequest; query?: string },
  ): Promise<void> {
    if (reason === 'not-tenant-admin') {
      await this.refuse(user, reason, context.request, {
        query: context.query,
        text: 'The sign-in shows none of the roles self-elevation needs (Global, Power Platform or Dynamics 365 Administrator).',
      });
    } else if (reason === 'permission-missing') {
      await this.refuse(user, reason, context.request);
    }
  }

  /**
   * Something the actor was not allowed to do: logged and audited, never silent. With `notify`,
   * the subscribed channels hear of it too (written with the audit record, in one step).
   */
  async refuse(
    actor: Requester,
    reason: string,
    request?: ElevationRequest,
    notify?: { query?: string; text: string },
  ): Promise<void> {
    this.options.logger.warn('refused', {
      reason,
      actor: actor.aadObjectId,
      requestId: request?.id,
    });
    const at = this.options.clock.now();
    const event: AuditEvent = {
      type: 'refused',
      at,
      requestId: request?.id,
      actor: actor.aadObjectId,
      tenantId: actor.tenantId,
      environmentId: request?.environment.id,
      details: { reason },
    };
    if (!notify) {
      await this.options.store.appendAudit(event);
      return;
    }
    await this.options.store.appendAudit(
      event,
      refusalNotification({
        id: randomUUID(),
        at,
        requester: actor,
        reason: notify.text,
        request,
        query: notify.query,
      }),
    );
    this.options.notifier?.wake();
  }
}
