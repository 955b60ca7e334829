/**
 * The help lists what the bot understands: every command it shows, typed as shown, is read by the
 * parser as that command (issue #13: the time-boxed elevation commands among them), with the
 * @mention where Teams needs one and never before the words that follow a command.
 */
import { type CommandKind, parseCommand } from '../../../src/elevation/command';
import { helpLines, helpText, markdown, plainText } from '../../../src/teams/hints';

const PERSONAL = { shared: false, mention: '' };
const GROUP = { shared: true, mention: '@Elevation ' };

/** Each command of the Markdown help as a user would type it, a placeholder filled in. */
function commandsIn(help: string): string[] {
  return [...help.matchAll(/`([^`]+)`( _[a-z ]+_)?/g)]
    .map(([, command, placeholder]) => (placeholder ? `${command} Contoso Dev` : command!))
    .filter((command) => !command.startsWith('for '));
}

describe('help', () => {
  it('every command it shows is understood as shown, and every kind of request is shown', () => {
    const commands = commandsIn(helpText(PERSONAL));
    const kinds = commands.map((command) => parseCommand(command).kind);
    expect(kinds).not.toContain('unknown');
    expect(new Set(kinds)).toEqual(
      new Set<CommandKind>([
        'elevate',
        'environments',
        'elevations',
        'done',
        'history',
        'audit',
        'who-is-elevated',
        'help',
        'notify',
        'policy',
      ]),
    );
  });

  it('a duration written as the help writes it is read as one', () => {
    const help = helpText(PERSONAL);
    const duration = /`(for [^`]+)`/.exec(help)?.[1];
    expect(duration).toBe('for 2h');
    expect(parseCommand(`elevate me in Contoso Dev ${duration}`)).toEqual({
      kind: 'elevate',
      target: 'Contoso Dev',
      minutes: 120,
    });
  });

  it('in a group chat the commands carry the mention, the words after them do not', () => {
    const help = helpText(GROUP);
    expect(help).toContain('`@Elevation elevate me in` _environment_');
    expect(help).toContain('`@Elevation elevations`');
    expect(help).toContain("`@Elevation I'm done in` _environment_");
    expect(help).toContain('`@Elevation who is elevated`');
    expect(help).toContain('add `for 2h`');
    expect(help).not.toContain('@Elevation for');
  });

  it('as plain text (a card), quotes stand in for code spans', () => {
    const lines = helpLines(plainText(PERSONAL)).join('\n');
    expect(lines).toContain('• “elevate me in …”');
    expect(lines).toContain('“for 2h”');
    expect(lines).toContain("“I'm done in …”");
    expect(lines).not.toMatch(/[`_]/);
  });

  it('the Markdown and plain-text helps list the same commands', () => {
    const markdownLines = helpLines(markdown(PERSONAL)).filter((line) => line.startsWith('- '));
    const plainLines = helpLines(plainText(PERSONAL)).filter((line) => line.startsWith('• '));
    expect(plainLines).toHaveLength(markdownLines.length);
  });
});
