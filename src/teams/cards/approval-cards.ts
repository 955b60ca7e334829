/**
 * The cards of second-person approval: the requester's (ask for approval, waiting, approved with
 * Elevate) and the approvers' (Approve / Deny with a reason, then the decision or the expiry for
 * every copy). Verbs and data the handlers read: `ask-approval` {requestId, justification,
 * minutes}, `approve` / `deny` {requestId, approvalReason}; an approved request's `elevate`
 * sends no inputs (the approved justification and duration apply).
 */
import { Template } from 'adaptivecards-templating';
import type { Approval, ElevationRequest } from '../../elevation/request';
import { formatMinutes } from '../../elevation/duration';
import type { Reach } from '../../elevation/approvals';
import { type AdaptiveCard, type Color, type Fact, fact, fill } from './card-template';
import { durationInput } from './duration-input';
import { clockTime, environmentFacts, isProduction, requesterText } from './request-look';
import approvalTemplate from './templates/approval.json';

const template = new Template(approvalTemplate);

interface Line {
  text: string;
  weight: 'Default' | 'Bolder';
  color: Color;
}

function line(text: string, color: Color = 'Default', weight: Line['weight'] = 'Default'): Line {
  return { text, weight, color };
}

interface Action {
  title: string;
  verb: string;
  style: 'positive' | 'destructive' | 'default';
  inputs: 'auto' | 'none';
}

const CANCEL: Action = { title: 'Cancel', verb: 'cancel', style: 'default', inputs: 'none' };

/** What the template needs besides the parts each card sets. */
const BLANK = {
  production: false,
  lines: [] as Line[],
  minutes: '',
  durationChoices: [] as Array<{ title: string; value: string }>,
  askJustification: false,
  justificationRequired: false,
  justification: '',
  askReason: false,
  problem: '',
  note: '',
  actions: [] as Action[],
};

/** "Megan Bowen or a member of the approvers' channel of My Team": who may decide. */
export function approversText(approval: Approval): string {
  const named = (approval.approvers ?? []).map((id) => {
    const copy = approval.cards?.find(
      (c) => c.approver?.aadObjectId.toLowerCase() === id.toLowerCase(),
    );
    return copy?.approver?.name ? `${copy.approver.name} (${id})` : id;
  });
  const channel = approval.channel
    ? [`a member of the approvers' channel of ${approval.channel.team}`]
    : [];
  const all = [...named, ...channel];
  if (all.length <= 1) return all[0] ?? 'nobody';
  return `${all.slice(0, -1).join(', ')} or ${all.at(-1)}`;
}

/** "Production needs approval by ...", or why approval applies outside the allowed hours. */
function needsText(request: ElevationRequest, approval: Approval): string {
  const where =
    approval.because === 'outside-hours'
      ? 'Outside the allowed hours, this needs'
      : `${request.environment.type} needs`;
  return `${where} approval by ${approversText(approval)}.`;
}

function ruleFacts(request: ElevationRequest): Fact[] {
  const policy = request.policy;
  return policy ? fact('Policy rule', `${policy.rule} (${policy.why})`) : [];
}

export interface ApprovalAskOptions {
  justificationRequired: boolean;
  problem?: string;
  justification?: string;
  timeZone?: string;
  shared?: boolean;
  durations?: { defaultMinutes: number; maxMinutes: number };
  now?: Date;
}

/** The requester's card before asking: the rule, who approves, duration, justification, Ask. */
export function approvalAskCard(
  request: ElevationRequest,
  options: ApprovalAskOptions,
): AdaptiveCard {
  const approval = request.policy!.approval!;
  const who = options.shared ? request.requester.name : 'You';
  const duration = durationInput(request, options);
  return fill(template, {
    ...BLANK,
    icon: '🛡',
    color: 'Default',
    headline: 'Approval needed',
    production: isProduction(request.environment),
    lines: [
      line(
        `${who} ${options.shared ? 'asks' : 'ask'} to become System Administrator in ${request.environment.displayName}.`,
      ),
      line(needsText(request, approval), 'Attention', 'Bolder'),
    ],
    facts: [
      ...environmentFacts(request.environment),
      ...fact('Requested by', requesterText(request)),
      ...ruleFacts(request),
      ...fact('Approval time', `${approval.timeoutMinutes} minutes to decide`),
    ],
    minutes: duration.minutes,
    durationChoices: duration.durationChoices,
    askJustification: true,
    justificationRequired: options.justificationRequired,
    justification: options.justification ?? '',
    problem: options.problem ?? '',
    note: `The approvers see this justification and duration. This card expires at ${clockTime(request.expiresAt, options.timeZone)}; only ${request.requester.name} can ask.`,
    actions: [
      { title: 'Ask for approval', verb: 'ask-approval', style: 'positive', inputs: 'auto' },
      CANCEL,
    ],
    requestId: request.id,
  });
}

export interface ApprovalStatusOptions {
  timeZone?: string;
  /** Who the cards reached, right after asking (said when none could be reached). */
  reach?: Reach;
}

/** What the approvers asked for, as facts (both sides' cards show the same terms). */
function termsFacts(request: ElevationRequest): Fact[] {
  return [
    ...fact('Justification', request.justification, 'Default', 'Bolder'),
    ...fact('Duration', request.minutes ? formatMinutes(request.minutes) : undefined),
  ];
}

function reachText(reach: Reach | undefined, approval: Approval): string {
  if (!reach) return '';
  const reached = (reach.channel ? 1 : 0) + reach.approvers.length;
  if (reached === 0) {
    return `I could not reach any approver: I have no chat with ${
      reach.unknown.length ? reach.unknown.join(', ') : 'them'
    }${approval.channel ? ' and I am not in the approvers’ channel' : ''}. Ask them to open a chat with me (or add me to the channel), then ask again.`;
  }
  return reach.unknown.length
    ? `I have no chat with ${reach.unknown.join(', ')}, so they did not get the card.`
    : '';
}

/** The requester's card while waiting, and once approved (Elevate on the approved terms). */
export function approvalStatusCard(
  request: ElevationRequest,
  options: ApprovalStatusOptions = {},
): AdaptiveCard {
  const approval = request.policy!.approval!;
  const zone = options.timeZone ?? request.requester.timeZone;
  const base = [
    ...environmentFacts(request.environment),
    ...fact('Requested by', requesterText(request)),
    ...ruleFacts(request),
    ...termsFacts(request),
  ];
  if (approval.status === 'approved') {
    const by = approval.decidedBy?.name ?? 'An approver';
    return fill(template, {
      ...BLANK,
      icon: '👍',
      color: 'Good',
      headline: `Approved by ${by}`,
      lines: [
        line(
          `${by} approved the elevation in ${request.environment.displayName}${approval.reason ? `: "${approval.reason}"` : '.'}`,
        ),
        line(
          `Press Elevate before ${clockTime(request.expiresAt, zone)}: it runs with the approved justification and duration.`,
          'Default',
          'Bolder',
        ),
      ],
      facts: [
        ...base,
        ...fact('Approved by', by),
        ...fact('Approved at', approval.decidedAt && clockTime(approval.decidedAt, zone)),
      ],
      note: `Only ${request.requester.name} can elevate.`,
      actions: [{ title: 'Elevate', verb: 'elevate', style: 'positive', inputs: 'none' }, CANCEL],
      requestId: request.id,
    });
  }
  const until = approval.expiresAt ? clockTime(approval.expiresAt, zone) : '';
  return fill(template, {
    ...BLANK,
    icon: '⏳',
    color: 'Accent',
    headline: `Waiting for approval from ${approversText(approval)}`,
    lines: [
      line(`Approvers have until ${until} to decide; this card changes when they do.`),
      ...(reachText(options.reach, approval)
        ? [line(reachText(options.reach, approval), 'Attention')]
        : []),
    ],
    facts: [...base, ...fact('Asked at', approval.askedAt && clockTime(approval.askedAt, zone))],
    actions: [CANCEL],
    requestId: request.id,
  });
}

export interface ApproverCardOptions {
  timeZone?: string;
  problem?: string;
  now?: Date;
}

/** The approvers' card: the request and its terms, Approve / Deny while pending, else the result. */
export function approverCard(
  request: ElevationRequest,
  options: ApproverCardOptions = {},
): AdaptiveCard {
  const approval = request.policy!.approval!;
  const zone = options.timeZone;
  const facts: Fact[] = [
    ...fact('Requester', requesterText(request), 'Default', 'Bolder'),
    ...fact('Requester id', request.requester.aadObjectId),
    ...environmentFacts(request.environment),
    ...termsFacts(request),
    ...ruleFacts(request),
    ...fact(
      'Why approval',
      approval.because === 'outside-hours'
        ? 'asked outside the allowed hours'
        : 'the rule asks for it',
    ),
  ];
  const open = approval.status === 'pending' && request.state === 'requested';
  const look = approverLook(request, approval);
  if (!open && approval.decidedBy) {
    facts.push(
      ...fact(
        approval.status === 'approved' ? 'Approved by' : 'Denied by',
        approval.decidedBy.name,
      ),
      ...fact('Reason', approval.reason),
      ...fact('Decided at', approval.decidedAt && clockTime(approval.decidedAt, zone)),
    );
  }
  return fill(template, {
    ...BLANK,
    icon: look.icon,
    color: look.color,
    headline: look.headline,
    production: isProduction(request.environment),
    lines: [line(look.text)],
    facts,
    askReason: open,
    problem: options.problem ?? '',
    note: open
      ? `Decide before ${approval.expiresAt ? clockTime(approval.expiresAt, zone) : 'the card expires'}. ${request.requester.name} cannot approve their own request.`
      : '',
    actions: open
      ? [
          { title: 'Approve', verb: 'approve', style: 'positive', inputs: 'auto' },
          { title: 'Deny', verb: 'deny', style: 'destructive', inputs: 'auto' },
        ]
      : [],
    requestId: request.id,
  });
}

function approverLook(
  request: ElevationRequest,
  approval: Approval,
): { icon: string; color: Color; headline: string; text: string } {
  const name = request.requester.name;
  const where = request.environment.displayName;
  const by = approval.decidedBy?.name ?? 'An approver';
  switch (approval.status) {
    case 'approved':
      return {
        icon: '👍',
        color: 'Good',
        headline: `Approved by ${by}`,
        text: `${name} may now elevate in ${where}, with their own sign-in.`,
      };
    case 'denied':
      return {
        icon: '👎',
        color: 'Warning',
        headline: `Denied by ${by}`,
        text: `${name} cannot elevate in ${where} with this request.`,
      };
    case 'expired':
      return {
        icon: '⌛',
        color: 'Warning',
        headline: 'Approval expired',
        text: `No decision within ${approval.timeoutMinutes} minutes; ${name} must ask again.`,
      };
    default:
      return request.state === 'requested'
        ? {
            icon: '🛡',
            color: 'Attention',
            headline: `Approval asked: ${name} in ${where}`,
            text: `${name} asks to become System Administrator in ${where}.`,
          }
        : {
            icon: '🚫',
            color: 'Default',
            headline: 'Request closed',
            text: `${name} closed this request; nothing to decide.`,
          };
  }
}

/** The requester's card after an approval expired ("No decision within 30 minutes; ask again"). */
export function approvalExpiredText(approval: Approval): string {
  return `No decision within ${approval.timeoutMinutes} minutes; ask again to get a new card. Nothing was changed.`;
}
