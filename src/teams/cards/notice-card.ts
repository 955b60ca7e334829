/** A short message card: a title and lines of plain text (TextRuns), whatever they contain. */
import { Template } from 'adaptivecards-templating';
import { type AdaptiveCard, type Color, fill } from './card-template';
import noticeTemplate from './templates/notice.json';

const template = new Template(noticeTemplate);

export interface NoticeOptions {
  title: string;
  lines: string[];
  color?: Color;
}

/** A short message with text that may contain user or API input. */
export function noticeCard(options: NoticeOptions): AdaptiveCard {
  return fill(template, {
    title: options.title,
    color: options.color ?? 'Default',
    lines: options.lines,
  });
}
