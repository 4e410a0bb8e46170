/**
 * Moves one DAG run forward: loads its task instances, asks `decide()` what changes, and writes
 * the changes conditionally. The run's row is locked with SKIP LOCKED, so several schedulers
 * (and workers finishing its tasks) can evaluate different runs at once and never the same one.
 * FOR NO KEY UPDATE is the weakest lock that excludes another evaluator and the hand edits
 * (mark, clear: the same lock) while letting rows that reference the run be written meanwhile.
 * The edits must not take FOR UPDATE: a worker that updates a task instance twice in one
 * transaction (hands it a slot, then claims it) has the second update check the instance's
 * foreign key to its run (FOR KEY SHARE), and it holds instances the edit waits for.
 */
import type { Db, Sql } from "../db/client.ts";
import { getDagVersion } from "../db/dags.ts";
import { enqueueDagCallback } from "../db/dag_callbacks.ts";
import {
  applyChanges,
  expandMapped,
  loadResults,
  takeChangesAndCheckWork,
  takeChangesAndLoadTis,
} from "../db/task_instances.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { decide, type Decisions, type TiView } from "./decide.ts";
import { failInMissingPools, inMissingPools } from "./queue_tasks.ts";
import type { TaskState } from "./states.ts";

export interface RunOutcome {
  dagRunId: number;
  dagId: string;
  runId: string;
  /** Set when this call finished the run. */
  finished: "success" | "failed" | null;
  changes: number;
  /** Task instances this evaluation made `scheduled`, ready to queue. */
  scheduled: number;
  /** The number of task instances read, for the caller's pacing of wide runs. */
  size: number;
}

interface LockedRun {
  dagVersionId: number;
  dagId: string;
  runId: string;
  runAfter: Date;
}

/**
 * `wideSize`: the run's instance count when the caller knows it is wide. Such a run is read in
 * full only when `takeChangesAndCheckWork` says an evaluation could change something: through a
 * 30,000-way fan-out the scheduler read every instance four times a second, for nothing.
 */
export async function scheduleRun(
  db: Db,
  dagRunId: number,
  now: Date,
  wideSize?: number,
): Promise<RunOutcome | null> {
  return await db.begin(async (tx) => {
    const run = await lockRun(tx, dagRunId);
    if (!run) return null;
    if (wideSize !== undefined && !(await takeChangesAndCheckWork(tx, dagRunId, now))) {
      const { dagId, runId } = run;
      return { dagRunId, dagId, runId, finished: null, changes: 0, scheduled: 0, size: wideSize };
    }
    return await evaluateRun(tx, dagRunId, run, now);
  });
}

/**
 * Locks a running run for evaluation; null when it is not running, its DAG is paused (a paused
 * DAG's runs do not move on, as in Airflow), or another evaluator holds it.
 */
export async function lockRun(tx: Sql, dagRunId: number): Promise<LockedRun | null> {
  const [run] = await tx<LockedRun>`
    SELECT r.dag_version_id AS "dagVersionId", r.dag_id AS "dagId", r.run_id AS "runId",
      r.run_after AS "runAfter"
    FROM dag_run r
    WHERE r.id = ${dagRunId} AND r.state = 'running'
      AND NOT EXISTS (SELECT 1 FROM dag d WHERE d.dag_id = r.dag_id AND d.is_paused)
    FOR NO KEY UPDATE OF r SKIP LOCKED`;
  return run ?? null;
}

/** Evaluates a run locked by `lockRun` in the same transaction. */
export async function evaluateRun(
  tx: Sql,
  dagRunId: number,
  run: LockedRun,
  now: Date,
): Promise<RunOutcome> {
  const { serialized: dag } = await getDagVersion(tx, run.dagVersionId);
  // Sent together (one round trip, not three).
  const [tis, results, pastStates] = await Promise.all([
    takeChangesAndLoadTis(tx, dagRunId),
    loadResults(tx, dagRunId, steeringTasks(dag)),
    loadPastStates(tx, dag, run.dagId, dagRunId, run.runAfter),
  ]);
  const decisions = decide({ dag, tis, results, pastStates, now });
  const [changed, , ended, missing] = await Promise.all([
    applyChanges(tx, decisions.changes, now),
    Promise.all(decisions.expansions.map((e) => expandMapped(tx, e.id, e.count, now))),
    decisions.runState
      ? tx`
        UPDATE dag_run SET state = ${decisions.runState}, end_date = ${now}
        WHERE id = ${dagRunId} AND state = 'running' RETURNING id`
      : Promise.resolve([]),
    inMissingPools(tx, dag, newlyScheduled(decisions, tis)),
  ]);
  const failed = missing.length ? await failInMissingPools(tx, dagRunId, missing, now) : 0;
  const changes = changed + decisions.expansions.length;
  const scheduled = decisions.changes.filter((c) => c.to === "scheduled").length +
    decisions.expansions.reduce((n, e) => n + e.count, 0) - failed;
  const finished = ended.length ? decisions.runState : null;
  if (finished && dag.callbacks[finished === "success" ? "success" : "failure"]) {
    await enqueueDagCallback(tx, dagRunId, finished, now);
  }
  return {
    dagRunId,
    dagId: run.dagId,
    runId: run.runId,
    finished,
    changes,
    scheduled,
    size: tis.length,
  };
}

/** The tasks with instances the decisions make scheduled (expanded ones included). */
function newlyScheduled(decisions: Decisions, tis: TiView[]): string[] {
  const taskOf = new Map(tis.map((ti) => [ti.id, ti.taskId]));
  return [
    ...new Set([
      ...decisions.changes.filter((c) => c.to === "scheduled").map((c) => taskOf.get(c.id)!),
      ...decisions.expansions.map((e) => e.taskId),
    ]),
  ];
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
