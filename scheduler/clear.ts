/**
 * Clearing task instances, as Airflow does: each chosen instance goes back to "none" with its
 * retries available again, its run goes back to queued, and the scheduler runs it anew. The
 * history of earlier tries (logs, errors) is kept. A running instance loses its lease, so its
 * worker stops it and its late completion is refused.
 */
import { beginRetrying, type Db, type Sql } from "../db/client.ts";
import { getDagVersion } from "../db/dags.ts";
import { findRun } from "../db/runs.ts";
import type { SerializedDag } from "../sdk/serialize.ts";

export interface ClearRequest {
  dagId: string;
  /** Only this run; all runs of the DAG between startDate and endDate otherwise. */
  runId?: string;
  /** Only these tasks; every task otherwise. */
  taskIds?: string[];
  includeDownstream?: boolean;
  includeUpstream?: boolean;
  /** Only failed and upstream_failed instances (Airflow's default for the API). */
  onlyFailed?: boolean;
  /** Only running instances (Airflow's `only_running`). */
  onlyRunning?: boolean;
  dryRun?: boolean;
  now: Date;
}

export interface ClearedInstance {
  dagRunId: number;
  runId: string;
  taskId: string;
  mapIndex: number;
  state: string | null;
}

export class ClearError extends Error {}

/** `audit` is called in each run's transaction that cleared something (for the audit log). */
export async function clearTaskInstances(
  db: Db,
  r: ClearRequest,
  audit?: (tx: Sql, cleared: ClearedInstance[]) => Promise<void>,
): Promise<ClearedInstance[]> {
  const runs = r.runId
    ? [await findRun(db.sql, r.dagId, r.runId)]
    : await db.sql<{ id: number; dagVersionId: number; runId: string }>`
      SELECT id, dag_version_id AS "dagVersionId", run_id AS "runId" FROM dag_run
      WHERE dag_id = ${r.dagId}`;
  if (runs.some((run) => run === null)) {
    throw new ClearError(`DAG "${r.dagId}" has no run "${r.runId}"`);
  }
  const cleared: ClearedInstance[] = [];
  for (const run of runs as { id: number; dagVersionId: number; runId: string }[]) {
    const { serialized: dag } = await getDagVersion(db.sql, run.dagVersionId);
    const taskIds = selectTasks(dag, r);
    const rows = await beginRetrying(db, async (tx) => {
      // The run first, as the scheduler locks it before its task instances: no deadlock.
      await tx`SELECT 1 FROM dag_run WHERE id = ${run.id} FOR NO KEY UPDATE`;
      const chosen = await tx<ClearedInstance & { id: number }>`
        SELECT id, dag_run_id AS "dagRunId", run_id AS "runId", task_id AS "taskId",
          map_index AS "mapIndex", state
        FROM task_instance
        WHERE dag_run_id = ${run.id} AND task_id = ANY(${taskIds})
          AND (NOT ${r.onlyFailed ?? false} OR state IN ('failed', 'upstream_failed'))
          AND (NOT ${r.onlyRunning ?? false} OR state = 'running')
        ORDER BY id
        FOR UPDATE`;
      if (r.dryRun || chosen.length === 0) return chosen;
      const retries = new Map(dag.tasks.map((t) => [t.taskId, t.retries]));
      const ids = chosen.map((c) => c.id);
      await tx`
        UPDATE task_instance ti SET state = NULL, max_tries = ti.try_number + x.retries,
          next_retry_at = NULL, lease_owner = NULL, lease_expires_at = NULL, end_date = NULL,
          queued_at = NULL, updated_at = ${r.now}
        FROM unnest(${ids}::int[], ${chosen.map((c) => retries.get(c.taskId) ?? 0)}::int[])
          AS x(id, retries)
        WHERE ti.id = x.id`;
      await tx`
        UPDATE dag_run SET state = 'queued', end_date = NULL WHERE id = ${run.id}`;
      await audit?.(tx, chosen);
      return chosen;
    });
    cleared.push(...rows.map(({ id: _, ...rest }) => rest));
  }
  return cleared;
}

function selectTasks(dag: SerializedDag, r: ClearRequest): string[] {
  const all = new Set(dag.tasks.map((t) => t.taskId));
  if (!r.taskIds?.length) return [...all];
  const unknown = r.taskIds.filter((id) => !all.has(id));
  if (unknown.length) {
    throw new ClearError(`DAG "${r.dagId}" has no task ${unknown.map((u) => `"${u}"`).join(", ")}`);
  }
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const chosen = new Set(r.taskIds);
  const walk = (start: string[], next: (id: string) => string[]) => {
    const stack = [...start];
    while (stack.length) {
      for (const n of next(stack.pop()!)) {
        if (!chosen.has(n)) {
          chosen.add(n);
          stack.push(n);
        }
      }
    }
  };
  if (r.includeDownstream) walk(r.taskIds, (id) => byId.get(id)!.downstream);
  if (r.includeUpstream) walk(r.taskIds, (id) => byId.get(id)!.upstream);
  return [...chosen];
}
