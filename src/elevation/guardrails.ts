/**
 * The policy rules applied to requests (POLICY_FILE): when a request is opened, the rule's
 * duration, allowed hours and rate limits; at Elevate, its justification and duration, and its
 * hours and rate limits again (the hours may have ended since the card opened or was approved,
 * and other cards of the user or the environment may have elevated). The
 * service asks here and words nothing itself; every refusal says why and which rule, and is
 * audited (a rate limit refusal also alerts the subscribed channels, in the same write).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log';
import { durationFor, hoursCheck, justificationProblem, rateCheck } from '../policy/checks';
import { requestPolicyOf, ruleFor } from '../policy/matcher';
import type { Policy, PolicyRule, RuleChoice } from '../policy/policy';
import { defaultRule } from '../policy/policy-file';
import type { ConfirmResult, RequestResult } from './elevation-results';
import { rateLimitNotification } from './notifications';
import type { AuditEvent, Clock, ElevationStore, Notifier } from './ports';
import {
  type ElevationRequest,
  outcomeTime,
  type RequestPolicy,
  type Requester,
  type RoleCheck,
  type TimeBox,
} from './request';
import { openTimeBox, type TimeBoxSettings } from './time-box';
import { formatMinutes } from './duration';
import type { Environment } from './vocabulary';

export interface GuardrailsOptions {
  /** Absent: one rule made of the settings (as without POLICY_FILE). */
  policy?: Policy;
  store: ElevationStore;
  clock: Clock;
  logger: Logger;
  notifier?: Notifier;
  /** JUSTIFICATION_REQUIRED, for a rule that says nothing of the justification. */
  justificationRequired: boolean;
  /** Time-boxing's durations; absent: elevations have no duration. */
  timeBoxes?: { settings: TimeBoxSettings };
}

/** How many requests one store page reads while counting recent elevations. */
const PAGE_SIZE = 50;
/** Pages read at most per count: a limit is a handful, so this is never reached in practice. */
const MAX_PAGES = 20;

/** States of a request whose elevation was attempted (it counts against a rate limit). */
const ELEVATED = new Set(['executing', 'succeeded', 'failed']);

export type OpenCheck =
  | { ok: true; minutes: number | undefined; policy: RequestPolicy; rule: PolicyRule }
  | { ok: false; result: RequestResult };

export class Guardrails {
  readonly policy: Policy;

  constructor(private readonly options: GuardrailsOptions) {
    this.policy = options.policy ?? {
      rules: [
        defaultRule({
          defaultMinutes: options.timeBoxes?.settings.defaultMinutes ?? 60,
          maxMinutes: options.timeBoxes?.settings.maxMinutes ?? 480,
          justificationRequired: options.justificationRequired,
        }),
      ],
      source: 'default',
    };
  }

  /** JUSTIFICATION_REQUIRED: what a rule that says nothing of the justification asks. */
  get justificationRequired(): boolean {
    return this.options.justificationRequired;
  }

  /** The rule that applies to an environment, and why. */
  ruleFor(environment: Environment): RuleChoice {
    return ruleFor(this.policy, environment);
  }

  /** The rule a request was opened under (by name), or the one that applies now. */
  ruleOf(request: ElevationRequest): PolicyRule {
    const named = this.policy.rules.find((rule) => rule.name === request.policy?.rule);
    return named ?? this.ruleFor(request.environment).rule;
  }

  /**
   * A duration longer than any rule allows (or not a whole minute), refused before the
   * environment is even looked up; undefined when some rule may allow it.
   */
  longerThanAnyRule(minutes: number | undefined): RequestResult | undefined {
    const settings = this.options.timeBoxes?.settings;
    if (!settings || minutes === undefined) return undefined;
    const longest = Math.max(
      ...this.policy.rules.map((rule) => rule.maxMinutes ?? settings.maxMinutes),
    );
    const whole = Number.isInteger(minutes) && minutes >= 1;
    if (whole && minutes <= longest) return undefined;
    // The settings' maximum keeps its own words (ELEVATION_MAX_MINUTES); the rules' is theirs.
    const byRules = whole && longest !== settings.maxMinutes;
    const most = formatMinutes(longest);
    return {
      kind: 'duration-refused',
      minutes,
      maxMinutes: longest,
      ...(byRules && {
        problem: `No rule of the elevation policy allows more than ${most}. Ask again for ${most} or less.`,
      }),
    };
  }

  /**
   * The time box of an elevation granted at `now` (none without time-boxing or a duration): the
   * rule's longest elevation bounds its extensions.
   */
  timeBoxOf(
    request: ElevationRequest,
    roleCheck: RoleCheck | undefined,
    now: Date,
  ): TimeBox | undefined {
    const settings = this.options.timeBoxes?.settings;
    if (!settings || !request.minutes) return undefined;
    const rule = this.ruleOf(request);
    const maxMinutes = rule.maxMinutes ?? settings.maxMinutes;
    const box = openTimeBox(request.minutes, roleCheck, now, { ...settings, maxMinutes });
    // Extend adds the rule's default, like a request without a duration gets.
    const step = rule.defaultMinutes;
    return step && step !== settings.defaultMinutes ? { ...box, extendMinutes: step } : box;
  }

  /** A new request in `environment`: its duration, and whether the hour and the rate allow it. */
  async atOpen(
    requester: Requester,
    environment: Environment,
    minutes: number | undefined,
  ): Promise<OpenCheck> {
    const choice = this.ruleFor(environment);
    const { rule } = choice;
    const duration = durationFor(rule, minutes, this.options.timeBoxes?.settings);
    if (!duration.ok) {
      await this.audit(requester, environment, 'duration', rule, {
        minutes,
        max: duration.maxMinutes,
      });
      return {
        ok: false,
        result: {
          kind: 'duration-refused',
          minutes: minutes ?? 0,
          maxMinutes: duration.maxMinutes,
          problem: duration.problem,
        },
      };
    }
    const now = this.options.clock.now();
    const hours = hoursCheck(rule, now);
    if (hours.kind === 'refused') {
      await this.audit(requester, environment, 'outside-hours', rule, { text: hours.text });
      return {
        ok: false,
        result: {
          kind: 'policy-refused',
          because: 'outside-hours',
          environment,
          rule: rule.name,
          text: hours.text,
          nextStep: 'Ask again within those hours, or ask the bot administrators about the policy.',
        },
      };
    }
    const rate = await this.rateOf(requester, environment, rule, now);
    if (rate.kind === 'over') {
      await this.refuseRate(requester, environment, rule, rate);
      return {
        ok: false,
        result: {
          kind: 'policy-refused',
          because: 'rate-limit',
          environment,
          rule: rule.name,
          text: rate.text,
          nextStep: rateNextStep(rate),
          nextAt: rate.nextAt.toISOString(),
        },
      };
    }
    return { ok: true, minutes: duration.minutes, policy: recorded(choice, hours.kind), rule };
  }

  /** Elevate was pressed: the rule's justification and the duration chosen on the card. */
  async atConfirm(
    request: ElevationRequest,
    justification: string,
    minutes: number | undefined,
  ): Promise<{ ok: true; minutes: number | undefined } | { ok: false; result: ConfirmResult }> {
    const rule = this.ruleOf(request);
    const problem = justificationProblem(rule, justification, this.options.justificationRequired);
    if (problem) {
      await this.audit(
        request.requester,
        request.environment,
        'justification',
        rule,
        { problem },
        request,
      );
      return { ok: false, result: { kind: 'justification-required', request, problem } };
    }
    const duration = durationFor(rule, minutes, this.options.timeBoxes?.settings);
    if (!duration.ok) {
      await this.audit(
        request.requester,
        request.environment,
        'duration',
        rule,
        { minutes },
        request,
      );
      return {
        ok: false,
        result: {
          kind: 'duration-refused',
          request,
          maxMinutes: duration.maxMinutes,
          problem: duration.problem,
        },
      };
    }
    // The hours again: the card may have opened (or been approved) inside them.
    const now = this.options.clock.now();
    const hours = hoursCheck(rule, now);
    if (
      hours.kind !== 'inside' &&
      !(hours.kind === 'approval-needed' && request.policy?.approval)
    ) {
      await this.audit(
        request.requester,
        request.environment,
        'outside-hours',
        rule,
        { text: hours.text, at: 'elevate' },
        request,
      );
      const problem = `Refused: outside the allowed hours (rule '${rule.name}'). ${hours.text}${
        hours.kind === 'approval-needed'
          ? ' Outside them an elevation needs approval: ask again, and the new card asks for it.'
          : ''
      }`;
      return {
        ok: false,
        result: { kind: 'policy-refused', request, because: 'outside-hours', problem },
      };
    }
    // Counted again: other cards may have elevated since this one opened (one per environment).
    const rate = await this.rateOf(request.requester, request.environment, rule, now);
    if (rate.kind === 'over') {
      await this.refuseRate(request.requester, request.environment, rule, rate, request);
      const problem = rateRefusalText(rule, rate);
      return {
        ok: false,
        result: { kind: 'policy-refused', request, because: 'rate-limit', problem },
      };
    }
    return { ok: true, minutes: duration.minutes };
  }

  /** Recent elevations of the requester under this rule, and in the environment, as counted. */
  private async rateOf(
    requester: Requester,
    environment: Environment,
    rule: PolicyRule,
    now: Date,
  ) {
    const limits = rule.rateLimit;
    if (!limits) return rateCheck(rule, [], [], now);
    const [byUser, inEnvironment] = await Promise.all([
      limits.perUser
        ? this.recent(
            (page) => this.options.store.requestsOf(requester, page),
            limits.perUser.windowMinutes,
            limits.perUser.count,
            now,
            (r) => this.ruleOf(r).name === rule.name,
          )
        : [],
      limits.perEnvironment
        ? this.recent(
            (page) => this.options.store.requestsIn(requester.tenantId, environment.id, page),
            limits.perEnvironment.windowMinutes,
            limits.perEnvironment.count,
            now,
            () => true,
          )
        : [],
    ]);
    return rateCheck(rule, byUser, inEnvironment, now);
  }

  /**
   * When the newest `enough` elevations within the window happened, read page by page, newest
   * first. A request's outcome time is never before its elevation, so once a page reaches past
   * the window, nothing older counts.
   */
  private async recent(
    read: (page: {
      limit: number;
      before?: { at: string; id: string };
    }) => Promise<ElevationRequest[]>,
    windowMinutes: number,
    enough: number,
    now: Date,
    counts: (request: ElevationRequest) => boolean,
  ): Promise<string[]> {
    const since = now.getTime() - windowMinutes * 60_000;
    const times: string[] = [];
    let before: { at: string; id: string } | undefined;
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      const page = await read({ limit: PAGE_SIZE, ...(before && { before }) });
      for (const request of page) {
        if (!ELEVATED.has(request.state) || !counts(request)) continue;
        const at = elevatedAt(request);
        if (Date.parse(at) > since) times.push(at);
      }
      const last = page[page.length - 1];
      if (!last || page.length < PAGE_SIZE || Date.parse(outcomeTime(last)) <= since) break;
      if (times.length >= enough) break;
      before = { at: outcomeTime(last), id: last.id };
    }
    return times;
  }

  /** The refusal's audit record and the channels' alert: one write. */
  private async refuseRate(
    requester: Requester,
    environment: Environment,
    rule: PolicyRule,
    rate: RateOver,
    request?: ElevationRequest,
  ): Promise<void> {
    const at = this.options.clock.now();
    const details = {
      scope: rate.scope,
      count: rate.count,
      limit: rate.limit,
      windowMinutes: rate.windowMinutes,
    };
    this.options.logger.warn('refused: rate limit', {
      rule: rule.name,
      actor: requester.aadObjectId,
      requestId: request?.id,
      ...details,
    });
    await this.options.store.appendAudit(
      this.event(requester, environment, 'rate-limit', rule, details, at, request),
      rateLimitNotification({
        id: randomUUID(),
        at,
        requester,
        environment,
        reason: rate.text,
        rateLimit: { rule: rule.name, ...details },
      }),
    );
    this.options.notifier?.wake();
  }

  private async audit(
    requester: Requester,
    environment: Environment,
    reason: string,
    rule: PolicyRule,
    details: Record<string, unknown>,
    request?: ElevationRequest,
  ): Promise<void> {
    this.options.logger.warn('refused by policy', {
      reason,
      rule: rule.name,
      actor: requester.aadObjectId,
      requestId: request?.id,
    });
    await this.options.store.appendAudit(
      this.event(requester, environment, reason, rule, details, this.options.clock.now(), request),
    );
  }

  private event(
    requester: Requester,
    environment: Environment,
    reason: string,
    rule: PolicyRule,
    details: Record<string, unknown>,
    at: Date,
    request?: ElevationRequest,
  ): AuditEvent {
    return {
      type: 'refused',
      at,
      requestId: request?.id,
      actor: requester.aadObjectId,
      tenantId: requester.tenantId,
      environmentId: environment.id,
      details: { reason: `policy-${reason}`, rule: rule.name, ...details },
    };
  }
}

/**
 * What the request records of its rule. A rule whose hours say `outside: approval` asks its
 * approval outside those hours only (an approval at every hour would need no hours): inside them
 * none is recorded, outside them it is, because of the hour.
 */
function recorded(choice: RuleChoice, hours: 'inside' | 'approval-needed'): RequestPolicy {
  const { approval, ...policy } = requestPolicyOf(choice);
  if (!approval) return policy;
  if (choice.rule.allowedHours?.outside !== 'approval') return { ...policy, approval };
  return hours === 'inside'
    ? policy
    : { ...policy, approval: { ...approval, because: 'outside-hours' } };
}

/** When the elevation was attempted: its grant, or else its last change (confirmed or finished). */
function elevatedAt(request: ElevationRequest): string {
  return request.timeBox?.grantedAt ?? outcomeTime(request);
}

type RateOver = Extract<ReturnType<typeof rateCheck>, { kind: 'over' }>;

function rateNextStep(rate: RateOver): string {
  return `The next elevation is allowed at ${rate.nextAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; the subscribed channels were told of this one.`;
}

/** A rate limit reached at Elevate, on the card: the count, the rule, and when to try again. */
function rateRefusalText(rule: PolicyRule, rate: RateOver): string {
  return `Refused: too many elevations (rule '${rule.name}'). ${rate.text} ${rateNextStep(rate)}`;
}
