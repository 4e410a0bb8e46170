/**
 * Pools: named numbers of slots that cap how many task instances run at once across the whole
 * installation, as in Airflow. A queued or running instance holds its `pool_slots` of its pool;
 * the scheduler queues a scheduled one only into free slots (scheduler/queue_tasks.ts). Slots
 * -1 means unlimited. `default_pool` (128 slots, as Airflow's) always exists.
 */
import type { Sql } from "./client.ts";
import { frag, type Fragment, query, where } from "./fragment.ts";

export const DEFAULT_POOL = "default_pool";

export interface PoolRow {
  name: string;
  /** -1: unlimited. */
  slots: number;
  description: string;
  runningSlots: number;
  queuedSlots: number;
  /** Slots that instances waiting for this pool would take (scheduled, not yet queued). */
  scheduledSlots: number;
}

/** Slots as people write them: a whole number from 0, or `unlimited` (or -1); null otherwise. */
export function parseSlots(text: string | undefined): number | null {
  const value = (text ?? "").trim().toLowerCase();
  if (value === "unlimited") return -1;
  if (!/^-?\d{1,9}$/.test(value)) return null;
  const slots = Number(value);
  return slots >= -1 ? slots : null;
}

/** Slots as shown to people: the number, or `unlimited`. */
export const slotsLabel = (slots: number): string => (slots < 0 ? "unlimited" : String(slots));

/**
 * Slots free for more instances: -1 for an unlimited pool, and 0 (never less) for one whose
 * slots were cut below what its instances already hold.
 */
export function openSlots(p: PoolRow): number {
  return p.slots < 0 ? -1 : Math.max(0, p.slots - p.runningSlots - p.queuedSlots);
}

// Occupancy in two parts, each with the condition of a partial index (task_instance_active_pool
// for queued and running, task_instance_scheduled): a small set however long the history grows.
// One `state IN (all three)` matched neither, and read the whole table once per pool (110 ms per
// pool at 300,000 finished instances; 0.9 ms in all this way).
const POOL_SELECT = `SELECT p.name, p.slots, p.description,
    COALESCE(a.running, 0)::int AS "runningSlots", COALESCE(a.queued, 0)::int AS "queuedSlots",
    COALESCE(s.scheduled, 0)::int AS "scheduledSlots"
  FROM pool p
  LEFT JOIN LATERAL (
    SELECT sum(pool_slots) FILTER (WHERE state = 'running') AS running,
      sum(pool_slots) FILTER (WHERE state = 'queued') AS queued
    FROM task_instance ti WHERE ti.pool = p.name AND ti.state IN ('queued', 'running')
  ) a ON true
  LEFT JOIN LATERAL (
    SELECT sum(pool_slots) AS scheduled
    FROM task_instance ti WHERE ti.pool = p.name AND ti.state = 'scheduled'
  ) s ON true`;

export async function listPoolsPage(
  sql: Sql,
  filter: { namePattern?: string | null; name?: string },
  order: Fragment,
  limit: number,
  offset: number,
): Promise<{ total: number; pools: PoolRow[] }> {
  const c: Fragment[] = [];
  if (filter.name !== undefined) c.push(frag`p.name = ${filter.name}`);
  if (filter.namePattern) c.push(frag`p.name ILIKE ${`%${filter.namePattern}%`}`);
  const w = where(c);
  const [{ total }] = await query<{ total: number }>(
    sql,
    frag([`SELECT count(*)::int AS total FROM pool p `, ``], w),
  );
  const pools = await query<PoolRow>(
    sql,
    frag([`${POOL_SELECT} `, ` `, ` LIMIT `, ` OFFSET `, ``], w, order, limit, offset),
  );
  return { total, pools };
}

export async function getPool(sql: Sql, name: string): Promise<PoolRow | null> {
  const { pools } = await listPoolsPage(sql, { name }, frag``, 1, 0);
  return pools[0] ?? null;
}

/** False when a pool of that name exists already. */
export async function insertPool(
  tx: Sql,
  p: { name: string; slots: number; description: string },
): Promise<boolean> {
  const rows = await tx`
    INSERT INTO pool (name, slots, description) VALUES (${p.name}, ${p.slots}, ${p.description})
    ON CONFLICT (name) DO NOTHING RETURNING name`;
  return rows.length === 1;
}

/** The pool as it was before, locked for the rest of the transaction; null when there is none. */
export async function lockPool(
  tx: Sql,
  name: string,
): Promise<{ slots: number; description: string } | null> {
  const [row] = await tx<{ slots: number; description: string }>`
    SELECT slots, description FROM pool WHERE name = ${name} FOR UPDATE`;
  return row ?? null;
}

export async function updatePool(
  tx: Sql,
  name: string,
  p: { slots: number; description: string },
): Promise<void> {
  await tx`UPDATE pool SET slots = ${p.slots}, description = ${p.description}
    WHERE name = ${name}`;
}

/** Task instances that hold the pool's slots (queued or running) or wait for them. */
export async function poolInstancesActive(tx: Sql, name: string): Promise<number> {
  // Two counts, each on a partial index (see POOL_SELECT), not one scan of the whole table.
  const [{ n }] = await tx<{ n: number }>`
    SELECT (SELECT count(*) FROM task_instance
        WHERE pool = ${name} AND state IN ('queued', 'running'))::int
      + (SELECT count(*) FROM task_instance WHERE pool = ${name} AND state = 'scheduled')::int
      AS n`;
  return n;
}

export async function deletePool(tx: Sql, name: string): Promise<void> {
  await tx`DELETE FROM pool WHERE name = ${name}`;
}
