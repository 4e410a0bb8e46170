/**
 * Queued runs -> running, oldest logical date first, while the DAG has fewer running runs than
 * its `maxActiveRuns`. Runs of paused DAGs wait. Serialized across schedulers by an advisory
 * lock so two of them cannot both start the last allowed run.
 */
import type { Db, Sql } from "../db/client.ts";

const START_LOCK = 7_406_815;

export async function startQueuedRuns(db: Db, now: Date): Promise<number> {
  return (await db.begin((tx) => startRuns(tx, now))).length;
}

/** Starts what may start, in the caller's transaction; returns the ids of the runs started. */
export async function startRuns(tx: Sql, now: Date): Promise<number[]> {
  await tx`SELECT pg_advisory_xact_lock(${START_LOCK})`;
  // Backfill runs count against their backfill's limit, not the DAG's, as in Airflow 3.
  const started = await tx`
    WITH active AS (
      SELECT dag_id, backfill_id, count(*) AS n FROM dag_run WHERE state = 'running'
      GROUP BY dag_id, backfill_id
    ), candidates AS (
      SELECT q.id, COALESCE(b.max_active_runs, v.max_active_runs) AS max_active_runs,
        COALESCE(a.n, 0) AS n,
        row_number() OVER (PARTITION BY q.dag_id, q.backfill_id
          ORDER BY q.logical_date NULLS LAST, q.run_after, q.id) AS position
      FROM dag_run q
        JOIN dag d ON d.dag_id = q.dag_id
        JOIN dag_version v ON v.id = q.dag_version_id
        LEFT JOIN backfill b ON b.id = q.backfill_id
        LEFT JOIN active a ON a.dag_id = q.dag_id
          AND a.backfill_id IS NOT DISTINCT FROM q.backfill_id
      WHERE q.state = 'queued' AND NOT d.is_paused AND NOT COALESCE(b.is_paused, false)
        AND q.run_after <= ${now}
    )
    , started AS (
      UPDATE dag_run SET state = 'running', start_date = ${now}
      WHERE id IN (SELECT id FROM candidates WHERE position + n <= max_active_runs)
        AND state = 'queued'
      RETURNING id
    )
    INSERT INTO dag_run_change (dag_run_id) SELECT id FROM started
    RETURNING dag_run_id AS id`;
  return started.map((r) => r.id as number);
}

/** Whether any run waits to start: most passes have none, and then skip the locked query. */
export async function hasQueuedRuns(db: Db, now: Date): Promise<boolean> {
  const [row] = await db.sql`
    SELECT 1 FROM dag_run WHERE state = 'queued' AND run_after <= ${now} LIMIT 1`;
  return Boolean(row);
}
