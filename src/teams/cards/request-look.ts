/**
 * How a request and its environment read on any card (confirmation, status, history): the facts,
 * the times, who is told ("you" or the requester's name), and what each state looks like.
 */
import { type ClosedBecause, type ElevationRequest } from '../../elevation/request';
import type { OutcomeReader } from '../../elevation/outcome-text';
import type { Environment } from '../../elevation/vocabulary';
import { type Color, type Fact, fact } from './card-template';
import { formatterIn } from '../../support/date-formats';

export function isProduction(environment: Environment): boolean {
  return environment.type.toLowerCase() === 'production';
}

/** "2026-11-26 14:28 UTC": TextRuns cannot use the card's DATE()/TIME() functions. */
export function readableTime(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * "14:38 UTC", or in the user's own time zone when Teams said which ("15:38 CET"). An unknown
 * zone name falls back to UTC.
 */
export function clockTime(iso: string, timeZone?: string): string {
  // Not a zone this runtime knows: UTC is still true.
  const format = (timeZone && formatterIn('clock', timeZone)) || formatterIn('clock', 'UTC')!;
  return format.format(new Date(iso));
}

/**
 * Who reads a request's card and its outcome: in a personal chat the requester alone ("you"); in
 * a group chat the others too, so the texts name the requester. The card's conversation decides.
 */
export function outcomeReader(request: ElevationRequest): OutcomeReader {
  const where = request.conversation as
    { conversation?: { conversationType?: string } } | undefined;
  const type = where?.conversation?.conversationType;
  const shared = type !== undefined && type !== 'personal';
  return {
    thirdPersonName: shared ? request.requester.name : undefined,
    adminRoles: request.requester.adminRoles,
    roleChecked: !!request.roleCheck && request.roleCheck.result !== 'not-checked',
  };
}

function region(environment: Environment): string | undefined {
  const parts = [environment.azureRegion, environment.geo].filter(Boolean);
  return parts.length ? parts.join(' / ') : undefined;
}

export function environmentFacts(environment: Environment): Fact[] {
  const production = isProduction(environment);
  return [
    ...fact('Environment', environment.displayName, 'Default', 'Bolder'),
    ...fact('Id', environment.id),
    ...fact(
      'Type',
      production ? `${environment.type} ⚠` : environment.type,
      production ? 'Attention' : 'Default',
      production ? 'Bolder' : 'Default',
    ),
    ...fact('State', environment.state),
    ...fact('Region', region(environment)),
    ...fact('Dataverse URL', environment.dataverseUrl),
  ];
}

export function requesterText(request: ElevationRequest): string {
  const { name, upn } = request.requester;
  return upn && upn !== name ? `${name} (${upn})` : name;
}

/** A card closed without its Cancel being pressed says why (see ClosedBecause). */
export function closedLook(
  because: ClosedBecause,
  request: ElevationRequest,
  reader: OutcomeReader,
): { headline: string; explanation: string } {
  const name = request.environment.displayName;
  const who = reader.thirdPersonName;
  switch (because.kind) {
    case 'replaced':
      return {
        headline: 'Replaced by a newer request',
        explanation: `${who ?? 'You'} asked again for ${name}: only the newest card can be used. Nothing was changed by this one.`,
      };
    case 'elevated-elsewhere':
      return {
        headline: `Closed: ${who ?? 'you'} elevated from another card`,
        explanation: `${who ?? 'You'} elevated in ${name} from another card, so this one can no longer be used. Nothing was changed by this one.`,
      };
    case 'denied': {
      const approval = request.policy?.approval;
      const decider = approval?.decidedBy?.name ?? 'An approver';
      return {
        headline: `Denied by ${decider}`,
        explanation: `${decider} denied the elevation in ${name}${approval?.reason ? `: "${approval.reason}"` : ''}. Nothing was changed.`,
      };
    }
  }
}

export const STATE_LOOK: Record<
  ElevationRequest['state'],
  { icon: string; color: Color; headline: string }
> = {
  requested: { icon: '⏳', color: 'Default', headline: 'Waiting for confirmation' },
  executing: { icon: '⏳', color: 'Accent', headline: 'Elevation in progress' },
  succeeded: { icon: '✅', color: 'Good', headline: 'Elevated' },
  failed: { icon: '❌', color: 'Attention', headline: 'Elevation failed' },
  cancelled: { icon: '🚫', color: 'Default', headline: 'Elevation cancelled' },
  expired: { icon: '⌛', color: 'Warning', headline: 'Elevation request expired' },
};
