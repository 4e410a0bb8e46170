/**
 * The dashboard's queries about runs: the grid's columns and cells, a page of the run list, one
 * run and its task instances. Each is bounded by a page size or by one run.
 */
import type { Sql } from "./client.ts";
import type { RunType } from "./runs.ts";
import type { RunState, TaskState } from "../scheduler/states.ts";

export interface RunSummary {
  id: number;
  runId: string;
  runType: RunType;
  state: RunState;
  logicalDate: Date | null;
  runAfter: Date;
  startDate: Date | null;
  endDate: Date | null;
}

/**
 * A page of a DAG's runs, newest first, through the `dag_run_recent` index. One row more than
 * asked is read to know whether an older page exists, so no count over the whole history is
 * needed.
 */
export async function listRecentRuns(
  sql: Sql,
  dagId: string,
  limit: number,
  offset = 0,
): Promise<{ runs: RunSummary[]; more: boolean }> {
  const rows = await sql<RunSummary>`
    SELECT id, run_id AS "runId", run_type AS "runType", state, logical_date AS "logicalDate",
      run_after AS "runAfter", start_date AS "startDate", end_date AS "endDate"
    FROM dag_run WHERE dag_id = ${dagId}
    ORDER BY run_after DESC, id DESC LIMIT ${limit + 1} OFFSET ${offset}`;
  return { runs: rows.slice(0, limit), more: rows.length > limit };
}

export interface GridCell {
  taskId: string;
  /** The instance to link to (the first, for a mapped task). */
  tiId: number;
  /** The state to show: a mapped task's most pressing one; "none" for not yet scheduled. */
  state: string;
  /** Instances of a mapped task; 0 for a task that is not mapped. */
  mapped: number;
}

/**
 * The cells of the grid, per run: each task's state, its instances summarized for a mapped
 * task by `priority` (the first state in that list that any instance has).
 *
 * One row per run, the cells as a JSON array: with 200 tasks and 25 runs, 5,000 rows of
 * columns cost several times more to send and decode than 25 rows of JSON (measured on PGlite,
 * where each row and field crosses from WebAssembly to JavaScript).
 */
export async function gridCells(
  sql: Sql,
  dagRunIds: number[],
  priority: string[],
): Promise<Map<number, GridCell[]>> {
  const byRun = new Map<number, GridCell[]>();
  if (dagRunIds.length === 0) return byRun;
  const rows = await sql<{ dagRunId: number; cells: [string, number, string, number][] }>`
    SELECT dag_run_id AS "dagRunId", json_agg(json_build_array(task_id, ti_id, state, n)) AS cells
    FROM (
      SELECT dag_run_id, task_id, id AS ti_id, COALESCE(state, 'none') AS state, 0 AS n
      FROM task_instance WHERE dag_run_id = ANY(${dagRunIds}::int[]) AND map_index = -1
      UNION ALL
      SELECT dag_run_id, task_id, min(id),
        (${priority}::text[])[min(array_position(${priority}::text[], COALESCE(state, 'none')))],
        count(*)::int
      FROM task_instance WHERE dag_run_id = ANY(${dagRunIds}::int[]) AND map_index >= 0
      GROUP BY dag_run_id, task_id
    ) c
    GROUP BY dag_run_id`;
  for (const row of rows) {
    byRun.set(
      row.dagRunId,
      row.cells.map(([taskId, tiId, state, mapped]) => ({
        taskId,
        tiId,
        state: state ?? "none",
        mapped,
      })),
    );
  }
  return byRun;
}

export interface RunDetail extends RunSummary {
  dagId: string;
  dataIntervalStart: Date | null;
  dataIntervalEnd: Date | null;
  queuedAt: Date;
  conf: Record<string, unknown>;
  triggeredBy: string | null;
  dagVersionId: number;
  versionNumber: number;
}

export async function getRunDetail(
  sql: Sql,
  dagId: string,
  runId: string,
): Promise<RunDetail | null> {
  const [row] = await sql<RunDetail>`
    SELECT r.id, r.dag_id AS "dagId", r.run_id AS "runId", r.run_type AS "runType", r.state,
      r.logical_date AS "logicalDate", r.run_after AS "runAfter", r.start_date AS "startDate",
      r.end_date AS "endDate", r.data_interval_start AS "dataIntervalStart",
      r.data_interval_end AS "dataIntervalEnd", r.queued_at AS "queuedAt", r.conf,
      r.triggered_by AS "triggeredBy", r.dag_version_id AS "dagVersionId",
      v.version_number AS "versionNumber"
    FROM dag_run r JOIN dag_version v ON v.id = r.dag_version_id
    WHERE r.dag_id = ${dagId} AND r.run_id = ${runId}`;
  return row ?? null;
}

export interface RunTaskRow {
  id: number;
  taskId: string;
  mapIndex: number;
  state: TaskState | null;
  tryNumber: number;
  maxTries: number;
  startDate: Date | null;
  endDate: Date | null;
  durationMs: number | null;
}

/** A run's task instances, at most `limit` (a mapped task may have thousands). */
export function runTaskInstances(sql: Sql, dagRunId: number, limit = 2000): Promise<RunTaskRow[]> {
  return sql<RunTaskRow>`
    SELECT id, task_id AS "taskId", map_index AS "mapIndex", state, try_number AS "tryNumber",
      max_tries AS "maxTries", start_date AS "startDate", end_date AS "endDate",
      duration_ms AS "durationMs"
    FROM task_instance WHERE dag_run_id = ${dagRunId}
    ORDER BY task_id, map_index LIMIT ${limit}`;
}

/** Per task, the summarized states of one run (for the graph). */
export async function runTaskStates(sql: Sql, dagRunId: number): Promise<Map<string, string[]>> {
  const rows = await sql<{ taskId: string; states: string[] }>`
    SELECT task_id AS "taskId", array_agg(DISTINCT COALESCE(state, 'none')) AS states
    FROM task_instance WHERE dag_run_id = ${dagRunId} GROUP BY task_id`;
  return new Map(rows.map((r) => [r.taskId, r.states]));
}
