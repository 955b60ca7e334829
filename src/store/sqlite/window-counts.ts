/**
 * Counters per time window in the SQLite file (refused sign-ins): each count is one statement,
 * so concurrent callers get 1, 2, 3, ...; an ended counter is taken (deleted) by one caller.
 */
import type Database from 'better-sqlite3';
import type { WindowCount } from '../../elevation/ports';

export class SqliteWindowCounts {
  private readonly statements;

  constructor(db: Database.Database) {
    this.statements = {
      // One statement: the insert or the increment, and the count it came to.
      countInWindow: db.prepare<[string, number, string], { count: number; data: string }>(
        `INSERT INTO window_counts (key, count, window_ends_at, data) VALUES (?, 1, ?, ?)
         ON CONFLICT (key) DO UPDATE SET count = count + 1
         RETURNING count, data`,
      ),
      takeEndedCounts: db.prepare<
        [number, number, string, number],
        { key: string; count: number; window_ends_at: number; data: string }
      >(
        `DELETE FROM window_counts WHERE key IN (
           SELECT key FROM window_counts
            WHERE window_ends_at <= ? AND substr(key, 1, ?) = ?
            ORDER BY window_ends_at LIMIT ?)
         RETURNING key, count, window_ends_at, data`,
      ),
    };
  }

  countInWindow(key: string, windowEndsAt: Date, data: string): { count: number; data: string } {
    return this.statements.countInWindow.get(key, windowEndsAt.getTime(), data)!;
  }

  takeEndedCounts(prefix: string, now: Date, limit: number): WindowCount[] {
    return this.statements.takeEndedCounts
      .all(now.getTime(), prefix.length, prefix, limit)
      .map((row) => ({
        key: row.key,
        count: row.count,
        windowEndsAt: new Date(row.window_ends_at),
        data: row.data,
      }));
  }
}
