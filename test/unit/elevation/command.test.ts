import {
  type Command,
  type CommandKind,
  MAX_COMMAND_LENGTH,
  MAX_ECHOED_LENGTH,
  parseCommand,
} from '../../../src/elevation/command';

const elevate = (target: string, minutes?: number): Command =>
  minutes === undefined ? { kind: 'elevate', target } : { kind: 'elevate', target, minutes };

describe('reading what the user asked for', () => {
  // A Record over every kind: adding a kind to Command fails compilation here until it has an example.
  const oneExamplePerKind: Record<CommandKind, [string, Command]> = {
    elevate: ['elevate me in Contoso Dev', elevate('Contoso Dev')],
    'elevate-missing-target': ['elevate me in', { kind: 'elevate-missing-target' }],
    help: ['help', { kind: 'help' }],
    notify: ['notify here', { kind: 'notify', action: 'here' }],
    history: ['history', { kind: 'history' }],
    audit: ['audit Contoso Dev', { kind: 'audit', target: 'Contoso Dev' }],
    'audit-missing-target': ['audit', { kind: 'audit-missing-target' }],
    environments: ['environments contoso', { kind: 'environments', words: 'contoso' }],
    done: ["I'm done in Contoso Dev", { kind: 'done', target: 'Contoso Dev' }],
    elevations: ['elevations', { kind: 'elevations' }],
    'who-is-elevated': ['who is elevated', { kind: 'who-is-elevated' }],
    policy: ['policy for Contoso Prod', { kind: 'policy', target: 'Contoso Prod' }],
    'too-long': [
      'x'.repeat(MAX_COMMAND_LENGTH + 1),
      { kind: 'too-long', length: MAX_COMMAND_LENGTH + 1 },
    ],
    unknown: ['make me a sandwich', { kind: 'unknown', text: 'make me a sandwich' }],
  };

  it.each(Object.entries(oneExamplePerKind))(
    'every kind of command has a form that produces it: %s',
    (_kind, [text, command]) => {
      expect(parseCommand(text)).toEqual(command);
    },
  );

  describe('policy', () => {
    it.each<[string, Command]>([
      ['policy', { kind: 'policy' }],
      ['/policy', { kind: 'policy' }],
      ['policy Contoso Prod', { kind: 'policy', target: 'Contoso Prod' }],
      ['policy in "Contoso Prod"', { kind: 'policy', target: 'Contoso Prod' }],
      ['Policy for contoso prod?', { kind: 'policy', target: 'contoso prod' }],
      ['policy for', { kind: 'policy' }],
    ])('%s', (text, command) => {
      expect(parseCommand(text)).toEqual(command);
    });

    it('a typo of the keyword is offered, not run', () => {
      const read = parseCommand('polciy Contoso Prod');
      expect(read).toMatchObject({
        kind: 'unknown',
        suggestion: { text: 'policy Contoso Prod', command: { kind: 'policy' } },
      });
    });
  });

  describe('elevate', () => {
    it.each([
      ['elevate me in Contoso Dev'],
      ['elevate in Contoso Dev'],
      ['elevate Contoso Dev'],
      ['ELEVATE ME IN Contoso Dev'],
      ['Elevate Me In Contoso Dev'],
      ['/elevate me in Contoso Dev'],
    ])('the three phrasings are understood in any case: %j', (text) => {
      expect(parseCommand(text)).toEqual(elevate('Contoso Dev'));
    });

    it('a colon or comma after the keyword is allowed', () => {
      expect(parseCommand('elevate: Contoso Dev')).toEqual(elevate('Contoso Dev'));
      expect(parseCommand('Hi,')).toEqual({ kind: 'help' });
    });

    it('"me" without "in" is still filler', () => {
      expect(parseCommand('elevate me Contoso Dev')).toEqual(elevate('Contoso Dev'));
    });

    it.each([
      ['tabs', 'elevate\tme\tin\tContoso Dev'],
      ['non-breaking spaces', 'elevate\u00a0me\u00a0in\u00a0Contoso\u00a0Dev'],
      ['newlines', 'elevate me\nin\r\nContoso Dev\n'],
      ['runs of spaces', '   elevate    me   in    Contoso     Dev   '],
      ['a zero-width space', 'elevate me in\u200b Contoso Dev'],
      ['ideographic space', 'elevate\u3000me in Contoso Dev'],
    ])('odd whitespace is read as one space: %s', (_case, text) => {
      expect(parseCommand(text)).toEqual(elevate('Contoso Dev'));
    });

    it.each([
      ['straight double quotes', 'elevate me in "Contoso Dev"'],
      ['straight single quotes', "elevate me in 'Contoso Dev'"],
      ['curly double quotes', 'elevate me in \u201cContoso Dev\u201d'],
      ['curly single quotes', 'elevate me in \u2018Contoso Dev\u2019'],
      ['guillemets', 'elevate me in \u00abContoso Dev\u00bb'],
      ['backticks', 'elevate me in `Contoso Dev`'],
      ['triple backticks', 'elevate me in ```Contoso Dev```'],
      ['a straight and a curly quote mixed by autocorrect', 'elevate me in "Contoso Dev\u201d'],
    ])('a quoted name is understood: %s', (_case, text) => {
      expect(parseCommand(text)).toEqual(elevate('Contoso Dev'));
    });

    it.each([
      ['elevate me in Contoso Dev.'],
      ['elevate me in Contoso Dev!'],
      ['elevate me in Contoso Dev?'],
      ['elevate me in Contoso Dev\u2026'],
      ['elevate me in Contoso Dev!!!'],
      ['elevate me in Contoso Dev ?'],
      ['elevate me in Contoso Dev\uff1f'],
    ])('trailing punctuation is not part of the name: %j', (text) => {
      expect(parseCommand(text)).toEqual(elevate('Contoso Dev'));
    });

    it.each([
      ['elevate me in "Contoso Dev".'],
      ['elevate me in "Contoso Dev."'],
      ['elevate me in \u201cContoso Dev!\u201d?'],
    ])('a quoted name with trailing punctuation is understood: %j', (text) => {
      expect(parseCommand(text)).toEqual(elevate('Contoso Dev'));
    });

    it('a name that begins with "In" survives when quoted', () => {
      expect(parseCommand('elevate me in "In Progress"')).toEqual(elevate('In Progress'));
    });

    it('a name that merely begins with the letters "me" or "in" is not cut', () => {
      expect(parseCommand('elevate Meridian')).toEqual(elevate('Meridian'));
      expect(parseCommand('elevate me in Inventory')).toEqual(elevate('Inventory'));
    });

    it('inner punctuation and apostrophes are kept', () => {
      expect(parseCommand("elevate me in Bob's Dev (EU) - v2")).toEqual(
        elevate("Bob's Dev (EU) - v2"),
      );
    });

    it.each([
      ['a GUID', '0f8fad5b-d9cb-469f-a165-70867728950e'],
      ['a GUID in upper case', '0F8FAD5B-D9CB-469F-A165-70867728950E'],
      ['a Default- id', 'Default-72f988bf-86f1-41af-91ab-2d7cd011db47'],
      ['a domain name', 'contoso-dev'],
      ['a Dataverse URL', 'https://contoso-dev.crm.dynamics.com/'],
      [
        'a Dataverse URL with a path and query',
        'https://contoso-dev.crm4.dynamics.com/main.aspx?appid=1&pagetype=x',
      ],
      ['a name with emoji', '\ud83d\ude80 Rocket Lab'],
      ['a name in another script', '\u958b\u767a\u74b0\u5883'],
    ])('the target is kept intact: %s', (_case, target) => {
      expect(parseCommand(`elevate me in ${target}`)).toEqual(elevate(target));
    });

    it('a quoted URL with trailing punctuation keeps its own characters', () => {
      expect(parseCommand('elevate me in "https://contoso-dev.crm.dynamics.com/".')).toEqual(
        elevate('https://contoso-dev.crm.dynamics.com/'),
      );
    });

    it.each([
      ['elevate'],
      ['elevate me'],
      ['elevate me in'],
      ['elevate in'],
      ['elevate in ""'],
      ['elevate me in \u201c\u201d'],
      ['elevate me in ``'],
      ['Elevate!'],
      ['elevate me in ...'],
      ['elevate me in   '],
    ])('an elevation without an environment asks for one: %j', (text) => {
      expect(parseCommand(text)).toEqual({ kind: 'elevate-missing-target' });
    });

    it('a misspelt keyword is never run, only suggested', () => {
      expect(parseCommand('elevat me in Contoso Dev')).toEqual({
        kind: 'unknown',
        text: 'elevat me in Contoso Dev',
        suggestion: { text: 'elevate me in Contoso Dev', command: elevate('Contoso Dev') },
      });
    });
  });

  describe('a mistyped command', () => {
    it.each<[string, string, Command]>([
      ['elevat me in Contoso Dev', 'elevate me in Contoso Dev', elevate('Contoso Dev')],
      ['elevtae me in Contoso Dev', 'elevate me in Contoso Dev', elevate('Contoso Dev')],
      ['Elevaet Contoso Prod', 'elevate Contoso Prod', elevate('Contoso Prod')],
      ['hepl', 'help', { kind: 'help' }],
      ['hlep', 'help', { kind: 'help' }],
      ['histroy', 'history', { kind: 'history' }],
      ['hsitory', 'history', { kind: 'history' }],
      ['notfy here', 'notify here', { kind: 'notify', action: 'here' }],
      ['nofity off', 'notify off', { kind: 'notify', action: 'off' }],
      ['audti Contoso Dev', 'audit Contoso Dev', { kind: 'audit', target: 'Contoso Dev' }],
      ['enviroments contoso', 'environments contoso', { kind: 'environments', words: 'contoso' }],
      ['environemnts', 'environments', { kind: 'environments', words: '' }],
      ['elevatoins', 'elevations', { kind: 'elevations' }],
      ['elevation', 'elevations', { kind: 'elevations' }],
      ['doen', 'done', { kind: 'done' }],
      ['dnoe in Contoso Dev', 'done in Contoso Dev', { kind: 'done', target: 'Contoso Dev' }],
      [
        'elevat me in Contoso Dev for 2h',
        'elevate me in Contoso Dev for 2h',
        elevate('Contoso Dev', 120),
      ],
      // Near both "elevate" and "elevations": only one of them reads the rest.
      ['elevatio me in Contoso Dev', 'elevate me in Contoso Dev', elevate('Contoso Dev')],
    ])('%j suggests %j', (typed, meant, command) => {
      expect(parseCommand(typed)).toEqual({
        kind: 'unknown',
        text: typed,
        suggestion: { text: meant, command },
      });
    });

    it.each([
      ['make me a sandwich'],
      ['he'],
      ['hi there'],
      ['history of Contoso'],
      ['notfy everyone'],
      ['xyzzy'],
      ['elephant in the room'],
      // As close to "elevate" as to "elevations", and both read it.
      ['elevatio'],
      ['doen for today'],
      ['whoo is elevated'],
    ])('%j suggests nothing', (typed) => {
      const command = parseCommand(typed);
      expect(command.kind).toBe('unknown');
      expect(command.kind === 'unknown' && command.suggestion).toBeFalsy();
    });
  });

  it('bidi controls and zero-width characters never reach the echoed text or the target', () => {
    expect(parseCommand('elevate\u200bme in Contoso \u202eveD\u202c')).toEqual(
      elevate('Contoso veD'),
    );
    expect(parseCommand('frobnicate \u2066Contoso\u2069\u200f \ufeffDev\u200d')).toEqual({
      kind: 'unknown',
      text: 'frobnicate Contoso Dev',
    });
  });

  describe('elevate for a duration', () => {
    it.each<[string, Command]>([
      ['elevate me in Contoso Dev for 2h', elevate('Contoso Dev', 120)],
      ['elevate me in Contoso Dev for 30m', elevate('Contoso Dev', 30)],
      ['elevate me in Contoso Dev for 90 minutes', elevate('Contoso Dev', 90)],
      ['elevate me in Contoso Dev for 1 hour', elevate('Contoso Dev', 60)],
      ['elevate me in Contoso Dev for 1h 30m.', elevate('Contoso Dev', 90)],
      ['Elevate Me In Contoso Dev FOR AN HOUR', elevate('Contoso Dev', 60)],
      ['elevate Contoso Dev for half an hour!', elevate('Contoso Dev', 30)],
      ['elevate me in "Contoso Dev" for 2h', elevate('Contoso Dev', 120)],
      ['elevate me in \u201cContoso Dev\u201d for 45 min', elevate('Contoso Dev', 45)],
      ['elevate me in Contoso Dev\u00a0for\u00a02h', elevate('Contoso Dev', 120)],
      [
        'elevate me in https://contoso-dev.crm.dynamics.com/ for 1m',
        elevate('https://contoso-dev.crm.dynamics.com/', 1),
      ],
      ['elevate me in Apps for Finance for 2h', elevate('Apps for Finance', 120)],
      ['elevate me in Contoso Dev, for 2h', elevate('Contoso Dev', 120)],
    ])('the duration after the last "for" is read: %j', (text, command) => {
      expect(parseCommand(text)).toEqual(command);
    });

    it.each<[string, string]>([
      ['elevate me in Apps for Finance', 'Apps for Finance'],
      ['elevate me in Dev for a while', 'Dev for a while'],
      ['elevate me in Dev for 90', 'Dev for 90'],
      ['elevate me in Dev for 2 weeks', 'Dev for 2 weeks'],
      ['elevate me in Apps for 2h Team', 'Apps for 2h Team'],
      ['elevate me in Dev for', 'Dev for'],
      ['elevate me in Dev for2h', 'Dev for2h'],
      ['elevate me in "Dev for 2h"', 'Dev for 2h'],
    ])('what is not a duration stays part of the name: %j', (text, target) => {
      expect(parseCommand(text)).toEqual(elevate(target));
    });

    it('no duration said leaves minutes absent, not undefined-valued', () => {
      expect(Object.keys(parseCommand('elevate me in Contoso Dev'))).toEqual(['kind', 'target']);
    });

    it.each<[string, number]>([
      ['elevate me in Contoso Dev for 0m', 0],
      ['elevate me in Contoso Dev for 10000h', 600_000],
    ])(
      'a duration that is not allowed is still read, for the use case to refuse: %j',
      (text, minutes) => {
        expect(parseCommand(text)).toEqual(elevate('Contoso Dev', minutes));
      },
    );

    it.each([['elevate me for 2h'], ['elevate for 30m'], ['elevate me in for 1 hour']])(
      'a duration without an environment asks for one: %j',
      (text) => {
        expect(parseCommand(text)).toEqual({ kind: 'elevate-missing-target' });
      },
    );
  });

  describe("done, elevations and who's elevated", () => {
    it.each<[string, Command]>([
      ['done', { kind: 'done' }],
      ['Done!', { kind: 'done' }],
      ["I'm done", { kind: 'done' }],
      ['I\u2019m done.', { kind: 'done' }],
      ['im done', { kind: 'done' }],
      ['I am done', { kind: 'done' }],
      ['IM DONE', { kind: 'done' }],
      ['done in', { kind: 'done' }],
      ['done in Contoso Dev', { kind: 'done', target: 'Contoso Dev' }],
      ['done with Contoso Dev', { kind: 'done', target: 'Contoso Dev' }],
      ["I'm done in Contoso Dev.", { kind: 'done', target: 'Contoso Dev' }],
      ['I\u2018m done in \u201cContoso Dev\u201d', { kind: 'done', target: 'Contoso Dev' }],
      ['im done with Apps for Finance', { kind: 'done', target: 'Apps for Finance' }],
      ['/done in Inventory', { kind: 'done', target: 'Inventory' }],
    ])('ending an elevation: %j', (text, command) => {
      expect(parseCommand(text)).toEqual(command);
    });

    it.each([
      ['done Contoso Dev'],
      ['done for today'],
      ["I'm"],
      ["I'm fine"],
      ['I am'],
      ['I am not done'],
      ['im doing well'],
    ])('%j is not read as ending an elevation', (text) => {
      expect(parseCommand(text).kind).toBe('unknown');
    });

    it.each([
      ['elevations'],
      ['Elevations?'],
      ['my elevations'],
      ['My Elevations.'],
      ['active'],
      ['active elevations'],
      ['/elevations'],
    ])("one's own active elevations: %j", (text) => {
      expect(parseCommand(text)).toEqual({ kind: 'elevations' });
    });

    it.each([['elevations Contoso'], ['my'], ['my history'], ['active now'], ['elevation']])(
      '%j is not the list of elevations',
      (text) => {
        expect(parseCommand(text).kind).toBe('unknown');
      },
    );

    it.each([
      ['who is elevated'],
      ['Who is elevated?'],
      ["who's elevated"],
      ['Who\u2019s elevated?'],
      ['whos elevated'],
      ['WHO IS ELEVATED'],
      ['<at>Elevation</at> who is elevated?'],
    ])('every active elevation: %j', (text) => {
      expect(parseCommand(text)).toEqual({ kind: 'who-is-elevated' });
    });

    it.each([
      ['who'],
      ['who is'],
      ['who is there'],
      ['who is elevated in Contoso'],
      ['whose elevated'],
    ])('%j is not who is elevated', (text) => {
      expect(parseCommand(text).kind).toBe('unknown');
    });
  });

  describe('environments', () => {
    it.each([
      ['environments', ''],
      ['Environments.', ''],
      ['environments contoso', 'contoso'],
      ['environments "Contoso Dev"', 'Contoso Dev'],
      ['/environments  sales   prod', 'sales prod'],
    ])('%j searches for %j', (text, words) => {
      expect(parseCommand(text)).toEqual({ kind: 'environments', words });
    });
  });

  describe('what Teams leaves in the text', () => {
    it('a leftover mention of the bot is ignored', () => {
      expect(parseCommand('<at>Elevation Bot</at> elevate me in Contoso Dev')).toEqual(
        elevate('Contoso Dev'),
      );
      expect(parseCommand('<at id="0">Elevation Bot</at>\u00a0elevate me in Contoso Dev')).toEqual(
        elevate('Contoso Dev'),
      );
    });

    it('HTML entities are decoded', () => {
      expect(parseCommand('elevate&nbsp;me&nbsp;in&nbsp;Contoso&nbsp;Dev')).toEqual(
        elevate('Contoso Dev'),
      );
      expect(parseCommand('elevate me in R&amp;D &#8211; Lab')).toEqual(elevate('R&D \u2013 Lab'));
      expect(parseCommand('elevate me in &quot;Contoso Dev&quot;')).toEqual(elevate('Contoso Dev'));
    });

    it('entities are decoded once, and unknown or invalid ones are left as typed', () => {
      expect(parseCommand('elevate me in A&amp;nbsp;B')).toEqual(elevate('A&nbsp;B'));
      expect(parseCommand('elevate me in A &bogus; B')).toEqual(elevate('A &bogus; B'));
      expect(parseCommand('elevate me in A &#xD800; B')).toEqual(elevate('A &#xD800; B'));
      expect(parseCommand('elevate me in A &#99999999; B')).toEqual(elevate('A &#99999999; B'));
    });

    it('formatting tags are removed but other angle brackets are kept', () => {
      expect(parseCommand('<p>elevate me in <code>Contoso Dev</code></p>')).toEqual(
        elevate('Contoso Dev'),
      );
      expect(parseCommand('elevate me in Dev <old>')).toEqual(elevate('Dev <old>'));
    });

    it('a pasted link that Teams turned into an anchor is read as its URL', () => {
      const url = 'https://contoso-dev.crm.dynamics.com/main.aspx?appid=1';
      expect(parseCommand(`elevate me in <a href="${url}">${url}</a>`)).toEqual(elevate(url));
    });

    it('an encoded tag is text, not markup', () => {
      expect(parseCommand('elevate me in &lt;at&gt;x&lt;/at&gt;')).toEqual(elevate('<at>x</at>'));
    });

    it('a message that was only a mention asks for help', () => {
      expect(parseCommand('<at>Elevation Bot</at>')).toEqual({ kind: 'help' });
    });
  });

  describe('help', () => {
    it.each([
      ['help'],
      ['HELP'],
      ['?'],
      ['hi'],
      ['Hi!'],
      ['hello'],
      ['Hello.'],
      ['start'],
      ['/help'],
      ['/HELP'],
      ['  help  '],
    ])('a greeting or a question asks for help: %j', (text) => {
      expect(parseCommand(text)).toEqual({ kind: 'help' });
    });

    it.each([[''], ['   '], ['\n\t\u00a0']])(
      'an empty or whitespace-only message asks for help: %j',
      (text) => {
        expect(parseCommand(text)).toEqual({ kind: 'help' });
      },
    );

    it('a greeting followed by other words is not taken for help', () => {
      expect(parseCommand('hello there')).toEqual({ kind: 'unknown', text: 'hello there' });
    });
  });

  describe('notify, history and audit', () => {
    it.each([
      ['notify here', { kind: 'notify', action: 'here' }],
      ['Notify Here.', { kind: 'notify', action: 'here' }],
      ['notify off', { kind: 'notify', action: 'off' }],
      ['notify status', { kind: 'notify', action: 'status' }],
      ['notify here Contoso*', { kind: 'notify', action: 'here', filter: 'Contoso*' }],
      ['notify here "Contoso Prod".', { kind: 'notify', action: 'here', filter: 'Contoso Prod' }],
    ])('a notification setting is understood: %j', (text, command) => {
      expect(parseCommand(text)).toEqual(command);
    });

    it.each([['notify'], ['notify everyone'], ['notify off now'], ['notify status please']])(
      'a notify we cannot honour fully is not half-understood: %j',
      (text) => {
        expect(parseCommand(text).kind).toBe('unknown');
      },
    );

    it('history takes no argument', () => {
      expect(parseCommand('History')).toEqual({ kind: 'history' });
      expect(parseCommand('history!')).toEqual({ kind: 'history' });
      expect(parseCommand('history of Contoso').kind).toBe('unknown');
    });

    it('audit names its environment like elevate does', () => {
      expect(parseCommand('audit in \u201cContoso Dev\u201d.')).toEqual({
        kind: 'audit',
        target: 'Contoso Dev',
      });
      expect(parseCommand('audit in')).toEqual({ kind: 'audit-missing-target' });
    });
  });

  describe('limits and anything else', () => {
    it('a 10,000-character message is refused without parsing', () => {
      const text = `elevate me in ${'<at>'.repeat(2_500)}`;
      expect(parseCommand(text)).toEqual({ kind: 'too-long', length: text.length });
    });

    it('a message of exactly the limit is still read', () => {
      const target = 'x'.repeat(MAX_COMMAND_LENGTH - 'elevate '.length);
      expect(parseCommand(`elevate ${target}`)).toEqual(elevate(target));
    });

    it('an unknown message is echoed trimmed and cleaned', () => {
      expect(parseCommand('  <at>Bot</at>  what   can you&nbsp;do  ')).toEqual({
        kind: 'unknown',
        text: 'what can you do',
      });
    });

    it('a long unknown message is echoed cut short, without splitting an emoji', () => {
      const text = '\ud83d\ude00'.repeat(150);
      const command = parseCommand(text);
      expect(command.kind).toBe('unknown');
      const echoed = command.kind === 'unknown' ? command.text : '';
      expect(Array.from(echoed)).toHaveLength(MAX_ECHOED_LENGTH);
      expect(echoed.endsWith('\u2026')).toBe(true);
      expect(echoed).not.toMatch(/[\ud800-\udbff]\u2026/);
    });

    it('emoji alone are not a command', () => {
      expect(parseCommand('\ud83d\udc4b')).toEqual({ kind: 'unknown', text: '\ud83d\udc4b' });
    });

    it("a word that names one of Object's own properties is just unknown", () => {
      expect(parseCommand('constructor')).toEqual({ kind: 'unknown', text: 'constructor' });
      expect(parseCommand('__proto__ x')).toEqual({ kind: 'unknown', text: '__proto__ x' });
    });
  });
});
