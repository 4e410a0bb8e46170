/**
 * Set-based writes for scheduled run creation: a tick of many DAGs is a few statements per
 * batch, not a transaction per run. The runs and task instances written here are exactly what
 * `createDagRun` (db/runs.ts) writes for one run; creation stays idempotent on the same unique
 * keys (dag and run id, dag and logical date), so a doubled tick creates nothing twice.
 */
import type { Sql } from "./client.ts";
import type { SerializedTask } from "../sdk/serialize.ts";

export interface DueDag {
  dagId: string;
  versionId: number;
  lastStart: Date | null;
  lastEnd: Date | null;
  /** Queued or running runs that are not a backfill's: they count against maxActiveRuns. */
  active: number;
}

/** Active, unpaused DAGs whose next check time has come, in id order. */
export function dueDags(sql: Sql, now: Date): Promise<DueDag[]> {
  return sql<DueDag>`
    SELECT d.dag_id AS "dagId", d.latest_version_id AS "versionId",
      d.last_automated_interval_start AS "lastStart", d.last_automated_interval_end AS "lastEnd",
      (SELECT count(*) FROM dag_run r WHERE r.dag_id = d.dag_id AND r.backfill_id IS NULL
        AND r.state IN ('queued', 'running'))::int AS active
    FROM dag d
    WHERE d.is_active AND NOT d.is_paused AND d.latest_version_id IS NOT NULL
      AND (d.next_dagrun_create_after IS NULL OR d.next_dagrun_create_after <= ${now})
    ORDER BY d.dag_id`;
}

/**
 * When the next scheduled run is due: the earliest next check time after `now` of the DAGs
 * `dueDags` looks at (null when none has one). The leader sleeps until then instead of a whole
 * interval. DAGs already due are left out: the ones the last pass left due wait for a run of
 * theirs to end (a full `maxActiveRuns`), and must not hold back the others' boundaries.
 */
export async function nextDagCheckAt(sql: Sql, now: Date): Promise<Date | null> {
  const [row] = await sql<{ at: Date | null }>`
    SELECT min(next_dagrun_create_after) AS at FROM dag
    WHERE is_active AND NOT is_paused AND latest_version_id IS NOT NULL
      AND next_dagrun_create_after > ${now}`;
  return row.at;
}

/**
 * Locks the DAG rows a batch will move, in id order. Two ticks over overlapping DAGs (two
 * schedulers around a failover, or a doubled call) then queue behind each other instead of
 * locking rows in the orders their plans happen to pick, which could deadlock. NO KEY UPDATE
 * does not block the foreign-key checks of runs created meanwhile.
 */
export async function lockDags(tx: Sql, dagIds: string[]): Promise<void> {
  await tx`
    SELECT 1 FROM dag WHERE dag_id = ANY(${dagIds}::text[]) ORDER BY dag_id FOR NO KEY UPDATE`;
}

export interface NewScheduledRun {
  dagId: string;
  versionId: number;
  runId: string;
  logicalDate: Date;
  start: Date;
  end: Date;
  runAfter: Date;
  conf: Record<string, unknown>;
}

/**
 * Inserts the runs (queued, skipping any that exist) and the task instances of those it created,
 * in one statement; returns how many runs it created. `tasks` holds every planned version's
 * tasks. Rows go in the order given, so concurrent calls wait on each other in one order.
 */
export async function insertScheduledRuns(
  tx: Sql,
  runs: NewScheduledRun[],
  tasks: Map<number, SerializedTask[]>,
  now: Date,
): Promise<number> {
  if (runs.length === 0) return 0;
  const t = [...tasks].flatMap(([versionId, list]) => list.map((task) => ({ versionId, task })));
  const [row] = await tx<{ created: number }>`
    WITH planned AS (
      SELECT * FROM unnest(${runs.map((r) => r.dagId)}::text[], ${runs.map((r) => r.runId)}::text[],
        ${runs.map((r) => r.logicalDate)}::timestamptz[], ${
    runs.map((r) => r.start)
  }::timestamptz[],
        ${runs.map((r) => r.end)}::timestamptz[], ${runs.map((r) => r.runAfter)}::timestamptz[],
        ${runs.map((r) => JSON.stringify(r.conf))}::jsonb[], ${runs.map((r) => r.versionId)}::int[])
        WITH ORDINALITY AS p(dag_id, run_id, logical_date, data_interval_start, data_interval_end,
          run_after, conf, dag_version_id, ord)
    ), created AS (
      INSERT INTO dag_run (dag_id, run_id, run_type, logical_date, data_interval_start,
        data_interval_end, run_after, state, conf, dag_version_id, triggered_by, backfill_id,
        queued_at)
      SELECT dag_id, run_id, 'scheduled', logical_date, data_interval_start, data_interval_end,
        run_after, 'queued', conf, dag_version_id, 'scheduler', NULL, ${now}
      FROM planned ORDER BY ord
      ON CONFLICT DO NOTHING
      RETURNING id, dag_id, run_id, dag_version_id
    ), instances AS (
      INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, max_tries, retry_delay_ms,
        retry_exponential, max_retry_delay_ms, pool, pool_slots, priority_weight, queue,
        updated_at)
      SELECT c.id, c.dag_id, c.run_id, x.task_id, x.max_tries, x.retry_delay_ms,
        x.retry_exponential, x.max_retry_delay_ms, x.pool, x.pool_slots, x.priority_weight,
        x.queue, ${now}
      FROM created c
      JOIN unnest(${t.map((x) => x.versionId)}::int[], ${t.map((x) => x.task.taskId)}::text[],
        ${t.map((x) => x.task.retries)}::int[], ${t.map((x) => x.task.retryDelayMs)}::int[],
        ${t.map((x) => x.task.retryExponentialBackoff)}::bool[],
        ${t.map((x) => x.task.maxRetryDelayMs)}::int[], ${t.map((x) => x.task.pool)}::text[],
        ${t.map((x) => x.task.poolSlots)}::int[], ${t.map((x) => x.task.priorityWeight)}::int[],
        ${t.map((x) => x.task.queue)}::text[])
        AS x(dag_version_id, task_id, max_tries, retry_delay_ms, retry_exponential,
          max_retry_delay_ms, pool, pool_slots, priority_weight, queue)
        ON x.dag_version_id = c.dag_version_id
      RETURNING 1
    )
    SELECT count(*)::int AS created FROM created`;
  return row.created;
}

export interface DagAdvance {
  dagId: string;
  /** The version the plan was made from. */
  versionId: number;
  /** The latest interval planned this tick (created or found existing), or null. */
  last: { start: Date; end: Date } | null;
  /** When the DAG is next due, or null to look again on the next tick. */
  nextCheck: Date | null;
}

/**
 * Moves each DAG's latest automated interval and next check time, in one statement. The
 * interval only moves forward, so a slower scheduler cannot rewind a schedule; the next check is
 * left alone when a new version was stored meanwhile (which resets it, to be planned afresh).
 */
export async function advanceDags(tx: Sql, advances: DagAdvance[]): Promise<void> {
  if (advances.length === 0) return;
  const a = advances;
  await tx`
    UPDATE dag d SET
      last_automated_interval_start = CASE WHEN v.last_end IS NOT NULL AND
        (d.last_automated_interval_end IS NULL OR d.last_automated_interval_end < v.last_end)
        THEN v.last_start ELSE d.last_automated_interval_start END,
      last_automated_interval_end = CASE WHEN v.last_end IS NOT NULL AND
        (d.last_automated_interval_end IS NULL OR d.last_automated_interval_end < v.last_end)
        THEN v.last_end ELSE d.last_automated_interval_end END,
      next_dagrun_create_after = CASE WHEN v.next_check IS NOT NULL
        AND d.latest_version_id = v.version_id
        THEN v.next_check ELSE d.next_dagrun_create_after END
    FROM unnest(${a.map((x) => x.dagId)}::text[], ${a.map((x) => x.versionId)}::int[],
      ${a.map((x) => x.last?.start ?? null)}::timestamptz[],
      ${a.map((x) => x.last?.end ?? null)}::timestamptz[],
      ${a.map((x) => x.nextCheck)}::timestamptz[])
      AS v(dag_id, version_id, last_start, last_end, next_check)
    WHERE d.dag_id = v.dag_id`;
}
