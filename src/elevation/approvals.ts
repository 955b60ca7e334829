/**
 * Second-person approval (POLICY_FILE `approval`, or a request outside the allowed hours): the
 * requester asks with the justification and duration, the approvers decide, and only an approved
 * request may be elevated, by its requester, with their own token, on the approved terms.
 *
 * Every arrow (not-asked -> pending -> approved | denied | expired) is a guarded transition of the
 * request row, so the first decision wins exactly once across instances. The row is also the
 * approvers' cards' durable queue: asking sets the request's expiresAt to a short lease, and the
 * expiry sweeper (expireDue), finding it due before the cards were posted (a process that died
 * after the write), posts them; once posted, expiresAt moves to the approval's own end.
 */
import { requestAudit } from './request-audit';
import type { Logger } from '../log';
import {
  type ApprovalMessenger,
  approvalNotification,
  approvalOf,
  type ApprovalTarget,
  type AskResult,
  type DecideResult,
  type Decision,
  personalChatKey,
  type Reach,
  samePerson,
  withApproval,
} from './approval-vocabulary';
import type { AuditEvent, AuditEventType, Clock, ElevationStore, Notifier } from './ports';
import { Refusals } from './refusals';
import type { Approval, ElevationRequest, Requester } from './request';
import type { ConfirmResult } from './elevation-results';
import { mayActOnRequest } from './who-may';

export interface ApprovalServiceOptions {
  store: ElevationStore;
  clock: Clock;
  logger: Logger;
  notifier?: Notifier;
  /** Time to press Elevate once approved (the request TTL). */
  requestTtlMinutes: number;
  /**
   * The rule's terms for the justification and duration, its hours and rate limits
   * (Guardrails.atConfirm): what approvers see is what Elevate would accept.
   */
  terms: (
    request: ElevationRequest,
    justification: string,
    minutes: number | undefined,
  ) => Promise<{ ok: true; minutes: number | undefined } | { ok: false; result: ConfirmResult }>;
  /** Absent: nothing is posted (the cards' queue waits for an instance that has one). */
  messenger?: ApprovalMessenger;
  /** How long one instance has to post the approvers' cards before another does. */
  announceLeaseMs?: number;
}

const DEFAULT_ANNOUNCE_LEASE_MS = 60_000;

export * from './approval-vocabulary';

export class ApprovalService {
  private readonly refusals: Refusals;

  constructor(private readonly options: ApprovalServiceOptions) {
    this.refusals = new Refusals(options);
  }

  /** Ask for approval: pending, with the justification and duration kept; the cards go out. */
  async ask(input: {
    requestId: string;
    clicker: Requester;
    justification?: string;
    minutes?: number;
  }): Promise<AskResult> {
    const { store, clock } = this.options;
    const request = await store.findRequest(input.requestId);
    if (!request) return { kind: 'unknown-request' };
    if (!mayActOnRequest(input.clicker, request)) {
      await this.refusals.refuse(input.clicker, 'not-requester', request);
      return { kind: 'not-requester', request };
    }
    const approval = approvalOf(request);
    if (!approval || !request.policy || request.state !== 'requested')
      return { kind: 'already-asked', request };
    if (approval.status !== 'not-asked') return { kind: 'already-asked', request };
    const now = clock.now();
    if (Date.parse(request.expiresAt) <= now.getTime()) return { kind: 'expired', request };
    const justification = (input.justification ?? '').trim();
    const duration = await this.options.terms(
      request,
      justification,
      input.minutes ?? request.minutes,
    );
    if (!duration.ok) {
      const refused = duration.result;
      if (
        refused.kind === 'justification-required' ||
        refused.kind === 'duration-refused' ||
        refused.kind === 'policy-refused'
      )
        return refused;
      return { kind: 'already-asked', request };
    }

    const expiresAt = new Date(now.getTime() + approval.timeoutMinutes * 60_000).toISOString();
    const pending: Approval = {
      ...approval,
      status: 'pending',
      askedAt: now.toISOString(),
      expiresAt,
    };
    // Due again after the lease unless the cards were posted by then: the sweeper posts them.
    const announceBy = new Date(
      Math.min(Date.parse(expiresAt), now.getTime() + this.announceLeaseMs()),
    ).toISOString();
    const asked = await store.transition(
      request.id,
      {
        from: ['requested'],
        to: 'requested',
        at: now,
        unexpiredAt: now,
        guard: (current) => approvalOf(current)?.status === 'not-asked',
        set: {
          justification: justification || undefined,
          minutes: duration.minutes,
          policy: withApproval(request.policy, pending),
          expiresAt: announceBy,
        },
      },
      {
        audit: this.audit('approval-asked', request, request.requester.aadObjectId, {
          justification: justification || undefined,
          minutes: duration.minutes,
          rule: request.policy.rule,
          because: approval.because,
          approvers: approval.approvers,
          channel: approval.channel,
          expiresAt,
        }),
      },
    );
    if (!asked) {
      const current = (await store.findRequest(request.id)) ?? request;
      return current.state === 'expired'
        ? { kind: 'expired', request: current }
        : { kind: 'already-asked', request: current };
    }
    const announced = await this.announce(asked);
    return { kind: 'asked', request: announced.request, reach: announced.reach };
  }

  /** Approve or Deny, pressed on any copy of the approvers' card. */
  async decide(input: {
    requestId: string;
    clicker: Requester;
    decision: Decision;
    reason?: string;
    /** The channel the click came from (its id), when it came from a channel. */
    channelId?: string;
  }): Promise<DecideResult> {
    const { store, clock } = this.options;
    const request = await store.findRequest(input.requestId);
    if (!request) return { kind: 'unknown-request' };
    const approval = approvalOf(request);
    if (!approval || !request.policy) return { kind: 'no-approval', request };
    // Checked first, whatever the request's state: nobody approves their own request.
    if (samePerson(input.clicker.aadObjectId, request.requester.aadObjectId)) {
      await this.refusals.refuse(input.clicker, 'self-approval', request);
      return { kind: 'self-approval', request };
    }
    if (!this.mayDecide(input.clicker, approval, input.channelId)) {
      await this.refusals.refuse(input.clicker, 'not-approver', request);
      return { kind: 'not-approver', request };
    }
    const reason = (input.reason ?? '').trim().slice(0, 500) || undefined;
    if (input.decision === 'deny' && !reason) return { kind: 'reason-required', request };
    if (request.state !== 'requested' || approval.status !== 'pending')
      return approval.status === 'expired' || request.state === 'expired'
        ? { kind: 'expired', request }
        : { kind: 'already-decided', request };
    const now = clock.now();
    if (!approval.expiresAt || Date.parse(approval.expiresAt) <= now.getTime()) {
      await this.refusals.refuse(input.clicker, 'approval-expired', request);
      const expired = await this.expire(request, now);
      return { kind: 'expired', request: expired ?? request };
    }
    const decidedBy = { aadObjectId: input.clicker.aadObjectId, name: input.clicker.name };
    const approve = input.decision === 'approve';
    const decided = await store.transition(
      request.id,
      {
        from: ['requested'],
        to: approve ? 'requested' : 'cancelled',
        at: now,
        // On the row as stored: still pending and not expired, so one decision wins.
        guard: (current) => {
          const a = approvalOf(current);
          return (
            a?.status === 'pending' && !!a.expiresAt && Date.parse(a.expiresAt) > now.getTime()
          );
        },
        set: {
          policy: withApproval(request.policy, {
            ...approval,
            status: approve ? 'approved' : 'denied',
            decidedBy,
            decidedAt: now.toISOString(),
            reason,
          }),
          // Approved: the requester has the usual time to press Elevate.
          ...(approve
            ? {
                expiresAt: new Date(
                  now.getTime() + this.options.requestTtlMinutes * 60_000,
                ).toISOString(),
              }
            : { closedBecause: { kind: 'denied' as const, by: input.clicker.aadObjectId } }),
        },
      },
      {
        audit: this.audit(approve ? 'approved' : 'denied', request, input.clicker.aadObjectId, {
          reason,
          rule: request.policy.rule,
          via: input.channelId ? 'channel' : 'personal',
        }),
        notification: approvalNotification(request, approve ? 'approved' : 'denied', {
          at: now,
          decidedBy,
          reason,
        }),
      },
    );
    if (!decided) {
      const current = (await store.findRequest(request.id)) ?? request;
      return approvalOf(current)?.status === 'expired' || current.state === 'expired'
        ? { kind: 'expired', request: current }
        : { kind: 'already-decided', request: current };
    }
    this.options.notifier?.wake();
    this.options.logger.info('approval decided', {
      requestId: request.id,
      decision: input.decision,
      decidedBy: decidedBy.aadObjectId,
    });
    await this.tell(decided);
    return { kind: 'decided', request: decided };
  }

  /**
   * A pending request the expiry sweeper found due: its cards not posted yet (a process died
   * after asking), so they are posted now; or its approval ran out, so it expires. Returns the
   * request when it expired.
   */
  async due(request: ElevationRequest, now: Date): Promise<ElevationRequest | undefined> {
    const approval = approvalOf(request);
    if (approval?.status !== 'pending') return undefined;
    if (approval.expiresAt && Date.parse(approval.expiresAt) > now.getTime()) {
      if (!approval.announcedAt) await this.announce(request);
      return undefined;
    }
    return this.expire(request, now);
  }

  /** The requester cancelled a request the approvers were asked about: their cards say so. */
  async closed(request: ElevationRequest): Promise<void> {
    if (approvalOf(request)?.cards?.length) await this.tell(request);
  }

  /** Listed approvers decide anywhere; in the approvers' channel, its members (Teams lets only them click). */
  private mayDecide(clicker: Requester, approval: Approval, channelId?: string): boolean {
    if (approval.approvers?.some((id) => samePerson(id, clicker.aadObjectId))) return true;
    return !!approval.channel && !!channelId && samePerson(channelId, approval.channel.channel);
  }

  /** The approval ran out: the request expires with it, and everyone is told. */
  private async expire(
    request: ElevationRequest,
    now: Date,
  ): Promise<ElevationRequest | undefined> {
    const approval = approvalOf(request);
    if (!approval || !request.policy) return undefined;
    const expired = await this.options.store.transition(
      request.id,
      {
        from: ['requested'],
        to: 'expired',
        at: now,
        guard: (current) => approvalOf(current)?.status === 'pending',
        set: { policy: withApproval(request.policy, { ...approval, status: 'expired' }) },
      },
      {
        audit: this.audit('approval-expired', request, undefined, {
          rule: request.policy.rule,
          askedAt: approval.askedAt,
          expiresAt: approval.expiresAt,
        }),
      },
    );
    if (expired) await this.tell(expired);
    return expired;
  }

  /** Posts the approvers' cards once (a lease per attempt) and records the copies. */
  private async announce(
    request: ElevationRequest,
  ): Promise<{ request: ElevationRequest; reach: Reach }> {
    const { store, clock, messenger } = this.options;
    const approval = approvalOf(request)!;
    const now = clock.now();
    const { targets, reach } = await this.targetsOf(request);
    if (!messenger) return { request, reach };
    // One attempt per lease window (on the service's clock), by whichever instance claims it.
    const lease = this.announceLeaseMs();
    const window = Math.floor(now.getTime() / lease);
    const attempt = `approval-cards/${request.id}/${window}`;
    if (!(await store.claimOnce(attempt, new Date((window + 2) * lease))))
      return { request, reach };
    const copies = targets.length > 0 ? await messenger.post(request, targets) : [];
    // Nothing went out while some should have: due again after the lease, for another try.
    if (targets.length > 0 && copies.length === 0) return { request, reach };
    const recorded = await store.transition(request.id, {
      from: ['requested'],
      to: 'requested',
      at: now,
      guard: (current) => {
        const a = approvalOf(current);
        return a?.status === 'pending' && !a.announcedAt;
      },
      set: {
        policy: withApproval(request.policy!, {
          ...approval,
          announcedAt: now.toISOString(),
          cards: copies,
        }),
        expiresAt: approval.expiresAt,
      },
    });
    if (recorded) return { request: recorded, reach };
    // Decided (or closed) while posting: the copies just posted show it at once.
    const current = await store.findRequest(request.id);
    const decided = current && approvalOf(current);
    if (current && decided && decided.status !== 'pending')
      await messenger.redraw({
        ...current,
        policy: withApproval(current.policy!, { ...decided, cards: copies }),
      });
    return { request: current ?? request, reach };
  }

  /** The approvers' channel and the listed approvers' personal chats the bot knows. */
  private async targetsOf(
    request: ElevationRequest,
  ): Promise<{ targets: ApprovalTarget[]; reach: Reach }> {
    const { store } = this.options;
    const approval = approvalOf(request)!;
    const targets: ApprovalTarget[] = [];
    const reach: Reach = { channel: false, approvers: [], unknown: [] };
    if (approval.channel) {
      const record = await store.findConversation(approval.channel.channel);
      if (record && !record.suspended) {
        targets.push({ conversationId: record.id, reference: record.reference });
        reach.channel = true;
      }
    }
    for (const approver of approval.approvers ?? []) {
      // The requester cannot approve: their own chat gets no approvers' card.
      if (samePerson(approver, request.requester.aadObjectId)) continue;
      const record = await store.findConversation(
        personalChatKey(request.requester.tenantId, approver),
      );
      if (record && !record.suspended) {
        // The chat's reference names the user as Teams last did.
        const name = (record.reference as { user?: { name?: string } }).user?.name;
        targets.push({
          conversationId: record.id,
          reference: record.reference,
          approver: { aadObjectId: approver, name },
        });
        reach.approvers.push(approver);
      } else reach.unknown.push(approver);
    }
    return { targets, reach };
  }

  /** The approvers' cards and the requester's, after a decision or the expiry; never fails the step. */
  private async tell(request: ElevationRequest): Promise<void> {
    const messenger = this.options.messenger;
    if (!messenger) return;
    await Promise.all([
      messenger.redraw(request).catch((error: unknown) =>
        this.options.logger.warn('could not redraw the approvers cards', {
          requestId: request.id,
          error,
        }),
      ),
      messenger.tellRequester(request).catch((error: unknown) =>
        this.options.logger.warn('could not tell the requester', {
          requestId: request.id,
          error,
        }),
      ),
    ]);
  }

  private announceLeaseMs(): number {
    return this.options.announceLeaseMs ?? DEFAULT_ANNOUNCE_LEASE_MS;
  }

  private audit(
    type: AuditEventType,
    request: ElevationRequest,
    actor: string | undefined,
    details?: Record<string, unknown>,
  ): AuditEvent {
    return requestAudit(type, request, this.options.clock.now(), actor, details);
  }
}
