/**
 * What the user asked the bot for, read from one Teams message.
 *
 * The text arrives after the bot's @mention was stripped, but Teams can still leave `<at>` markup,
 * formatting tags and HTML entities behind, so the message is cleaned before it is read. Reading is
 * forgiving about case, whitespace, quotes and trailing punctuation, and strict about nothing else:
 * whatever is not understood comes back as `unknown`, and the caller answers with help.
 *
 * A duration is read only at the very end of an elevation, after the last `for`, and only when
 * all that follows it is a duration (see duration.ts): `elevate me in Apps for Finance` asks for
 * the environment "Apps for Finance", and `elevate me in Dev for a while` for "Dev for a while"
 * (which no environment is likely to match, so the user hears about it). An environment whose
 * name ends in something like "for 2h" is quoted. A duration that is understood is returned even
 * when it is not allowed (`for 0m`, `for 10000h`): the use case refuses it with the maximum.
 */

import { parseDuration } from './duration';
import { withoutInvisibleControls } from './visible-text';

/** Longer messages are refused before any cleaning: nobody needs 500 characters to name an environment. */
export const MAX_COMMAND_LENGTH = 500;

/** How much of a message we did not understand is kept for echoing back, in characters. */
export const MAX_ECHOED_LENGTH = 100;

/** What `notify` does with the channel or chat it is typed in. */
export type NotifyAction = 'here' | 'off' | 'status';

export type Command =
  /**
   * `elevate [me] [in] <environment> [for <duration>]`: the environment as typed (name, id, domain
   * name or URL), and the minutes asked for (absent: none said, the default applies).
   */
  | { kind: 'elevate'; target: string; minutes?: number }
  /** `elevate`, `elevate me`, `elevate me in`, `elevate in ""`. */
  | { kind: 'elevate-missing-target' }
  /** `help`, `?`, `hi`, `hello`, `start`, or an empty message (just the @mention). */
  | { kind: 'help' }
  /** `notify here [filter]`, `notify off`, `notify status`. */
  | { kind: 'notify'; action: NotifyAction; filter?: string }
  /** `history`: the requester's own past elevations. */
  | { kind: 'history' }
  /** `audit [in] <environment>`. */
  | { kind: 'audit'; target: string }
  /** `audit` alone. */
  | { kind: 'audit-missing-target' }
  /** `environments [words]`: the environments the user can see, those matching the words. */
  | { kind: 'environments'; words: string }
  /**
   * `done`, `I'm done`, `done in <environment>`: end one's own active elevation now (the only one,
   * or the one in that environment).
   */
  | { kind: 'done'; target?: string }
  /** `elevations`, `my elevations`, `active elevations`: one's own active elevations. */
  | { kind: 'elevations' }
  /** `who is elevated`, `who's elevated`: every active elevation (the bot's administrators). */
  | { kind: 'who-is-elevated' }
  /**
   * `policy`: every rule of the policy (the bot's administrators); `policy [for|in] <environment>`:
   * the rule that applies there, and why (anyone).
   */
  | { kind: 'policy'; target?: string }
  /** The message is longer than MAX_COMMAND_LENGTH; `length` is its raw length. */
  | { kind: 'too-long'; length: number }
  /**
   * Anything else; `text` is the cleaned message, at most MAX_ECHOED_LENGTH characters. When the
   * first word is a typo of a command's keyword, `suggestion` is the message as probably meant
   * (never run by itself: the user is asked).
   */
  | { kind: 'unknown'; text: string; suggestion?: Suggestion };

/** "Did you mean `elevate me in Contoso Dev`?": the corrected message and what it would do. */
export interface Suggestion {
  text: string;
  command: Exclude<Command, { kind: 'unknown' | 'too-long' }>;
}

export type CommandKind = Command['kind'];

const HELP: Command = { kind: 'help' };
const ELEVATIONS: Command = { kind: 'elevations' };
const WHO_IS_ELEVATED: Command = { kind: 'who-is-elevated' };

/** Greetings count as asking for help: a first-time user says hello before anything else. */
const HELP_WORDS = new Set(['help', 'hi', 'hello', 'start']);

/** A mention of anyone (normally the bot itself) is not part of the command. */
const MENTION = /<at(?:\s[^<>]*)?>[\s\S]*?<\/at\s*>/gi;
/** Formatting Teams may wrap around text (backticks arrive as <code>); other `<...>` is kept as typed. */
const FORMATTING_TAG =
  /<\/?(?:at|p|div|span|br|b|i|u|s|em|strong|code|pre|a|blockquote|ul|ol|li|h[1-6])(?:\s[^<>]*)?\/?>/gi;
const ENTITY = /&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi;
const NAMED_ENTITIES = new Map([
  ['nbsp', '\u00a0'],
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
]);
/** `\s` already covers NBSP, the Unicode spaces and BOM; add the invisible ones Teams copies in. */
const WHITESPACE = /[\s\u200b\u2060\u180e]+/g;
/** Phones and Word write "I’m" and "who’s" with a typographic apostrophe. */
const APOSTROPHES = /[\u2019\u2018\u02bc\u00b4`]/g;
const TRAILING_PUNCTUATION = /[\s.!?\u2026\u3002\uff01\uff1f]+$/u;
/** Straight, curly and angle quotes and backticks, as phones and Word autocorrect them. */
const QUOTES = new Set([
  '"',
  "'",
  '`',
  '\u201c',
  '\u201d',
  '\u201e',
  '\u2018',
  '\u2019',
  '\u201a',
  '\u00ab',
  '\u00bb',
  '\u2039',
  '\u203a',
]);
/** A target made only of these says nothing (`elevate in ""`, `elevate ...`). */
const NOTHING =
  /^[\s"'`\u201c\u201d\u201e\u2018\u2019\u201a\u00ab\u00bb\u2039\u203a.,;:!?\u2026]*$/u;

/** Reads one message. Pure; the cost is bounded by MAX_COMMAND_LENGTH. */
export function parseCommand(text: string): Command {
  // Checked on the raw text, before any regular expression runs over it.
  if (text.length > MAX_COMMAND_LENGTH) return { kind: 'too-long', length: text.length };

  const message = cleanMessage(text);
  if (message === '') return HELP;

  const space = message.indexOf(' ');
  const firstWord = space === -1 ? message : message.slice(0, space);
  const rest = space === -1 ? '' : message.slice(space + 1);
  // A leading slash is how other bots take commands ("/help"), and people write "elevate: X".
  const keyword = withoutTrailingPunctuation(
    firstWord.toLowerCase().replace(/^\//, '').replace(/[:,]$/, '').replace(APOSTROPHES, "'"),
  );

  const read = KEYWORDS.get(keyword);
  const command = read ? read(withoutTrailingPunctuation(rest)) : undefined;
  if (command) return command;
  const unknown = { kind: 'unknown', text: capped(message, MAX_ECHOED_LENGTH) } as const;
  const suggestion = read ? undefined : suggestionFor(keyword, rest);
  return suggestion ? { ...unknown, suggestion } : unknown;
}

/**
 * The keywords a typo is compared with (greetings are not: "hi" is too short to be mistyped; nor
 * are the first words of "I'm done" and "who is elevated", which are ordinary words).
 */
const TYPO_TARGETS = [
  'elevate',
  'elevations',
  'environments',
  'notify',
  'history',
  'audit',
  'policy',
  'help',
  'done',
];

/**
 * The message with its first word replaced by the keyword it is a typo of ("elevat", "hepl",
 * "histroy", "notfy", "elevatoins"), when the corrected message is a command; undefined otherwise.
 * Short keywords allow one typo, longer ones two. Of the corrections that are commands, the
 * closest is taken, and only when no other is as close: "elevate" and "elevations" are near each
 * other, so "elevatio me in X" can only mean the first, and "elevatio" alone either.
 */
function suggestionFor(typed: string, rest: string): Suggestion | undefined {
  if (typed.length < 3) return undefined;
  const candidates: Array<Suggestion & { distance: number }> = [];
  for (const keyword of TYPO_TARGETS) {
    const limit = keyword.length <= 5 ? 1 : 2;
    const distance = typoDistance(typed, keyword, limit);
    if (distance > limit) continue;
    const text = rest === '' ? keyword : `${keyword} ${rest}`;
    const command = parseCommand(text);
    if (command.kind === 'unknown' || command.kind === 'too-long') continue;
    candidates.push({ text, command, distance });
  }
  const closest = Math.min(...candidates.map((candidate) => candidate.distance));
  const [best, ...asClose] = candidates.filter((candidate) => candidate.distance === closest);
  if (best === undefined || asClose.length > 0) return undefined;
  return { text: best.text, command: best.command };
}

/**
 * Edit distance where swapping two neighbours is one edit (optimal string alignment), or
 * `limit + 1` as soon as it must be more than `limit`. The words are short: a plain table.
 */
function typoDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      rows[i]![j] = best;
    }
  }
  return Math.min(rows[a.length]![b.length]!, limit + 1);
}

/** Each keyword reads the rest of the message, or returns undefined when it makes no sense. */
type KeywordReader = (rest: string) => Command | undefined;

/** A Map, not an object literal: a message saying "constructor" must not find Object's. */
const KEYWORDS = new Map<string, KeywordReader>([
  // "?" and "..." leave an empty keyword once punctuation is gone; they are questions too.
  ['', (rest) => (rest === '' ? HELP : undefined)],
  ...[...HELP_WORDS].map((word): [string, KeywordReader] => [
    word,
    (rest) => (rest === '' ? HELP : undefined),
  ]),
  ['elevate', readElevate],
  ['notify', readNotify],
  ['history', (rest) => (rest === '' ? { kind: 'history' } : undefined)],
  ['audit', readAudit],
  ['policy', readPolicy],
  ['environments', (rest) => ({ kind: 'environments', words: targetFrom(rest) ?? '' })],
  ['done', readDone],
  ["i'm", (rest) => afterWords(rest, ['done'], readDone)],
  ['im', (rest) => afterWords(rest, ['done'], readDone)],
  ['i', (rest) => afterWords(rest, ['am', 'done'], readDone)],
  ['elevations', alone(ELEVATIONS)],
  ['my', (rest) => afterWords(rest, ['elevations'], alone(ELEVATIONS))],
  [
    'active',
    (rest) => (rest === '' ? ELEVATIONS : afterWords(rest, ['elevations'], alone(ELEVATIONS))),
  ],
  ['who', (rest) => afterWords(rest, ['is', 'elevated'], alone(WHO_IS_ELEVATED))],
  ["who's", (rest) => afterWords(rest, ['elevated'], alone(WHO_IS_ELEVATED))],
  ['whos', (rest) => afterWords(rest, ['elevated'], alone(WHO_IS_ELEVATED))],
]);

function readElevate(rest: string): Command {
  // "me" and "in" are optional filler; an environment really named "In ..." can be quoted.
  const { before, minutes } = splitDuration(
    withoutLeadingWord(withoutLeadingWord(rest, 'me'), 'in'),
  );
  const target = targetFrom(before);
  if (target === undefined) return { kind: 'elevate-missing-target' };
  return minutes === undefined ? { kind: 'elevate', target } : { kind: 'elevate', target, minutes };
}

/** Ends at the last `for`: a name's own "for" ("Apps for Finance") is seldom its last words. */
const LAST_FOR = /(?:^| )for (?!.* for )(.*)$/i;

/**
 * "Contoso Dev for 2h" as "Contoso Dev" and 120 minutes; the text as it was when it does not end
 * with `for` and a duration (see the header comment).
 */
function splitDuration(text: string): { before: string; minutes?: number } {
  const found = LAST_FOR.exec(text);
  const minutes = found ? parseDuration(found[1] ?? '') : undefined;
  if (!found || minutes === undefined) return { before: text };
  // "Contoso Dev, for 2h": the comma belongs to the sentence, not to the name.
  return { before: text.slice(0, found.index).replace(/,$/, ''), minutes };
}

/** `done`, `done in <environment>`, `done with <environment>`; `done <anything else>` is not read. */
function readDone(rest: string): Command | undefined {
  if (rest === '') return { kind: 'done' };
  for (const word of ['in', 'with']) {
    const after = withoutLeadingWord(rest, word);
    if (after === rest) continue;
    const target = targetFrom(after);
    return target === undefined ? { kind: 'done' } : { kind: 'done', target };
  }
  return undefined;
}

/** Reads `command` when nothing follows it: a word we would silently ignore is answered with help. */
function alone(command: Command): KeywordReader {
  return (rest) => (rest === '' ? command : undefined);
}

/**
 * What follows the given words (any case), read by `then`; undefined when the text does not
 * begin with them. "i'm done in X": the words ["done"], then "in X".
 */
function afterWords(
  text: string,
  words: readonly string[],
  then: KeywordReader,
): Command | undefined {
  let rest = text;
  for (const word of words) {
    const after = withoutLeadingWord(rest, word);
    if (after === rest) return undefined;
    rest = after;
  }
  return then(rest);
}

function readPolicy(rest: string): Command {
  const target = targetFrom(withoutLeadingWord(withoutLeadingWord(rest, 'for'), 'in'));
  return target === undefined ? { kind: 'policy' } : { kind: 'policy', target };
}

function readAudit(rest: string): Command {
  const target = targetFrom(withoutLeadingWord(rest, 'in'));
  return target === undefined ? { kind: 'audit-missing-target' } : { kind: 'audit', target };
}

function readNotify(rest: string): Command | undefined {
  const space = rest.indexOf(' ');
  const action = (space === -1 ? rest : rest.slice(0, space)).toLowerCase();
  const argument = space === -1 ? '' : rest.slice(space + 1);
  switch (action) {
    case 'here': {
      const filter = targetFrom(argument);
      return filter === undefined ? { kind: 'notify', action } : { kind: 'notify', action, filter };
    }
    case 'off':
    case 'status':
      // An argument we would silently ignore is better answered with help.
      return argument === '' ? { kind: 'notify', action } : undefined;
    default:
      return undefined;
  }
}

/**
 * The environment as the user typed it, without surrounding quotes or trailing punctuation, or
 * undefined when nothing is left. Inner text is kept as is (URLs, ids and dashes included).
 */
function targetFrom(text: string): string | undefined {
  let target = withoutTrailingPunctuation(text);
  // Loop: `"Contoso Dev".`, `'"Contoso"'` and ```Contoso``` all peel down to the name.
  while (
    target.length >= 2 &&
    QUOTES.has(target.charAt(0)) &&
    QUOTES.has(target.charAt(target.length - 1))
  ) {
    target = withoutTrailingPunctuation(target.slice(1, -1).trim());
  }
  return NOTHING.test(target) ? undefined : target;
}

/** Removes `word` (any case) when it is the whole text or followed by a space. */
function withoutLeadingWord(text: string, word: string): string {
  const head = text.slice(0, word.length).toLowerCase();
  if (head !== word) return text;
  if (text.length === word.length) return '';
  return text.charAt(word.length) === ' ' ? text.slice(word.length + 1) : text;
}

function withoutTrailingPunctuation(text: string): string {
  return text.replace(TRAILING_PUNCTUATION, '');
}

/** Mentions and formatting removed, entities decoded once, whitespace collapsed to single spaces. */
function cleanMessage(text: string): string {
  const decoded = text
    .replace(MENTION, ' ')
    .replace(FORMATTING_TAG, ' ')
    .replace(ENTITY, decodeEntity);
  // Zero-width spaces separate words (as whitespace); the other invisible controls go, since what
  // the user typed is echoed back ("No environment matches ...").
  return withoutInvisibleControls(decoded.replace(WHITESPACE, ' ')).replace(WHITESPACE, ' ').trim();
}

function decodeEntity(entity: string, body: string): string {
  if (body.charAt(0) !== '#') return NAMED_ENTITIES.get(body.toLowerCase()) ?? entity;
  const hex = body.charAt(1) === 'x' || body.charAt(1) === 'X';
  const codePoint = Number.parseInt(body.slice(hex ? 2 : 1), hex ? 16 : 10);
  const isScalarValue = codePoint <= 0x10ffff && (codePoint < 0xd800 || codePoint > 0xdfff);
  return codePoint > 0 && isScalarValue ? String.fromCodePoint(codePoint) : entity;
}

/** At most `max` code points (never half an emoji), ending with "…" when something was cut. */
function capped(text: string, max: number): string {
  if (text.length <= max) return text;
  const codePoints = Array.from(text);
  return codePoints.length <= max ? text : `${codePoints.slice(0, max - 1).join('')}\u2026`;
}
