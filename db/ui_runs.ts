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
 * One row per run, its cells as parallel JSON arrays: with 200 tasks and 25 runs, 5,000 rows of
 * columns cost several times more to send and decode than 25 rows of JSON (measured on PGlite,
 * where each row and field crosses from WebAssembly to JavaScript), and building a JSON array
 * per cell took Postgres about as long again as aggregating the columns (10 against 7 ms for
 * 5,000 cells here).
 */
export async function gridCells(
  sql: Sql,
  dagRunIds: number[],
  priority: string[],
): Promise<Map<number, GridCell[]>> {
  const byRun = new Map<number, GridCell[]>();
  if (dagRunIds.length === 0) return byRun;
  const rows = await sql<
    { dagRunId: number; tasks: string[]; ids: number[]; states: (string | null)[]; n: number[] }
  >`
    SELECT dag_run_id AS "dagRunId", json_agg(task_id) AS tasks, json_agg(ti_id) AS ids,
      json_agg(state) AS states, json_agg(n) AS n
    FROM (
      SELECT dag_run_id, task_id, id AS ti_id, state, 0 AS n
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
      row.tasks.map((taskId, i) => ({
        taskId,
        tiId: row.ids[i],
        state: row.states[i] ?? "none",
        mapped: row.n[i],
      })),
    );
  }
  return byRun;
}

/** Change markers for a grid: see `gridMarker`. */
export interface GridMarker {
  dag: string;
  runs: { id: number; row: string; tis: string }[];
}

/**
 * What the grid of a DAG shows, as change markers cheap to read: the DAG row's columns that its
 * page shows, its latest runs' (newest first), and per run the count of its task instances and
 * a sum of one hash per instance of what its cell shows (id, state, map index) and its note.
 * A finished run's instances change only by hand (a mark, a note; a clear makes the run queued
 * again), and triggers (migration 012) leave a row in `finished_run_version` each time a run
 * becomes finished and for each change to one of its instances while it is: such a run's
 * marker is the count of its rows, one index lookup instead of hashing its instances (and, as
 * the count only grows, a key under which its cells can be kept). Null when the DAG does not
 * exist.
 *
 * Values, not row versions (`xmin`) or times: rows also change where nothing shown does (the DAG
 * row at every parse, a running instance's lease, the change rows a run gets at every
 * completion), and each such write would re-render the page; and a newest `updated_at` can miss a
 * change, since it is set before its transaction commits and a late commit may carry an older
 * time than one already seen. A column that the grid or its page starts to show must be added
 * here; the note is here already (nothing shows it yet, and notes change rarely). One instance's
 * change always changes its run's sum (the hashes are XORed, which a change to one input always
 * changes); that changes in several cancel out is as likely as a 32-bit collision. About 2 ms on
 * Postgres for 25 running runs of 200 tasks (the cells themselves take 7 to 10 ms).
 */
export async function gridMarker(
  sql: Sql,
  dagId: string,
  limit: number,
): Promise<GridMarker | null> {
  // One row per run (one with no run for a DAG that has none), newest first: about a fifth
  // cheaper for Postgres than aggregating them into one JSON value.
  const rows = await sql<{ dag: string; id: number | null; row: string; tis: string }>`
    SELECT json_build_array(d.is_active, d.is_paused, d.latest_version_id,
        d.next_dagrun_create_after, d.fileloc)::text AS dag,
      r.id, r.v AS row,
      CASE WHEN r.state IN ('success', 'failed')
        THEN 'f' || (SELECT count(*) FROM finished_run_version f WHERE f.dag_run_id = r.id)
        ELSE (SELECT count(*) || '.' ||
            COALESCE(sum(hashint8((ti.id::bigint << 32) | (ti.map_index + 1))
              # hashtext(COALESCE(ti.state, '')) # COALESCE(hashtext(ti.note), 0)), 0)
          FROM task_instance ti WHERE ti.dag_run_id = r.id)
      END AS tis
    FROM dag d LEFT JOIN LATERAL (
      SELECT id, run_after, state, json_build_array(run_id, state, logical_date, run_after, start_date,
          end_date, note)::text AS v
      FROM dag_run WHERE dag_id = d.dag_id
      ORDER BY run_after DESC, id DESC LIMIT ${limit}
    ) r ON true
    WHERE d.dag_id = ${dagId}
    ORDER BY r.run_after DESC, r.id DESC`;
  if (rows.length === 0) return null;
  return {
    dag: rows[0].dag,
    runs: rows.flatMap((r) => r.id === null ? [] : [{ id: r.id, row: r.row, tis: r.tis }]),
  };
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
