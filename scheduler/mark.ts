/**
 * Marking runs and task instances by hand (Airflow's "mark success" and "mark failed"), for the
 * REST API and the dashboard. Each change is a conditional update inside a transaction that
 * locks the run, so it cannot interleave with the scheduler deciding the same run. A running try
 * that is marked loses its lease: its worker stops it and its late completion is refused, as
 * after a clear. A change is recorded for the run so the scheduler looks at it at once. Task
 * instances are locked in id order, as the workers finishing them lock theirs, so marking a busy
 * fan-out does not deadlock against its completions (and a lost race is run again).
 */
import { beginRetrying, type Db, type Sql } from "../db/client.ts";
import { getDagVersion } from "../db/dags.ts";
import { recordRunChanges } from "../db/run_changes.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { clearTaskInstances } from "./clear.ts";

export type RunMark = "success" | "failed" | "queued";
export type TaskMark = "success" | "failed" | "skipped";

export class MarkError extends Error {}

/** Ends a running try that was marked, so its history shows how it ended. */
async function endRunningTries(tx: Sql, ids: number[], state: string, now: Date): Promise<void> {
  if (ids.length === 0) return;
  await tx`
    UPDATE task_try tt SET state = ${state}, end_date = ${now}
    FROM task_instance ti
    WHERE ti.id = tt.ti_id AND tt.try_number = ti.try_number AND ti.id = ANY(${ids}::int[])
      AND tt.state = 'running'`;
}

/**
 * Airflow's set_dag_run_state_to_*: `success` marks every task instance that is not a success
 * as one (teardowns still to run are left to run, and the run finishes after them); `failed`
 * fails the running instances and skips the unfinished ones; `queued` only re-queues the run.
 * Returns false when the run does not exist. `audit` is called in its transaction when it marks.
 */
export async function markRun(
  db: Db,
  r: { dagRunId: number; state: RunMark; now: Date },
  audit?: (tx: Sql) => Promise<void>,
): Promise<boolean> {
  return await beginRetrying(db, async (tx) => {
    const [run] = await tx<{ dagVersionId: number }>`
      SELECT dag_version_id AS "dagVersionId" FROM dag_run WHERE id = ${r.dagRunId} FOR NO KEY UPDATE`;
    if (!run) return false;
    if (r.state === "queued") {
      await tx`
        UPDATE dag_run SET state = 'queued', end_date = NULL WHERE id = ${r.dagRunId}`;
      await audit?.(tx);
      return true;
    }
    const { serialized: dag } = await getDagVersion(tx, run.dagVersionId);
    const teardowns = dag.tasks.filter((t) => t.role === "teardown").map((t) => t.taskId);
    let changed: { id: number; was: string | null }[];
    let runState: string = r.state;
    if (r.state === "success") {
      changed = await tx`
        UPDATE task_instance ti SET state = 'success', end_date = COALESCE(ti.end_date, ${r.now}),
          lease_owner = NULL, lease_expires_at = NULL, next_retry_at = NULL, updated_at = ${r.now}
        FROM (
          SELECT id, state FROM task_instance
          WHERE dag_run_id = ${r.dagRunId} AND state IS DISTINCT FROM 'success'
            AND NOT (task_id = ANY(${teardowns}))
          ORDER BY id FOR UPDATE
        ) old
        WHERE ti.id = old.id
        RETURNING ti.id, old.state AS was`;
      const [pending] = await tx`
        SELECT 1 FROM task_instance WHERE dag_run_id = ${r.dagRunId}
          AND task_id = ANY(${teardowns})
          AND (state IS NULL OR state NOT IN ('success', 'failed', 'skipped', 'upstream_failed',
            'removed'))
        LIMIT 1`;
      if (pending) runState = "running";
    } else {
      changed = await tx`
        UPDATE task_instance ti
        SET state = CASE WHEN ti.state = 'running' THEN 'failed' ELSE 'skipped' END,
          end_date = ${r.now}, lease_owner = NULL, lease_expires_at = NULL, next_retry_at = NULL,
          updated_at = ${r.now}
        FROM (
          SELECT id, state FROM task_instance
          WHERE dag_run_id = ${r.dagRunId} AND (state IS NULL OR state IN ('scheduled', 'queued',
            'running', 'up_for_retry', 'up_for_reschedule'))
          ORDER BY id FOR UPDATE
        ) old
        WHERE ti.id = old.id
        RETURNING ti.id, old.state AS was`;
    }
    await endRunningTries(
      tx,
      changed.filter((c) => c.was === "running").map((c) => c.id),
      r.state === "success" ? "success" : "failed",
      r.now,
    );
    await tx`
      UPDATE dag_run SET state = ${runState}, start_date = COALESCE(start_date, ${r.now}),
        end_date = CASE WHEN ${runState} = 'running' THEN NULL ELSE ${r.now}::timestamptz END
      WHERE id = ${r.dagRunId}`;
    await recordRunChanges(tx, [r.dagRunId]);
    await audit?.(tx);
    return true;
  });
}

export interface MarkTasksRequest {
  dagRunId: number;
  taskId: string;
  /** Only this map index; every instance of the task otherwise. */
  mapIndex?: number | null;
  state: TaskMark;
  includeUpstream?: boolean;
  includeDownstream?: boolean;
  dryRun?: boolean;
  now: Date;
}

export interface MarkedInstance {
  id: number;
  taskId: string;
  mapIndex: number;
  /** The state before marking. */
  state: string | null;
}

/**
 * Airflow's set_task_instance_state: marks the task's instances (and, when asked, those of its
 * upstream or downstream tasks) and then clears the failed or upstream_failed instances
 * downstream of it, so that marking a failed task success lets the rest of the run go on.
 * Returns the instances whose state changed (or would change, for a dry run). `audit` is called
 * in the marking transaction when something was marked (for the audit log).
 */
export async function markTaskInstances(
  db: Db,
  r: MarkTasksRequest,
  audit?: (tx: Sql, marked: MarkedInstance[]) => Promise<void>,
): Promise<MarkedInstance[]> {
  const [run] = await db.sql<{ dagId: string; runId: string; dagVersionId: number }>`
    SELECT dag_id AS "dagId", run_id AS "runId", dag_version_id AS "dagVersionId"
    FROM dag_run WHERE id = ${r.dagRunId}`;
  if (!run) throw new MarkError(`DAG run ${r.dagRunId} does not exist`);
  const { serialized: dag } = await getDagVersion(db.sql, run.dagVersionId);
  if (!dag.tasks.some((t) => t.taskId === r.taskId)) {
    throw new MarkError(`DAG "${run.dagId}" has no task "${r.taskId}"`);
  }
  const taskIds = relatives(dag, r.taskId, r.includeUpstream, r.includeDownstream);
  const mapIndex = r.mapIndex ?? null;
  const marked = await beginRetrying(db, async (tx) => {
    await tx`SELECT 1 FROM dag_run WHERE id = ${r.dagRunId} FOR NO KEY UPDATE`;
    // Only the named task is filtered by map index; its relatives are marked whole.
    const chosen = await tx<MarkedInstance>`
      WITH locked AS (
        SELECT id, task_id, map_index, state FROM task_instance
        WHERE dag_run_id = ${r.dagRunId} AND task_id = ANY(${taskIds})
          AND (task_id <> ${r.taskId} OR ${mapIndex}::int IS NULL OR map_index = ${mapIndex}::int)
          AND state IS DISTINCT FROM ${r.state}
        ORDER BY id FOR UPDATE
      )
      SELECT id, task_id AS "taskId", map_index AS "mapIndex", state FROM locked
      ORDER BY task_id, map_index`;
    if (r.dryRun || chosen.length === 0) return chosen;
    const ids = chosen.map((c) => c.id);
    await endRunningTries(
      tx,
      chosen.filter((c) => c.state === "running").map((c) => c.id),
      r.state,
      r.now,
    );
    await tx`
      UPDATE task_instance SET state = ${r.state}, end_date = ${r.now}, lease_owner = NULL,
        lease_expires_at = NULL, next_retry_at = NULL, updated_at = ${r.now},
        start_date = COALESCE(start_date, ${r.now})
      WHERE id = ANY(${ids}::int[])`;
    await recordRunChanges(tx, [r.dagRunId]);
    await audit?.(tx, chosen);
    return chosen;
  });
  if (!r.dryRun && marked.length > 0) {
    const markedTasks = new Set(marked.map((m) => m.taskId));
    const below = [...relatives(dag, r.taskId, false, true)].filter((id) => !markedTasks.has(id));
    if (below.length > 0) {
      await clearTaskInstances(db, {
        dagId: run.dagId,
        runId: run.runId,
        taskIds: below,
        onlyFailed: true,
        now: r.now,
      });
    }
  }
  return marked;
}

/** The task and, when asked, every task upstream or downstream of it. */
function relatives(
  dag: SerializedDag,
  taskId: string,
  upstream = false,
  downstream = false,
): string[] {
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const chosen = new Set([taskId]);
  const walk = (next: (id: string) => string[]) => {
    const stack = [taskId];
    while (stack.length) {
      for (const n of next(stack.pop()!)) {
        if (!chosen.has(n)) {
          chosen.add(n);
          stack.push(n);
        }
      }
    }
  };
  if (upstream) walk((id) => byId.get(id)?.upstream ?? []);
  if (downstream) walk((id) => byId.get(id)?.downstream ?? []);
  return [...chosen];
}
