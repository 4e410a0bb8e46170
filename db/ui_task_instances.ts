/**
 * The dashboard's queries about one task instance: where it is, its tries, its result, and the
 * facts that say why it is not running yet. Each reads one instance or a bounded set.
 */
import type { Sql } from "./client.ts";
import type { RunState, TaskState } from "../scheduler/states.ts";
import type { TaskError } from "../sdk/types.ts";

export interface TiDetail {
  id: number;
  dagRunId: number;
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  state: TaskState | null;
  tryNumber: number;
  maxTries: number;
  pool: string;
  poolSlots: number;
  queue: string;
  priorityWeight: number;
  queuedAt: Date | null;
  startDate: Date | null;
  endDate: Date | null;
  durationMs: number | null;
  nextRetryAt: Date | null;
  hostname: string | null;
  runState: RunState;
  dagVersionId: number;
}

/** A task's instances in a run: one, or one per map index for a mapped task (bounded). */
export function findTaskInstances(
  sql: Sql,
  r: { dagId: string; runId: string; taskId: string; mapIndex: number | null; limit?: number },
): Promise<TiDetail[]> {
  return sql<TiDetail>`
    SELECT ti.id, ti.dag_run_id AS "dagRunId", ti.dag_id AS "dagId", ti.run_id AS "runId",
      ti.task_id AS "taskId", ti.map_index AS "mapIndex", ti.state, ti.try_number AS "tryNumber",
      ti.max_tries AS "maxTries", ti.pool, ti.pool_slots AS "poolSlots", ti.queue,
      ti.priority_weight AS "priorityWeight", ti.queued_at AS "queuedAt",
      ti.start_date AS "startDate", ti.end_date AS "endDate", ti.duration_ms AS "durationMs",
      ti.next_retry_at AS "nextRetryAt", ti.hostname, r.state AS "runState",
      r.dag_version_id AS "dagVersionId"
    FROM dag_run r JOIN task_instance ti ON ti.dag_run_id = r.id
    WHERE r.dag_id = ${r.dagId} AND r.run_id = ${r.runId} AND ti.task_id = ${r.taskId}
      AND (${r.mapIndex}::int IS NULL OR ti.map_index = ${r.mapIndex}::int)
    ORDER BY ti.map_index LIMIT ${r.limit ?? 1000}`;
}

/** Where a task instance lives, to turn its numeric id into its address. */
export async function locateTaskInstance(
  sql: Sql,
  id: number,
): Promise<{ dagId: string; runId: string; taskId: string; mapIndex: number } | null> {
  const [row] = await sql<{ dagId: string; runId: string; taskId: string; mapIndex: number }>`
    SELECT dag_id AS "dagId", run_id AS "runId", task_id AS "taskId", map_index AS "mapIndex"
    FROM task_instance WHERE id = ${id}`;
  return row ?? null;
}

export interface TryRow {
  tryNumber: number;
  state: string;
  startDate: Date;
  endDate: Date | null;
  hostname: string | null;
  worker: string | null;
  error: TaskError | null;
}

export function listTries(sql: Sql, tiId: number, limit = 100): Promise<TryRow[]> {
  return sql<TryRow>`
    SELECT try_number AS "tryNumber", state, start_date AS "startDate", end_date AS "endDate",
      hostname, worker, error
    FROM task_try WHERE ti_id = ${tiId} ORDER BY try_number LIMIT ${limit}`;
}

/** The task's result as JSON text (so a huge one can be cut for display without parsing). */
export async function getResultText(sql: Sql, tiId: number): Promise<string | null> {
  const [row] = await sql<{ value: string }>`
    SELECT value::text AS value FROM xcom WHERE ti_id = ${tiId} AND key = 'return_value'`;
  return row?.value ?? null;
}

/** The states of the direct upstream tasks' instances in the same run. */
export function upstreamStates(
  sql: Sql,
  dagRunId: number,
  taskIds: string[],
): Promise<{ taskId: string; mapIndex: number; state: TaskState | null }[]> {
  if (taskIds.length === 0) return Promise.resolve([]);
  return sql`
    SELECT task_id AS "taskId", map_index AS "mapIndex", state FROM task_instance
    WHERE dag_run_id = ${dagRunId} AND task_id = ANY(${taskIds})
    ORDER BY task_id, map_index LIMIT 1000`;
}

export interface SlotUsage {
  /** The pool's size (-1: unlimited), or null when the pool does not exist. */
  poolSlots: number | null;
  poolUsed: number;
  /** The DAG's task instances that are queued or running, across its runs. */
  dagActiveTasks: number;
  /** The DAG's running runs, outside backfills. */
  dagRunningRuns: number;
  dagPaused: boolean;
}

/** What a waiting task instance competes for, each count through a partial index. */
export async function slotUsage(sql: Sql, dagId: string, pool: string): Promise<SlotUsage> {
  const [row] = await sql<SlotUsage>`
    SELECT (SELECT slots FROM pool WHERE name = ${pool}) AS "poolSlots",
      (SELECT COALESCE(sum(pool_slots), 0)::int FROM task_instance
        WHERE pool = ${pool} AND state IN ('queued', 'running')) AS "poolUsed",
      (SELECT count(*)::int FROM task_instance
        WHERE dag_id = ${dagId} AND state IN ('queued', 'running')) AS "dagActiveTasks",
      (SELECT count(*)::int FROM dag_run
        WHERE dag_id = ${dagId} AND state = 'running' AND backfill_id IS NULL) AS "dagRunningRuns",
      (SELECT is_paused FROM dag WHERE dag_id = ${dagId}) AS "dagPaused"`;
  return row;
}
