/**
 * Counters per time window on Table Storage (refused sign-ins), in the shared table: each count
 * is conditional on the count read (its ETag), so concurrent callers get 1, 2, 3, ...; an ended
 * counter is taken (deleted as read) by one caller.
 */
import { odata } from '@azure/data-tables';
import type { WindowCount } from '../../elevation/ports';
import { checkEntity, type Entity, keyPart, num, packText, text, unpackText } from './entities';
import { retriable, RETRY, retrying, type Tables, WINDOW_COUNTS } from './tables';

export class TableWindowCounts {
  constructor(private readonly tables: Tables) {}

  async countInWindow(
    key: string,
    windowEndsAt: Date,
    data: string,
  ): Promise<{ count: number; data: string }> {
    const rowKey = keyPart(key);
    return retrying(`counting "${key}"`, async () => {
      const current = await this.tables.get(this.tables.shared, WINDOW_COUNTS, rowKey);
      if (!current) {
        const entity: Entity = {
          partitionKey: WINDOW_COUNTS,
          rowKey,
          key,
          count: 1,
          windowEndsAt: windowEndsAt.toISOString(),
          ...packText('data', data),
        };
        checkEntity(entity, `the counter "${key}"`);
        try {
          await this.tables.shared.createEntity(entity);
          return { count: 1, data };
        } catch (error) {
          if (retriable(error)) return RETRY;
          throw error;
        }
      }
      // Conditional on what was read: of two callers that read the same count, one writes it.
      const count = num(current, 'count') + 1;
      try {
        await this.tables.shared.updateEntity(
          { partitionKey: WINDOW_COUNTS, rowKey, count },
          'Merge',
          {
            etag: current.etag,
          },
        );
        return { count, data: unpackText(current, 'data') ?? '' };
      } catch (error) {
        if (retriable(error)) return RETRY;
        throw error;
      }
    });
  }

  async takeEndedCounts(prefix: string, now: Date, limit: number): Promise<WindowCount[]> {
    const ended = await this.tables.list(
      this.tables.shared,
      odata`PartitionKey eq ${WINDOW_COUNTS} and windowEndsAt le ${now.toISOString()}`,
    );
    const taken: WindowCount[] = [];
    for (const entity of ended) {
      if (taken.length >= limit) break;
      const key = text(entity, 'key');
      if (!key.startsWith(prefix)) continue;
      // Deleted as read: a caller that loses the race (or a counter counted again) skips it.
      if (!(await this.tables.deleteIfUnchanged(this.tables.shared, entity))) continue;
      taken.push({
        key,
        count: num(entity, 'count'),
        windowEndsAt: new Date(text(entity, 'windowEndsAt')),
        data: unpackText(entity, 'data') ?? '',
      });
    }
    return taken;
  }
}
