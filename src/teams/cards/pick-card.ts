/**
 * The one way to choose an environment: one button per candidate, or a list past a few, and
 * Cancel. Used for names that match several environments or none, and for the `environments` list.
 */
import { Template } from 'adaptivecards-templating';
import type { Environment } from '../../elevation/vocabulary';
import { type AdaptiveCard, fill } from './card-template';
import { isProduction } from './request-look';
import pickTemplate from './templates/pick.json';

const template = new Template(pickTemplate);

/** Up to this many candidates get a button each; more are picked from a list with one button. */
export const MAX_PICK_BUTTONS = 5;
/** Button labels longer than this are cut, so that a row of them fits on a phone. */
const MAX_LABEL_LENGTH = 28;

/** A button's label: the display name, cut short; the details are in the card's text. */
function shortLabel(text: string): string {
  const codePoints = Array.from(text.trim());
  if (codePoints.length <= MAX_LABEL_LENGTH) return text.trim();
  return `${codePoints.slice(0, MAX_LABEL_LENGTH - 1).join('')}\u2026`;
}

/** "Production ⚠ · westeurope · <id>": what tells two environments apart, beside the button. */
function pickDetails(environment: Environment): string {
  const type = isProduction(environment) ? `${environment.type} ⚠` : environment.type;
  return [type, environment.azureRegion ?? environment.geo, environment.id]
    .filter(Boolean)
    .join(' · ');
}

/** Labels are unique on a card: two "Shared" environments become "Shared (Sandbox)", "Shared (Trial)". */
function uniqueLabels(environments: Environment[]): string[] {
  const plain = environments.map((e) => shortLabel(e.displayName || e.id));
  const typed = plain.map((label, i) =>
    plain.indexOf(label) === plain.lastIndexOf(label)
      ? label
      : shortLabel(`${environments[i]!.displayName} (${environments[i]!.type})`),
  );
  return typed.map((label, i) =>
    typed.indexOf(label) === typed.lastIndexOf(label) ? label : `${label} #${i + 1}`,
  );
}

export interface PickCardInput {
  /** What the user typed; echoed in the card and kept on the request they pick. */
  query: string;
  /** The duration asked for with the words, carried by each candidate's button. */
  minutes?: number;
  candidates: Environment[];
  /** How many matched in all; the card says how many are not shown. */
  total: number;
  /** Only this person may pick (the `pick` verb checks it). */
  requesterId: string;
  /** Default "Several environments match". */
  title?: string;
  /** Default: "Which one did you mean by <query>?". Plain text (TextRuns). */
  lines?: string[];
  /** What a candidate's button does: `pick` opens the confirmation card, `audit-page` the audit. */
  verb?: 'pick' | 'audit-page';
  /**
   * Offers the `environments` list (when the words matched nothing, or not what was meant), or
   * with `words` the list of what they match. By default offered when not every candidate is shown.
   */
  offerEnvironments?: { purpose: 'elevate' | 'audit'; words?: string };
  /** Previous / Next of the `environments` list: the data each sends with `environments-page`. */
  pages?: { previous?: Record<string, string>; next?: Record<string, string> };
  /** Says what the candidates not shown are, when there are some. */
  moreText?: string;
  /** The data each candidate's button carries besides the environment id (default: query and requester). */
  data?: (environment: Environment) => Record<string, string>;
}

/**
 * The one way to choose an environment: one button per candidate (short label, details beside it)
 * up to MAX_PICK_BUTTONS, else a list with one button; and Cancel, which closes the card.
 */
export function pickCard(input: PickCardInput): AdaptiveCard {
  const verb = input.verb ?? 'pick';
  const data =
    input.data ??
    (() => ({
      query: input.query,
      requesterId: input.requesterId,
      ...(input.minutes !== undefined && { minutes: String(input.minutes) }),
    }));
  const asButtons = input.candidates.length <= MAX_PICK_BUTTONS;
  const labels = uniqueLabels(input.candidates);
  const rows = input.candidates.map((environment, i) => ({
    label: labels[i]!,
    name: environment.displayName,
    // A cut label leaves the whole name to the text beside it.
    details:
      asButtons && labels[i] !== environment.displayName
        ? `${environment.displayName} · ${pickDetails(environment)}`
        : pickDetails(environment),
    verb,
    data: { ...data(environment), environmentId: environment.id },
  }));
  const more = Math.max(0, input.total - input.candidates.length);
  // Candidates beyond the cap are reached through the list of everything the words match.
  const offer =
    input.offerEnvironments ??
    (more > 0
      ? {
          purpose: verb === 'audit-page' ? ('audit' as const) : ('elevate' as const),
          words: input.query,
        }
      : undefined);
  return fill(template, {
    title: input.title ?? 'Several environments match',
    lines: input.lines ?? [`Which one did you mean by "${input.query}"?`],
    buttons: asButtons ? rows : [],
    listed: asButtons ? [] : rows,
    choices: asButtons
      ? []
      : rows.map((row) => ({ title: row.label, value: row.data.environmentId })),
    listVerb: verb,
    listData: data(input.candidates[0] ?? ({} as Environment)),
    more,
    moreText: input.moreText ?? `${more} more match: type more of the name, or show them all.`,
    offerEnvironments: offer ? 'yes' : '',
    environmentsTitle: offer?.words ? 'Show all matches' : 'Show my environments',
    environmentsData: {
      words: offer?.words ?? '',
      offset: '0',
      purpose: offer?.purpose ?? 'elevate',
      requesterId: input.requesterId,
    },
    hasPrevious: input.pages?.previous ? 'yes' : '',
    previousData: input.pages?.previous ?? {},
    hasNext: input.pages?.next ? 'yes' : '',
    nextData: input.pages?.next ?? {},
    cancellable: input.candidates.length > 0 ? 'yes' : '',
    requesterId: input.requesterId,
  });
}
