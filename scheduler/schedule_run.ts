/**
 * Moves one DAG run forward: loads its task instances, asks `decide()` what changes, and writes
 * the changes conditionally. The run row is locked with SKIP LOCKED, so several schedulers can
 * work on different runs at once and never on the same one.
 */
import type { Db, Sql } from "../db/client.ts";
import { getDagVersion } from "../db/dags.ts";
import { applyChanges, expandMapped, loadResults, loadRunTis } from "../db/task_instances.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { decide } from "./decide.ts";
import type { TaskState } from "./states.ts";

export interface RunOutcome {
  dagRunId: number;
  dagId: string;
  runId: string;
  /** Set when this call finished the run. */
  finished: "success" | "failed" | null;
  changes: number;
}

export async function scheduleRun(db: Db, dagRunId: number, now: Date): Promise<RunOutcome | null> {
  return await db.begin(async (tx) => {
    const [run] = await tx<{ dagVersionId: number; dagId: string; runId: string; runAfter: Date }>`
      SELECT dag_version_id AS "dagVersionId", dag_id AS "dagId", run_id AS "runId",
        run_after AS "runAfter"
      FROM dag_run WHERE id = ${dagRunId} AND state = 'running'
      FOR UPDATE SKIP LOCKED`;
    if (!run) return null;
    await tx`UPDATE dag_run SET needs_scheduling = false WHERE id = ${dagRunId}`;
    const { serialized: dag } = await getDagVersion(tx, run.dagVersionId);
    const tis = await loadRunTis(tx, dagRunId);
    const results = await loadResults(tx, dagRunId, steeringTasks(dag));
    const pastStates = await loadPastStates(tx, dag, run.dagId, dagRunId, run.runAfter);
    const decisions = decide({ dag, tis, results, pastStates, now });
    let changes = await applyChanges(tx, decisions.changes, now);
    for (const e of decisions.expansions) {
      await expandMapped(tx, e.id, e.count, now);
      changes++;
    }
    let finished: RunOutcome["finished"] = null;
    if (decisions.runState) {
      const ended = await tx`
        UPDATE dag_run SET state = ${decisions.runState}, end_date = ${now}
        WHERE id = ${dagRunId} AND state = 'running' RETURNING id`;
      if (ended.length) finished = decisions.runState;
    }
    return { dagRunId, dagId: run.dagId, runId: run.runId, finished, changes };
  });
}

/** The tasks whose results steer the graph: branches, short-circuits and mapping sources. */
function steeringTasks(dag: SerializedDag): string[] {
  const ids = new Set<string>();
  for (const task of dag.tasks) {
    if (task.kind !== "task") ids.add(task.taskId);
    for (const source of Object.values(task.expand ?? {})) {
      if ("task" in source) ids.add(source.task);
    }
  }
  return [...ids];
}

/** States of `dependsOnPast` tasks in the DAG's previous run (by run_after). */
async function loadPastStates(
  sql: Sql,
  dag: SerializedDag,
  dagId: string,
  dagRunId: number,
  runAfter: Date,
): Promise<Map<string, (TaskState | null)[]> | undefined> {
  const taskIds = dag.tasks.filter((t) => t.dependsOnPast).map((t) => t.taskId);
  if (taskIds.length === 0) return undefined;
  const rows = await sql<{ taskId: string; state: TaskState | null }>`
    SELECT ti.task_id AS "taskId", ti.state FROM task_instance ti
    WHERE ti.task_id = ANY(${taskIds}) AND ti.dag_run_id = (
      SELECT id FROM dag_run WHERE dag_id = ${dagId} AND id <> ${dagRunId}
        AND (run_after, id) < (${runAfter}::timestamptz, ${dagRunId}::int)
      ORDER BY run_after DESC, id DESC LIMIT 1)`;
  const past = new Map<string, (TaskState | null)[]>();
  for (const row of rows) past.set(row.taskId, [...(past.get(row.taskId) ?? []), row.state]);
  return past;
}
