/**
 * Shared reads for requests that arrive together. Under load many requests ask for the same
 * page at once (every open grid polls every 2 s), and each would run the same change-marker
 * query; here, requests that arrive while that read is running wait for it to end and then share
 * the one read that starts next.
 *
 * They do not share the read already running, as a singleflight would: it may have taken its
 * snapshot before the change a caller just made (a POST that paused the DAG, then the page
 * reloads) was committed, and the caller would be told nothing changed. A read that starts after
 * a caller arrived sees everything committed before it arrived, as the caller's own query would,
 * so coalescing costs at most one read's time in latency and never freshness.
 */
import type { Sql } from "../../db/client.ts";

interface Slot {
  running: Promise<unknown>;
  /** The read that starts when `running` ends, shared by everyone who arrived meanwhile. */
  next: Promise<unknown> | null;
}

// Per database (the memo map that a database and its transactions share), since one process
// may serve several, as the tests do.
const slotsByDb = new WeakMap<Map<string, unknown>, Map<string, Slot>>();

/** Runs `read`, or shares the next run of the read with the same key (see above). */
export function coalesce<T>(sql: Sql, key: string, read: () => Promise<T>): Promise<T> {
  let slots = slotsByDb.get(sql.cache);
  if (!slots) slotsByDb.set(sql.cache, slots = new Map());
  const slot = slots.get(key);
  if (!slot) return start(slots, key, read);
  slot.next ??= slot.running.catch(() => {}).then(() => start(slots, key, read));
  return slot.next as Promise<T>;
}

function start<T>(slots: Map<string, Slot>, key: string, read: () => Promise<T>): Promise<T> {
  const slot: Slot = { running: Promise.resolve(), next: null };
  const running = Promise.resolve().then(read).finally(() => {
    // Whoever queued behind this read starts the next one, which takes the key over.
    if (slots.get(key) === slot && slot.next === null) slots.delete(key);
  });
  slot.running = running;
  slots.set(key, slot);
  return running;
}
