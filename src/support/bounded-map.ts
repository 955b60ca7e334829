/**
 * A Map that keeps at most `capacity` entries: the in-memory caches keyed by user or tenant use it,
 * so that a flood of distinct keys cannot grow the process without bound.
 */

/**
 * Writing an entry makes it the newest; when there are more than `capacity`, the oldest written
 * goes. Reading changes nothing: a cache that wants "least recently used" writes the entry again
 * when it uses it.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  /** Stores `value` as the newest entry, dropping the oldest ones beyond the capacity. */
  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }
}
