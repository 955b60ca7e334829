/**
 * What a subscribed channel sees of each elevation (or refused attempt): who, where, why, the
 * outcome and its correlation id, on the request-status template; and its one-line summary. The
 * end of a time-boxed elevation shows how its removal went instead, with Dataverse's request id.
 */
import { Template } from 'adaptivecards-templating';
import type { ElevationNotification } from '../../elevation/notifications';
import { removalResultLabel } from '../../elevation/removal-text';
import { type AdaptiveCard, type Color, type Fact, fact, fill } from './card-template';
import { lateBy, removalStatusText } from './time-box-look';
import { windowText } from '../../policy/checks';
import requestStatusTemplate from './templates/request-status.json';

const template = new Template(requestStatusTemplate);

const NOTIFICATION_LOOK: Record<
  ElevationNotification['kind'],
  { icon: string; color: Color; headline: string }
> = {
  succeeded: { icon: '✅', color: 'Good', headline: 'Elevation succeeded' },
  failed: { icon: '❌', color: 'Attention', headline: 'Elevation FAILED' },
  refused: { icon: '⛔', color: 'Warning', headline: 'Elevation refused: not a tenant admin' },
  'sign-in-refused': { icon: '🚨', color: 'Attention', headline: 'Refused sign-in tokens' },
  'role-removed': { icon: '🔒', color: 'Good', headline: 'Role removed' },
  'removal-failed': { icon: '❌', color: 'Attention', headline: 'Role removal FAILED' },
  'removal-overdue': { icon: '🚨', color: 'Attention', headline: 'Role removal OVERDUE' },
  'rate-limit': { icon: '🚨', color: 'Attention', headline: 'Elevation refused: rate limit' },
  approved: { icon: '👍', color: 'Good', headline: 'Elevation approved' },
  denied: { icon: '👎', color: 'Warning', headline: 'Elevation denied' },
};

function personText(person: ElevationNotification['requester']): string {
  return person.upn && person.upn !== person.name ? `${person.name} (${person.upn})` : person.name;
}

/** One line for the activity feed and for clients without cards. */
export function notificationSummary(notification: ElevationNotification): string {
  const who = personText(notification.requester);
  const where = notification.environment?.displayName ?? notification.query ?? 'an environment';
  switch (notification.kind) {
    case 'succeeded':
      return `${who} elevated to System Administrator in ${where}`;
    case 'failed':
      return `Elevation failed: ${who} in ${where}`;
    case 'refused':
      return `Elevation refused: ${who} is not a tenant admin`;
    case 'sign-in-refused':
      return `Refused sign-in tokens for ${who}`;
    case 'role-removed':
      return notification.removal?.early
        ? `System Administrator removed early, as ${who} asked, in ${where}`
        : `System Administrator removed: ${who} in ${where}`;
    case 'removal-failed':
      return `Role removal failed: ${who} in ${where}`;
    case 'removal-overdue':
      return `Role removal overdue: ${who} in ${where}`;
    case 'rate-limit': {
      const limit = notification.rateLimit;
      return limit
        ? `Rate limit reached: ${who} in ${where}, ${limit.count} elevations ${limit.scope === 'user' ? 'by them' : 'there'} in the last ${windowText(limit.windowMinutes)} (rule '${limit.rule}', at most ${limit.limit})`
        : `Rate limit reached: ${who} in ${where}`;
    }
    case 'approved':
      return `${notification.decidedBy?.name ?? 'An approver'} approved ${who}'s elevation in ${where}`;
    case 'denied':
      return `${notification.decidedBy?.name ?? 'An approver'} denied ${who}'s elevation in ${where}`;
  }
}

/** What a subscribed channel sees: who, where, why, the outcome and its correlation id. */
export function notificationCard(notification: ElevationNotification): AdaptiveCard {
  const look = NOTIFICATION_LOOK[notification.kind];
  const environment = notification.environment;
  const outcome = notification.outcome;
  const production = environment ? environment.type.toLowerCase() === 'production' : false;
  const removal = notification.removal;
  const facts: Fact[] = [
    ...fact('Who', personText(notification.requester), 'Default', 'Bolder'),
    ...fact('User id', notification.requester.aadObjectId),
    ...fact('Environment', environment?.displayName, 'Default', 'Bolder'),
    ...fact('Environment id', environment?.id),
    ...fact(
      'Type',
      environment && production ? `${environment.type} ⚠` : environment?.type,
      production ? 'Attention' : 'Default',
      production ? 'Bolder' : 'Default',
    ),
    ...fact('Asked for', notification.query),
    ...fact('Justification', notification.justification),
  ];
  if (notification.decidedBy) {
    facts.push(
      ...fact('Policy rule', notification.rule),
      ...fact(
        notification.kind === 'approved' ? 'Approved by' : 'Denied by',
        notification.decidedBy.name,
        'Default',
        'Bolder',
      ),
      ...fact('Approver id', notification.decidedBy.aadObjectId),
      ...fact('Reason', notification.reason),
    );
  } else if (removal) {
    facts.push(...removalFacts(notification.kind, removal, notification.at));
  } else {
    facts.push(
      ...fact(
        'Outcome',
        outcome
          ? outcome.ok
            ? 'Succeeded'
            : `Failed (${outcome.kind})`
          : notification.kind === 'sign-in-refused'
            ? 'Sign-in refused'
            : notification.kind === 'rate-limit'
              ? 'Refused: over the rate limit'
              : 'Refused before any call',
        outcome?.ok ? 'Good' : 'Attention',
        'Bolder',
      ),
      ...fact('Reason', outcome?.message ?? notification.reason),
      ...fact('Policy rule', notification.rateLimit?.rule),
      ...fact('HTTP status', outcome?.status),
      ...fact('Error code', outcome?.errorCode),
    );
  }
  if (outcome) {
    facts.push(
      ...fact(
        'Correlation id',
        outcome.correlationId ?? 'none returned by the API',
        'Default',
        'Bolder',
      ),
      ...fact('Client request id', outcome.clientRequestId),
    );
  }
  facts.push(...fact('Time', preciseTime(notification.at)));
  return fill(template, {
    icon: look.icon,
    color: look.color,
    headline: look.headline,
    explanation: notificationSummary(notification),
    nextStep: '',
    nextStepLabel: '',
    facts,
    details: [],
    tryAgain: '',
    requestId: '',
    // The request-status template's time-box parts, which a channel never gets.
    timeLine: '',
    done: '',
    extend: '',
    extendTitle: '',
    removeNow: '',
  });
}

/**
 * The end of a time-boxed elevation, for a channel: how the removal went, when it was due, when it
 * ended or how late it is, and Dataverse's request id (when Dataverse was asked).
 */
function removalFacts(
  kind: ElevationNotification['kind'],
  removal: NonNullable<ElevationNotification['removal']>,
  at: string,
): Fact[] {
  const asked = removal.kind !== 'kept' && removal.kind !== 'token-unavailable';
  const late = removal.early ? undefined : lateBy(removal.endsAt, at);
  return [
    ...fact(
      'Result',
      removalResultLabel(removal.kind, removal.early),
      kind === 'role-removed' ? 'Good' : 'Attention',
      'Bolder',
    ),
    ...fact('Reason', removal.message),
    ...fact('Ended early', removal.early ? "Yes, by the user (I'm done or Remove now)" : undefined),
    ...fact(kind === 'role-removed' ? 'Was to end at' : 'Was due at', preciseTime(removal.endsAt)),
    ...fact(kind === 'role-removed' ? 'Ended at' : 'Still there at', preciseTime(at)),
    ...fact(kind === 'role-removed' ? 'Late by' : 'Overdue by', late, 'Warning'),
    ...fact('HTTP status', asked ? removalStatusText(removal.status) : undefined),
    ...fact(
      'Dataverse request id',
      asked ? (removal.requestId ?? 'none returned by Dataverse') : undefined,
      'Default',
      'Bolder',
    ),
  ];
}

/** "2026-11-26 14:28:05 UTC": to the second, for lining up with other logs. */
function preciseTime(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
