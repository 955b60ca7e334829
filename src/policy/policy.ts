/**
 * Guardrails per environment: the policy an operator writes (POLICY_FILE) and what one rule asks
 * of an elevation. Rules match environments by type, name pattern or id; the first match wins.
 * Pure data: loading and validation are in policy-file.ts, matching in matcher.ts.
 */

/** Environment types as the Power Platform API spells them. */
export const ENVIRONMENT_TYPES = [
  'Production',
  'Sandbox',
  'Developer',
  'Trial',
  'Default',
] as const;
export type EnvironmentType = (typeof ENVIRONMENT_TYPES)[number];

/** Which environments a rule applies to: every listed condition must hold; none listed: all. */
export interface RuleMatch {
  /** Any of these types (compared without regard to case). */
  types?: EnvironmentType[];
  /** A regular expression tested against the display name, case-insensitively. */
  namePattern?: string;
  /** Any of these environment ids. */
  ids?: string[];
}

export interface JustificationRule {
  required: boolean;
  /** After trimming; 0 or absent: any length. */
  minLength?: number;
  /** A regular expression the (trimmed) justification must match, e.g. `^(INC|CHG)\d+`. */
  pattern?: string;
  /** Shown when the pattern does not match, e.g. "Start with the ticket: INC1234 or CHG1234." */
  patternHelp?: string;
}

/** A second person decides before Elevate is offered. */
export interface ApprovalRule {
  /** Object ids of the approvers (each gets the card in personal chat). */
  approvers?: string[];
  /**
   * A team channel whose members approve (the card is posted there): `channel` is its id
   * (19:...@thread.tacv2), `team` the team's name as people know it.
   */
  channel?: { team: string; channel: string };
  /** How long approvers have, in minutes. */
  timeoutMinutes: number;
}

export interface RateWindow {
  count: number;
  windowMinutes: number;
}

export interface RateLimitRule {
  /** At most `count` elevations per user in `windowMinutes`. */
  perUser?: RateWindow;
  /** At most `count` elevations in one environment (all users) in `windowMinutes`. */
  perEnvironment?: RateWindow;
}

export interface AllowedHours {
  /** "08:00" (inclusive). */
  from: string;
  /** "18:00" (exclusive); earlier than `from`: the window crosses midnight. */
  to: string;
  /** Days the window applies, e.g. ["Mon","Tue","Wed","Thu","Fri"]; absent: every day. */
  days?: Array<'Mon' | 'Tue' | 'Wed' | 'Thu' | 'Fri' | 'Sat' | 'Sun'>;
  /** IANA time zone the hours are in, e.g. "Europe/Berlin". */
  timeZone: string;
  /** Outside the hours: refuse, or require approval (the rule's `approval`). */
  outside: 'refuse' | 'approval';
}

export interface PolicyRule {
  /** Unique; shown to users ("the rule 'production' applies"). */
  name: string;
  /** Why the rule exists, shown with `policy`. */
  description?: string;
  match: RuleMatch;
  defaultMinutes?: number;
  maxMinutes?: number;
  justification?: JustificationRule;
  approval?: ApprovalRule;
  /** A Conditional Access authentication context id (c1..c99) the token must satisfy. */
  stepUp?: string;
  rateLimit?: RateLimitRule;
  allowedHours?: AllowedHours;
}

export interface Policy {
  rules: PolicyRule[];
  /** Where the policy came from: the file's path, or "default" when POLICY_FILE is not set. */
  source: string;
  /**
   * The name of the rule the loader appended because the file's last rule does not match every
   * environment (the settings, as without a file); absent when the file has its own.
   */
  appended?: string;
}

/** Why a rule applies to an environment, in words (`policy <env>`). */
export interface RuleChoice {
  rule: PolicyRule;
  /** e.g. "its type is Production", "its name matches /^Contoso/i", "no other rule matched". */
  why: string;
}
