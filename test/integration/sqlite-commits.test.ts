/**
 * SQLite's share of issue #12, item 4: what a turn commits before it answers, with the bot warm
 * (a first request asked, signed in). Each commit is a disk sync; `elevate me in` makes one
 * transaction before its card, and Elevate one for the claim and one for the outcome (the API call
 * between them). What follows the answer (the card's message id) is not counted.
 */
import Database from 'better-sqlite3';
import { actionData, ALEX, cardOf, startTestBot, type TestBot } from '../support/test-bot';

interface Commit {
  at: number;
  what: string;
}

type Method = (this: Database.Statement, ...args: unknown[]) => unknown;

/** Every commit better-sqlite3 makes in this process while installed: transactions and single writes. */
function countCommits(): { commits: Commit[]; uninstall: () => void } {
  const commits: Commit[] = [];
  const probe = new Database(':memory:');
  const statement = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, Method>;
  probe.close();
  const originals = new Map<string, Method>();
  for (const method of ['run', 'get', 'all', 'iterate']) {
    const original = statement[method]!;
    originals.set(method, original);
    statement[method] = function (this: Database.Statement, ...args: unknown[]) {
      const sql = this.source.trim();
      if (/^BEGIN\b/i.test(sql)) commits.push({ at: performance.now(), what: 'transaction' });
      else if (
        !this.reader &&
        !this.database.inTransaction &&
        !/^(COMMIT|END|ROLLBACK)\b/i.test(sql)
      )
        commits.push({ at: performance.now(), what: `single write: ${sql.slice(0, 60)}` });
      return original.apply(this, args);
    };
  }
  // better-sqlite3's transaction() begins with a prepared BEGIN too, so this sees every one; a
  // BEGIN through exec() is counted here.
  const prototype = Database.prototype as unknown as { exec: (sql: string) => unknown };
  const exec = prototype.exec;
  prototype.exec = function (this: Database.Database, sql: string) {
    if (/^\s*BEGIN\b/i.test(sql)) commits.push({ at: performance.now(), what: 'transaction' });
    return exec.call(this, sql);
  };
  return {
    commits,
    uninstall: () => {
      for (const [method, original] of originals) statement[method] = original;
      prototype.exec = exec;
    },
  };
}

describe('SQLite commits before the answer', () => {
  let bot: TestBot;
  let counting: ReturnType<typeof countCommits>;

  beforeAll(async () => {
    bot = await startTestBot();
    const first = await bot.say(ALEX, 'elevate me in Contoso Dev');
    const requestId = actionData(cardOf(first.calls[0]!.activity), 'elevate')!.requestId;
    await bot.click(ALEX, 'cancel', { requestId });
    // The outbox's delivery runs beside the answer: stopped, so that it is not counted.
    await bot.app.dispatcher.stop();
    counting = countCommits();
  });

  afterAll(async () => {
    counting?.uninstall();
    await bot?.stop();
  });

  const before = (from: number, answeredAt: number) =>
    counting.commits
      .slice(from)
      .filter((c) => c.at < answeredAt)
      .map((c) => c.what);

  it('`elevate me in` commits one transaction before its card, and nothing else', async () => {
    const from = counting.commits.length;
    const asked = await bot.say(ALEX, 'elevate me in Contoso Dev');
    const card = asked.calls.find((call) => cardOf(call.activity));
    expect(card).toBeDefined();
    expect(before(from, card!.receivedAt)).toEqual(['transaction']);
  });

  it('Elevate commits the claim and the outcome, one transaction each, before the outcome', async () => {
    const asked = await bot.say(ALEX, 'elevate me in Contoso Dev');
    const requestId = actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId;
    const from = counting.commits.length;
    const click = await bot.click(ALEX, 'elevate', {
      requestId,
      justification: 'INC-1042: restore a broken flow',
    });
    expect(JSON.stringify(click.body)).toContain('Elevated: you are System Administrator');
    expect(before(from, click.answeredAt)).toEqual(['transaction', 'transaction']);
  });
});
