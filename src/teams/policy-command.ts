/**
 * The policy in chat: `policy` (every rule in order, what each asks, where the policy came from;
 * the bot's administrators only), `policy <environment>` (the rule that applies there and why;
 * anyone, resolved as `elevate me in` resolves it), and what the confirmation card says of the
 * rule that applies to its request.
 */
import { CardFactory, type TurnContext } from 'botbuilder';
import type { Guardrails } from '../elevation/guardrails';
import type { ElevationRequest, Requester } from '../elevation/request';
import type { TimeBoxSettings } from '../elevation/time-box';
import { formatMinutes } from '../elevation/duration';
import { mayReadPolicy } from '../elevation/who-may';
import { describeHours, ruleDurations, windowText } from '../policy/checks';
import type { PolicyRule } from '../policy/policy';
import type { BotParts } from './bot-options';
import { noticeCard } from './cards/notice-card';
import { audienceOf, timeBoxElsewhere, whoAreTheAdmins } from './hints';
import { noticeActivity } from './replies';
import { sendRequestResult } from './request-answers';

/** What the rule asks, in one sentence's parts: "approval by ..., step-up c1, at most 2 hours". */
export function ruleAsks(
  rule: PolicyRule,
  settings: TimeBoxSettings | undefined,
  justificationRequired: boolean,
): string[] {
  const asks: string[] = [];
  const approval = rule.approval;
  if (approval) {
    const by = [
      ...(approval.approvers ? [`one of ${approval.approvers.length} approvers`] : []),
      ...(approval.channel
        ? [
            `a member of the approvers' channel of ${approval.channel.team} (${approval.channel.channel})`,
          ]
        : []),
    ];
    asks.push(`approval by ${by.join(' or ')} within ${formatMinutes(approval.timeoutMinutes)}`);
  }
  if (rule.stepUp) asks.push(`step-up ${rule.stepUp} (fresh sign-in with MFA)`);
  if (settings) {
    const { defaultMinutes, maxMinutes } = ruleDurations(rule, settings);
    asks.push(
      `at most ${formatMinutes(maxMinutes)} (${formatMinutes(defaultMinutes)} unless asked)`,
    );
  }
  const justification = rule.justification ?? { required: justificationRequired };
  const words = [justification.required ? 'justification required' : 'justification optional'];
  if (justification.minLength) words.push(`at least ${justification.minLength} characters`);
  if (justification.pattern)
    words.push(
      `must match ${justification.pattern}${justification.patternHelp ? ` (${justification.patternHelp})` : ''}`,
    );
  asks.push(words.join(', '));
  const { perUser, perEnvironment } = rule.rateLimit ?? {};
  if (perUser)
    asks.push(`at most ${perUser.count} per person per ${windowText(perUser.windowMinutes)}`);
  if (perEnvironment)
    asks.push(
      `at most ${perEnvironment.count} per environment per ${windowText(perEnvironment.windowMinutes)}`,
    );
  const hours = rule.allowedHours;
  if (hours)
    asks.push(
      `only ${describeHours(hours)} (outside: ${hours.outside === 'refuse' ? 'refused' : 'approval needed'})`,
    );
  return asks;
}

/** What a rule matches, in words. */
function ruleMatches(rule: PolicyRule): string {
  const { types, namePattern, ids } = rule.match;
  const parts = [
    ...(types?.length ? [`type ${types.join(' or ')}`] : []),
    ...(namePattern !== undefined ? [`name matching /${namePattern}/i`] : []),
    ...(ids?.length ? [`id ${ids.join(' or ')}`] : []),
  ];
  return parts.length ? parts.join(' and ') : 'every environment';
}

/** The confirmation card's rule line and justification hint, and the rule's durations. */
export function confirmationPolicy(
  guardrails: Guardrails,
  request: ElevationRequest,
  settings: TimeBoxSettings | undefined,
): {
  justificationRequired: boolean;
  durations?: { defaultMinutes: number; maxMinutes: number };
  policy?: string;
  justificationHint?: string;
} {
  const rule = guardrails.ruleOf(request);
  const durations = settings && ruleDurations(rule, settings);
  const justification = rule.justification;
  // Without a policy file the card says what it always said: the settings apply.
  const named = guardrails.policy.source !== 'default';
  const why = request.policy?.why ?? guardrails.ruleFor(request.environment).why;
  return {
    justificationRequired: justification?.required ?? guardrails.justificationRequired,
    durations,
    ...(named && {
      policy: `Policy: the rule '${rule.name}' applies because ${why}${durations ? `; at most ${formatMinutes(durations.maxMinutes)}` : ''}.`,
    }),
    ...(justification?.patternHelp && { justificationHint: justification.patternHelp }),
  };
}

/** `policy`: every rule in order, for the bot's administrators. */
export async function policyCommand(
  bot: BotParts,
  context: TurnContext,
  requester: Requester,
): Promise<void> {
  if (!mayReadPolicy(requester, bot.botAdminIds)) {
    await bot.subscriptions.refuse(requester, undefined, 'policy');
    const admins = await bot.subscriptions.adminNames();
    await context.sendActivity(
      noticeActivity({
        title: 'Sorry, you cannot do that',
        lines: [
          "Only the bot's administrators can read the whole policy, and you are not one of them. Your attempt was recorded.",
          whoAreTheAdmins(admins),
          'Write “policy <environment>” to see the rule that applies to one environment.',
        ],
        color: 'Warning',
      }),
    );
    return;
  }
  const { guardrails } = bot.service;
  const { policy } = guardrails;
  const settings = bot.timeBoxes?.settings;
  const lines = [
    policy.source === 'default'
      ? 'No policy file (POLICY_FILE is not set): one rule made of the settings applies everywhere.'
      : `From ${policy.source}. The first rule that matches an environment applies.`,
    ...policy.rules.map(
      (rule, index) =>
        `${index + 1}. '${rule.name}'${rule.name === policy.appended ? ' (appended: the file has no rule for every environment)' : ''}, for ${ruleMatches(rule)}: ${ruleAsks(rule, settings, guardrails.justificationRequired).join('; ')}.${rule.description ? ` ${rule.description}` : ''}`,
    ),
  ];
  await context.sendActivity({
    attachments: [CardFactory.adaptiveCard(noticeCard({ title: 'Elevation policy', lines }))],
  });
}

/** `policy <environment>`: the rule that applies there, and why; anyone may ask. */
export async function policyForCommand(
  bot: BotParts,
  context: TurnContext,
  requester: Requester,
  target: string,
  commandText: string,
): Promise<void> {
  if (context.activity.conversation?.conversationType === 'channel') {
    // Finding the environment needs the user's sign-in, which channels cannot do.
    await context.sendActivity(timeBoxElsewhere(audienceOf(context), `policy ${target}`));
    return;
  }
  await context.sendActivity({ type: 'typing' });
  const found = await bot.service.findEnvironment(requester, target);
  if (found.kind === 'ambiguous' || found.kind === 'not-found') {
    const names = found.kind === 'ambiguous' ? found.candidates : found.suggestions;
    const lines = [
      found.kind === 'ambiguous'
        ? `Several environments you can see match "${target}".`
        : `No environment you can see is called "${target}".`,
      ...(names.length
        ? [`Ask again with one of: ${names.map((e) => e.displayName).join(', ')}.`]
        : ['Write “environments” to see the ones you can.']),
    ];
    await context.sendActivity(noticeActivity({ title: 'Which environment?', lines }));
    return;
  }
  if (found.kind !== 'found') {
    await sendRequestResult(bot, context, requester, found, commandText);
    return;
  }
  const { guardrails } = bot.service;
  const { rule, why } = guardrails.ruleFor(found.environment);
  const asks = ruleAsks(rule, bot.timeBoxes?.settings, guardrails.justificationRequired);
  await context.sendActivity({
    attachments: [
      CardFactory.adaptiveCard(
        noticeCard({
          title: `Policy for ${found.environment.displayName}`,
          lines: [
            `The rule '${rule.name}' applies because ${why}: ${asks.join(', ')}.`,
            ...(rule.description ? [rule.description] : []),
          ],
        }),
      ),
    ],
  });
}
