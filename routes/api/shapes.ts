/**
 * Rows -> Airflow's JSON shapes. Each builder is typed by the response schema it produces, so a
 * missing or misnamed field is a type error here rather than a surprise in a client.
 */
import type { z } from "zod";
import type { ApiDag, ApiImportError } from "../../db/api_dags.ts";
import type { ApiRun } from "../../db/api_runs.ts";
import type { ApiTi, ApiXcom } from "../../db/api_task_instances.ts";
import { createTimetable, type DagRunInfo } from "../../scheduler/timetable.ts";
import type {
  DAGResponse,
  DAGRunResponse,
  DagVersionResponse,
  ImportErrorResponse,
  TaskInstanceResponse,
  XComResponse,
} from "./schemas.ts";

type Out<T extends z.ZodType> = z.input<T>;

const iso = (d: Date | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

/** Airflow's bundle of DAG files; Gust has one, the DAG folder. */
const BUNDLE_NAME = "dags-folder";

/**
 * Airflow's DAG version ids are UUIDs; Gust's are integers. The content hash, laid out as a UUID,
 * is a stable id of the same form that clients can parse.
 */
export function versionUuid(hash: string): string {
  const h = hash.padEnd(32, "0");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${
    h.slice(20, 32)
  }`;
}

export function versionResponse(v: {
  dagId: string;
  versionNumber: number;
  versionHash: string;
  versionCreatedAt: Date;
}): Out<typeof DagVersionResponse> {
  return {
    id: versionUuid(v.versionHash),
    version_number: v.versionNumber,
    dag_id: v.dagId,
    bundle_name: BUNDLE_NAME,
    bundle_version: null,
    created_at: iso(v.versionCreatedAt)!,
    dag_display_name: v.dagId,
    bundle_url: null,
  };
}

// What Gust records in dag_run.triggered_by, in Airflow's vocabulary. A webhook is an API call.
const TRIGGERED_BY: Record<string, Out<typeof DAGRunResponse>["triggered_by"]> = {
  scheduler: "timetable",
  timetable: "timetable",
  rest_api: "rest_api",
  webhook: "rest_api",
  cli: "cli",
  ui: "ui",
  test: "test",
  backfill: "backfill",
  asset: "asset",
  operator: "operator",
};

export function runResponse(run: ApiRun): Out<typeof DAGRunResponse> {
  const duration = run.startDate && run.endDate
    ? (new Date(run.endDate).getTime() - new Date(run.startDate).getTime()) / 1000
    : null;
  return {
    dag_run_id: run.runId,
    dag_id: run.dagId,
    logical_date: iso(run.logicalDate),
    queued_at: iso(run.queuedAt),
    start_date: iso(run.startDate),
    end_date: iso(run.endDate),
    duration,
    data_interval_start: iso(run.dataIntervalStart),
    data_interval_end: iso(run.dataIntervalEnd),
    run_after: iso(run.runAfter)!,
    last_scheduling_decision: null,
    // Airflow has no webhook run type: such a run is a manual run started through the API.
    run_type: run.runType === "webhook" ? "manual" : run.runType,
    state: run.state,
    triggered_by: run.triggeredBy
      ? TRIGGERED_BY[run.triggeredBy] ?? null
      : run.runType === "scheduled"
      ? "timetable"
      : run.runType === "backfill"
      ? "backfill"
      : null,
    triggering_user_name: null,
    conf: run.conf,
    note: run.note,
    dag_versions: [versionResponse(run)],
    bundle_version: null,
    dag_display_name: run.dagId,
  };
}

export function tiResponse(ti: ApiTi): Out<typeof TaskInstanceResponse> {
  const duration = ti.durationMs !== null
    ? ti.durationMs / 1000
    : ti.startDate && ti.endDate
    ? (new Date(ti.endDate).getTime() - new Date(ti.startDate).getTime()) / 1000
    : null;
  return {
    id: String(ti.id),
    task_id: ti.taskId,
    dag_id: ti.dagId,
    dag_run_id: ti.runId,
    map_index: ti.mapIndex,
    logical_date: iso(ti.logicalDate),
    run_after: iso(ti.runAfter)!,
    start_date: iso(ti.startDate),
    end_date: iso(ti.endDate),
    duration,
    state: ti.state as Out<typeof TaskInstanceResponse>["state"],
    try_number: ti.tryNumber,
    max_tries: ti.maxTries,
    task_display_name: ti.taskId,
    dag_display_name: ti.dagId,
    hostname: ti.hostname,
    unixname: null,
    pool: ti.pool,
    pool_slots: ti.poolSlots,
    queue: ti.queue,
    priority_weight: ti.priorityWeight,
    operator: null,
    operator_name: null,
    queued_when: iso(ti.queuedAt),
    scheduled_when: null,
    pid: null,
    executor: null,
    executor_config: "{}",
    note: ti.note,
    rendered_map_index: ti.mapIndex >= 0 ? String(ti.mapIndex) : null,
    rendered_fields: {},
    trigger: null,
    triggerer_job: null,
    dag_version: versionResponse(ti),
  };
}

/** The next run the schedule will create, from the last automated one; null when none. */
function nextRun(d: ApiDag, now: Date): DagRunInfo | null {
  if (!d.schedule || !d.isActive) return null;
  try {
    const timetable = createTimetable({
      schedule: d.schedule,
      timezone: d.timezone,
      startDate: d.startDate ? new Date(d.startDate) : null,
      endDate: d.endDate ? new Date(d.endDate) : null,
    });
    const last = d.lastIntervalStart && d.lastIntervalEnd
      ? { start: d.lastIntervalStart, end: d.lastIntervalEnd }
      : null;
    return timetable.next(last, { catchup: d.catchup, now });
  } catch {
    return null; // a schedule that no longer parses is an import error, shown elsewhere
  }
}

function timetableDescription(d: ApiDag): string | null {
  try {
    return createTimetable({
      schedule: d.schedule,
      timezone: d.timezone,
      startDate: null,
      endDate: null,
    })
      .description;
  } catch {
    return null;
  }
}

export function dagResponse(d: ApiDag, now: Date): Out<typeof DAGResponse> {
  const next = nextRun(d, now);
  return {
    dag_id: d.dagId,
    dag_display_name: d.dagId,
    is_paused: d.isPaused,
    is_stale: !d.isActive,
    last_parsed_time: iso(d.lastParsedAt),
    last_expired: null,
    bundle_name: BUNDLE_NAME,
    bundle_version: null,
    relative_fileloc: d.fileloc,
    fileloc: d.fileloc,
    description: d.description,
    timetable_summary: d.schedule,
    timetable_description: timetableDescription(d),
    tags: d.tags.map((name) => ({ name, dag_id: d.dagId, dag_display_name: d.dagId })),
    max_active_tasks: d.maxActiveTasks,
    max_active_runs: d.maxActiveRuns,
    max_consecutive_failed_dag_runs: 0,
    has_task_concurrency_limits: false,
    has_import_errors: d.hasImportErrors,
    next_dagrun_logical_date: iso(next?.logicalDate),
    next_dagrun_data_interval_start: iso(next?.dataInterval.start),
    next_dagrun_data_interval_end: iso(next?.dataInterval.end),
    next_dagrun_run_after: iso(next?.runAfter),
    owners: [],
    // Airflow signs the file location; Gust serves no DAG sources through the API, so the token
    // is only an opaque name for the file.
    file_token: base64url(d.fileloc),
  };
}

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

export function xcomResponse(x: ApiXcom): Out<typeof XComResponse> {
  return {
    key: x.key,
    timestamp: iso(x.createdAt)!,
    logical_date: iso(x.logicalDate),
    map_index: x.mapIndex,
    task_id: x.taskId,
    dag_id: x.dagId,
    run_id: x.runId,
    dag_display_name: x.dagId,
    task_display_name: x.taskId,
  };
}

export function importErrorResponse(e: ApiImportError): Out<typeof ImportErrorResponse> {
  const trace = e.stack && !e.stack.includes(e.message) ? `${e.message}\n${e.stack}` : e.stack;
  return {
    import_error_id: e.id,
    timestamp: iso(e.createdAt)!,
    filename: e.filename,
    bundle_name: BUNDLE_NAME,
    stack_trace: trace ?? e.message,
  };
}
