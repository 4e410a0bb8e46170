/**
 * Scheduled -> queued, highest priority first, while the task's pool has free slots and its
 * DAG is under `maxActiveTasks` (counted across the DAG's runs, as in Airflow 2) and not paused
 * (a paused DAG's running tasks finish; nothing new of it starts). One
 * transaction-scoped advisory lock serializes this step across schedulers: the slot counts it
 * reads must not change under it, as Airflow's schedulers lock the pool rows for the same reason.
 */
import type { Db, Sql } from "../db/client.ts";
import { insertLogs } from "../db/logs.ts";
import type { SerializedDag } from "../sdk/serialize.ts";

const QUEUE_LOCK = 7_406_814;

export async function queueTasks(db: Db, now: Date, limit = 1024): Promise<number> {
  return await db.begin((tx) => queueScheduled(tx, now, limit));
}

/** Queues what may be queued, in the caller's transaction; returns how many. */
export async function queueScheduled(tx: Sql, now: Date, limit = 1024): Promise<number> {
  await tx`SELECT pg_advisory_xact_lock(${QUEUE_LOCK})`;
  const pools = new Map<string, number>();
  for (
    const p of await tx<{ name: string; free: number }>`
    SELECT p.name, CASE WHEN p.slots < 0 THEN 2147483647
      ELSE p.slots - COALESCE(sum(ti.pool_slots), 0) END AS free
    FROM pool p LEFT JOIN task_instance ti ON ti.pool = p.name AND ti.state IN ('queued', 'running')
    GROUP BY p.name, p.slots`
  ) pools.set(p.name, Number(p.free));
  // Only pools with a free slot: when every pool is full, as during a large fan-out, a pass costs
  // the aggregate above and nothing more. (A task in a pool that does not exist was failed when
  // it was scheduled: see failMissingPools.)
  const open = [...pools].filter(([, free]) => free > 0).map(([name]) => name);
  if (open.length === 0) return 0;
  const candidates = await tx<
    { id: number; dagId: string; pool: string; poolSlots: number; maxActiveTasks: number }
  >`
    SELECT ti.id, ti.dag_id AS "dagId", ti.pool, ti.pool_slots AS "poolSlots",
      v.max_active_tasks AS "maxActiveTasks"
    FROM task_instance ti
      JOIN dag_run r ON r.id = ti.dag_run_id
      JOIN dag_version v ON v.id = r.dag_version_id
      JOIN dag d ON d.dag_id = ti.dag_id
    WHERE ti.state = 'scheduled' AND NOT d.is_paused AND ti.pool = ANY(${open})
    ORDER BY ti.priority_weight DESC, ti.id
    LIMIT ${limit}`;
  if (candidates.length === 0) return 0;
  const dagIds = [...new Set(candidates.map((c) => c.dagId))];
  const active = new Map<string, number>();
  for (
    const a of await tx<{ dagId: string; n: number }>`
    SELECT dag_id AS "dagId", count(*) AS n FROM task_instance
    WHERE state IN ('queued', 'running') AND dag_id = ANY(${dagIds})
    GROUP BY dag_id`
  ) active.set(a.dagId, Number(a.n));

  const queue: number[] = [];
  for (const c of candidates) {
    const free = pools.get(c.pool)!;
    const running = active.get(c.dagId) ?? 0;
    if (free < c.poolSlots || running >= c.maxActiveTasks) continue;
    pools.set(c.pool, free - c.poolSlots);
    active.set(c.dagId, running + 1);
    queue.push(c.id);
  }
  if (queue.length) {
    // Locked in id order, as a hand edit of a run locks its instances: no deadlock with one.
    await tx`
      UPDATE task_instance ti SET state = 'queued', queued_at = ${now}, updated_at = ${now}
      FROM (SELECT id FROM task_instance WHERE id = ANY(${queue}::int[])
        ORDER BY id FOR NO KEY UPDATE) AS locked
      WHERE ti.id = locked.id AND ti.state = 'scheduled'`;
  }
  return queue.length;
}

const DEFAULT_POOL = "default_pool";

/** Of `taskIds`, the ones whose pool does not exist. */
export async function inMissingPools(
  tx: Sql,
  dag: SerializedDag,
  taskIds: string[],
): Promise<{ taskId: string; pool: string }[]> {
  if (taskIds.length === 0) return [];
  const poolOf = new Map(dag.tasks.map((t) => [t.taskId, t.pool]));
  // The default pool always exists (the first migration creates it and nothing deletes it), so
  // the usual evaluation, whose tasks all use it, reads nothing here.
  const pools = [...new Set(taskIds.map((id) => poolOf.get(id)!))].filter((p) =>
    p !== DEFAULT_POOL
  );
  if (pools.length === 0) return [];
  const rows = await tx<{ name: string }>`SELECT name FROM pool WHERE name = ANY(${pools})`;
  const existing = new Set(rows.map((p) => p.name));
  return taskIds.filter((id) => !existing.has(poolOf.get(id)!))
    .map((taskId) => ({ taskId, pool: poolOf.get(taskId)! }));
}

/**
 * A task in a pool that does not exist could never run: its scheduled instances fail, with the
 * reason in their log, and a change is recorded so the run is evaluated again (their downstream
 * is then upstream_failed). Returns how many failed.
 */
export async function failInMissingPools(
  tx: Sql,
  dagRunId: number,
  tasks: { taskId: string; pool: string }[],
  now: Date,
): Promise<number> {
  const failed = await tx<{ id: number; pool: string }>`
    UPDATE task_instance SET state = 'failed', end_date = ${now}, updated_at = ${now}
    WHERE dag_run_id = ${dagRunId} AND task_id = ANY(${tasks.map((t) => t.taskId)})
      AND state = 'scheduled'
    RETURNING id, pool`;
  await tx`INSERT INTO dag_run_change (dag_run_id) VALUES (${dagRunId})`;
  await insertLogs(
    tx,
    failed.map((t) => ({
      tiId: t.id,
      tryNumber: 0,
      ts: now,
      level: "error",
      line: `Pool "${t.pool}" does not exist; create it or change the task's pool`,
    })),
  );
  return failed.length;
}
