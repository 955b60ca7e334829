/**
 * Cards are data: JSON templates beside this folder's files, filled by one typed function per card
 * (one file per card family). Everything that came from a user or from the API is placed in
 * TextRuns, which Adaptive Cards never read as Markdown, so a justification like
 * "[click](https://evil)" stays plain text. This file holds what every family fills a template with.
 */
import type { Template } from 'adaptivecards-templating';

export type AdaptiveCard = Record<string, unknown> & { type: 'AdaptiveCard' };

export type Color = 'Default' | 'Good' | 'Attention' | 'Warning' | 'Accent';

export interface Fact {
  title: string;
  value: string;
  color: Color;
  weight: 'Default' | 'Bolder';
}

export function fill(template: Template, data: object): AdaptiveCard {
  return template.expand({ $root: data }) as AdaptiveCard;
}

export function fact(
  title: string,
  value: string | undefined,
  color: Color = 'Default',
  weight: Fact['weight'] = 'Default',
): Fact[] {
  return value ? [{ title, value, color, weight }] : [];
}
