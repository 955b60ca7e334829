/**
 * Which rule of the policy applies to an environment, and why: the first rule whose every
 * condition holds. A policy always ends with a rule that matches everything (the loader adds one
 * when the file has none), so every environment gets a rule.
 */
import type { RequestPolicy } from '../elevation/request';
import type { Environment } from '../elevation/vocabulary';
import type { Policy, PolicyRule, RuleChoice } from './policy';

/** The rule that applies to `environment`, and why. */
export function ruleFor(policy: Policy, environment: Environment): RuleChoice {
  for (const rule of policy.rules) {
    const why = matchReason(rule, environment);
    if (why !== undefined) return { rule, why };
  }
  // Unreachable with a loaded policy (see above); a policy built by hand still answers.
  return { rule: { name: 'default', match: {} }, why: 'no rule matched' };
}

/** Why `rule` matches `environment`, in words; undefined when it does not. */
export function matchReason(rule: PolicyRule, environment: Environment): string | undefined {
  const { types, namePattern, ids } = rule.match;
  const reasons: string[] = [];
  if (ids?.length) {
    if (!ids.some((id) => id.toLowerCase() === environment.id.toLowerCase())) return undefined;
    reasons.push(`its id is ${environment.id}`);
  }
  if (types?.length) {
    if (!types.some((t) => t.toLowerCase() === environment.type.toLowerCase())) return undefined;
    reasons.push(`its type is ${environment.type}`);
  }
  if (namePattern !== undefined) {
    if (!new RegExp(namePattern, 'i').test(environment.displayName)) return undefined;
    reasons.push(`its name matches /${namePattern}/i`);
  }
  return reasons.length > 0 ? reasons.join(' and ') : 'the rule matches every environment';
}

/** What a new request records of the rule that applies (approval not asked yet). */
export function requestPolicyOf(choice: RuleChoice): RequestPolicy {
  const { rule, why } = choice;
  return {
    rule: rule.name,
    why,
    ...(rule.stepUp && { stepUp: rule.stepUp }),
    ...(rule.approval && {
      approval: {
        status: 'not-asked',
        because: 'rule',
        ...(rule.approval.approvers && { approvers: rule.approval.approvers }),
        ...(rule.approval.channel && { channel: rule.approval.channel }),
        timeoutMinutes: rule.approval.timeoutMinutes,
      },
    }),
  };
}
