/**
 * What the bot tells people to write, said so that it works where it is read. In a group chat or a
 * channel the bot hears only messages that @mention it (Teams' rule), so every command it suggests
 * there carries the mention; in a personal chat it does not. And the same hint is written once for
 * a Markdown message (code spans, list dashes) and once for a card's TextRuns, where Markdown is
 * never rendered and backticks or dashes would show as typed.
 */
import type { TurnContext } from 'botbuilder';

/** Who reads the bot's answers in a conversation. */
export interface Audience {
  /** A group chat or a channel: others read along, and the bot needs an @mention. */
  shared: boolean;
  /** "@Elevation " where a mention is needed, "" in a personal chat. */
  mention: string;
}

/** The bot's name as Teams shows it (what an @mention writes), when the activity does not say. */
const DEFAULT_BOT_NAME = 'Elevation';

export function audienceOf(context: TurnContext): Audience {
  const { conversation, recipient } = context.activity;
  const shared = (conversation?.conversationType ?? 'personal') !== 'personal';
  return { shared, mention: shared ? `@${recipient?.name || DEFAULT_BOT_NAME} ` : '' };
}

/** How commands and lists are written in one kind of text. */
export interface TextFormat {
  /** A command the user can type as it is. */
  command(text: string): string;
  /** A command followed by something the user fills in ("elevate me in" + an environment). */
  usage(text: string, placeholder: string): string;
  /** Words the user adds after a command ("for 2h"), written as typed, without the @mention. */
  words(text: string): string;
  /** A line of a list. */
  item(text: string): string;
}

/** For a message sent as Markdown: code spans, italics, list dashes; never a raw `<`. */
export function markdown(audience: Audience): TextFormat {
  return {
    command: (text) => `\`${audience.mention}${text}\``,
    usage: (text, placeholder) => `\`${audience.mention}${text}\` _${placeholder}_`,
    words: (text) => `\`${text}\``,
    item: (text) => `- ${text}`,
  };
}

/** For a card's TextRuns and other plain text: quotes and bullets instead of Markdown. */
export function plainText(audience: Audience): TextFormat {
  return {
    command: (text) => `“${audience.mention}${text}”`,
    usage: (text) => `“${audience.mention}${text} …”`,
    words: (text) => `“${text}”`,
    item: (text) => `• ${text}`,
  };
}

/** The answer to `help` (and the tail of every answer to something the bot did not understand). */
export function helpLines(f: TextFormat): string[] {
  return [
    'I make Power Platform tenant admins System Administrator in one environment, as themselves.',
    '',
    f.item(
      `${f.usage('elevate me in', 'environment')}: by display name, environment id, domain name or Dataverse URL; add ${f.words('for 2h')} (or 30m, 90 minutes, 1h30) to say for how long`,
    ),
    f.item(`${f.command('elevations')}: your active elevations, with the time each has left`),
    f.item(
      `${f.usage("I'm done in", 'environment')} (or ${f.command('done')} when only one is active): end an elevation now`,
    ),
    f.item(
      `${f.command('environments')} (or ${f.usage('environments', 'words')}): the environments you can see, each with a button to elevate`,
    ),
    f.item(`${f.command('history')}: your own recent elevations (in our personal chat)`),
    f.item(
      `${f.usage('audit', 'environment')}: recent elevations in an environment (the bot's administrators only)`,
    ),
    f.item(
      `${f.command('who is elevated')}: every active elevation, in every environment (the bot's administrators only)`,
    ),
    f.item(
      `${f.usage('policy', 'environment')}: which rule of the elevation policy applies there, and why (${f.command('policy')} alone: every rule, for the bot's administrators)`,
    ),
    f.item(`${f.command('help')}: this message`),
    f.item(
      `in a team channel: ${f.command('notify here')} (or ${f.command('notify here for production')}, ${f.usage('notify here for', 'name pattern')}), ${f.command('notify off')}, ${f.command('notify status')}`,
    ),
    '',
    'You confirm on a card with a justification; I then call the Power Platform API for you and show the outcome with its correlation id. When the time you chose is up, I remove the role again.',
  ];
}

/** `help` as a Markdown message. */
export function helpText(audience: Audience): string {
  return helpLines(markdown(audience)).join('\n');
}

/** "Which environment?" after `elevate me in` or `audit` without one. */
export function whichEnvironment(f: TextFormat, command: 'elevate me in' | 'audit'): string {
  return `Which environment? Write ${f.usage(command, 'environment')}, with its name, id, domain name or Dataverse URL.`;
}

export function tooLong(f: TextFormat, length: number): string {
  return `That message is too long for me (${length} characters). Try ${f.command('help')}.`;
}

const PERSONAL: Audience = { shared: false, mention: '' };

/** Elevation is refused in channels: where to ask instead (a Markdown message). */
export function elevateElsewhere(audience: Audience): string {
  const personal = markdown(PERSONAL).usage('elevate me in', 'environment');
  const group = markdown({ ...audience, shared: true }).usage('elevate me in', 'environment');
  return `Ask me to elevate you in our personal chat (${personal}) or in a group chat with me (${group}), not in a channel.`;
}

/** `audit` is refused in channels: where to ask instead (a Markdown message). */
export function auditElsewhere(audience: Audience): string {
  const personal = markdown(PERSONAL).usage('audit', 'environment');
  const group = markdown({ ...audience, shared: true }).usage('audit', 'environment');
  return `Ask me for the audit in our personal chat (${personal}) or in a group chat with me (${group}), not in a channel.`;
}

/**
 * `elevations`, `done` and `who is elevated` are refused in channels (a channel is public, and a
 * removal may need a sign-in, which channels cannot do): where to ask instead.
 */
export function timeBoxElsewhere(audience: Audience, command: string): string {
  const personal = markdown(PERSONAL).command(command);
  const group = markdown({ ...audience, shared: true }).command(command);
  return `Ask me this in our personal chat (${personal}) or in a group chat with me (${group}), not in a channel.`;
}

/** A button the bot no longer knows, or a request it forgot: how to start again. */
export function askAgain(f: TextFormat, what: string): string {
  return `${what} Ask again with ${f.usage('elevate me in', 'environment')}.`;
}

/**
 * Who the bot's administrators are, for a refusal: by name when the bot has heard from them
 * (names are no secret in a tenant), otherwise where to find out.
 */
export function whoAreTheAdmins(admins: { names: string[]; unnamed: number }): string {
  const { names, unnamed } = admins;
  if (names.length === 0 && unnamed === 0) {
    return "This bot has no administrators yet: its operator names them in the bot's configuration (BOT_ADMIN_IDS).";
  }
  if (names.length === 0) {
    return "Its operator names the bot's administrators in the bot's configuration (BOT_ADMIN_IDS); ask whoever runs the bot in your organisation who they are.";
  }
  const others = unnamed > 0 ? `, and ${unnamed} more the bot has not met yet` : '';
  return `The bot's administrators: ${names.join(', ')}${others}.`;
}

/** How to write `notify here`, after a filter the bot could not read. */
export function notifyUsage(f: TextFormat): string {
  return `Write ${f.command('notify here')}, ${f.command('notify here for production')} (an environment type: production, sandbox, trial, developer, default or teams) or ${f.usage('notify here for', 'name pattern')}, e.g. ${f.command('notify here for Contoso*')}.`;
}

/** A name pattern that looks like an environment type: say how it was read, and how to get the type. */
export function nameNotType(f: TextFormat, type: string): string {
  return `I read that as a name pattern, not as an environment type. If you meant ${type} environments, write ${f.command(`notify here for ${type}`)}.`;
}
