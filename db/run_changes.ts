/**
 * "This run may make progress now": rows in `dag_run_change` (see migration 004 for why a table
 * and not a flag). Writers record a change in the transaction that made it; the scheduler takes
 * a run's changes just before it reads the run, so none is lost between the two.
 */
import type { Sql } from "./client.ts";

export async function recordRunChanges(sql: Sql, dagRunIds: number[]): Promise<void> {
  if (dagRunIds.length === 0) return;
  await sql`
    INSERT INTO dag_run_change (dag_run_id) SELECT DISTINCT unnest(${dagRunIds}::int[])`;
}

/** Runs that may make progress: a recorded change, or a retry that is due; paused DAGs wait. */
export async function runsWithChanges(sql: Sql, now: Date, limit: number): Promise<number[]> {
  const rows = await sql<{ id: number }>`
    SELECT r.id FROM dag_run r JOIN dag d ON d.dag_id = r.dag_id
    WHERE r.state = 'running' AND NOT d.is_paused AND r.id IN (
      SELECT dag_run_id FROM dag_run_change
      UNION
      SELECT dag_run_id FROM task_instance WHERE state = 'up_for_retry' AND next_retry_at <= ${now}
    )
    ORDER BY r.id LIMIT ${limit}`;
  return rows.map((r) => r.id);
}

/** Drops the changes of runs that ended, were cleared back to queued, or no longer exist. */
export async function sweepRunChanges(sql: Sql): Promise<number> {
  const rows = await sql`
    DELETE FROM dag_run_change c
    WHERE NOT EXISTS (SELECT 1 FROM dag_run r WHERE r.id = c.dag_run_id AND r.state = 'running')
    RETURNING 1`;
  return rows.length;
}
