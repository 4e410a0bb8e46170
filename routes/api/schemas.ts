/**
 * The API's request and response schemas, named as in Airflow's OpenAPI document. Request bodies
 * are parsed with them; response builders are typed by them; and `/api/v2/openapi.json` is
 * generated from them, so the published document cannot drift from what the code does. The
 * tests check the answers against Airflow's own document too.
 */
import { z } from "zod";
import { ID_PATTERN } from "../../sdk/options.ts";

type Meta = { id: string; description?: string };
export const requests = z.registry<Meta>();
export const responses = z.registry<Meta>();

export function request<T extends z.ZodType>(id: string, schema: T, description?: string): T {
  requests.add(schema, { id, description });
  return schema;
}
export function response<T extends z.ZodType>(id: string, schema: T, description?: string): T {
  responses.add(schema, { id, description });
  return schema;
}

const dateTime = z.iso.datetime({ offset: true });
const when = dateTime.nullable();
/** A date in a request: ISO 8601 with a time zone (Airflow refuses naive dates). */
const inputDate = z.iso.datetime({ offset: true, message: "Input should have timezone info" });

// ---------------------------------------------------------------- enums

export const DagRunState = response(
  "DagRunState",
  z.enum(["queued", "running", "success", "failed"]),
);
export const DagRunType = response(
  "DagRunType",
  z.enum(["backfill", "scheduled", "manual", "asset_triggered"]),
  "Gust's webhook runs are reported as manual runs triggered through the REST API.",
);
export const DagRunTriggeredByType = response(
  "DagRunTriggeredByType",
  z.enum(["cli", "operator", "rest_api", "ui", "test", "timetable", "asset", "backfill"]),
);
export const TaskInstanceState = response(
  "TaskInstanceState",
  z.enum([
    "removed",
    "scheduled",
    "queued",
    "running",
    "success",
    "restarting",
    "failed",
    "up_for_retry",
    "up_for_reschedule",
    "upstream_failed",
    "skipped",
    "deferred",
  ]),
);

// ---------------------------------------------------------------- errors

export const HTTPExceptionResponse = response(
  "HTTPExceptionResponse",
  z.object({ detail: z.string() }),
);
export const ValidationError = response(
  "ValidationError",
  z.object({
    loc: z.array(z.union([z.string(), z.number().int()])),
    msg: z.string(),
    type: z.string(),
  }),
);
export const HTTPValidationError = response(
  "HTTPValidationError",
  z.object({ detail: z.array(ValidationError) }),
);

// ---------------------------------------------------------------- DAGs

export const DagTagResponse = response(
  "DagTagResponse",
  z.object({ name: z.string(), dag_id: z.string(), dag_display_name: z.string() }),
);

export const DAGResponse = response(
  "DAGResponse",
  z.object({
    dag_id: z.string(),
    dag_display_name: z.string(),
    is_paused: z.boolean(),
    is_stale: z.boolean(),
    last_parsed_time: when,
    last_expired: when,
    bundle_name: z.string().nullable(),
    bundle_version: z.string().nullable(),
    relative_fileloc: z.string().nullable(),
    fileloc: z.string(),
    description: z.string().nullable(),
    timetable_summary: z.string().nullable(),
    timetable_description: z.string().nullable(),
    tags: z.array(DagTagResponse),
    max_active_tasks: z.number().int(),
    max_active_runs: z.number().int().nullable(),
    max_consecutive_failed_dag_runs: z.number().int(),
    has_task_concurrency_limits: z.boolean(),
    has_import_errors: z.boolean(),
    next_dagrun_logical_date: when,
    next_dagrun_data_interval_start: when,
    next_dagrun_data_interval_end: when,
    next_dagrun_run_after: when,
    owners: z.array(z.string()),
    file_token: z.string(),
  }),
);

export const DAGCollectionResponse = response(
  "DAGCollectionResponse",
  z.object({ dags: z.array(DAGResponse), total_entries: z.number().int() }),
);

export const DAGPatchBody = request(
  "DAGPatchBody",
  z.strictObject({ is_paused: z.boolean() }),
);

// ---------------------------------------------------------------- DAG runs

export const DagVersionResponse = response(
  "DagVersionResponse",
  z.object({
    id: z.string(),
    version_number: z.number().int(),
    dag_id: z.string(),
    bundle_name: z.string().nullable(),
    bundle_version: z.string().nullable(),
    created_at: dateTime,
    dag_display_name: z.string(),
    bundle_url: z.string().nullable(),
  }),
);

export const DAGRunResponse = response(
  "DAGRunResponse",
  z.object({
    dag_run_id: z.string(),
    dag_id: z.string(),
    logical_date: when,
    queued_at: when,
    start_date: when,
    end_date: when,
    duration: z.number().nullable(),
    data_interval_start: when,
    data_interval_end: when,
    run_after: dateTime,
    last_scheduling_decision: when,
    run_type: DagRunType,
    state: DagRunState,
    triggered_by: DagRunTriggeredByType.nullable(),
    triggering_user_name: z.string().nullable(),
    conf: z.record(z.string(), z.unknown()).nullable(),
    note: z.string().nullable(),
    dag_versions: z.array(DagVersionResponse),
    bundle_version: z.string().nullable(),
    dag_display_name: z.string(),
  }),
);

export const DAGRunCollectionResponse = response(
  "DAGRunCollectionResponse",
  z.object({ dag_runs: z.array(DAGRunResponse), total_entries: z.number().int() }),
);

/** Airflow's allowed_run_id_pattern; `..` and a bare `~` (every run, in paths) are refused too. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9_.~:+-]{1,250}$/;

export const TriggerDAGRunPostBody = request(
  "TriggerDAGRunPostBody",
  z.strictObject({
    dag_run_id: z.string().nullish(),
    data_interval_start: inputDate.nullish(),
    data_interval_end: inputDate.nullish(),
    logical_date: inputDate.nullable(),
    run_after: inputDate.nullish(),
    conf: z.record(z.string(), z.unknown()).nullish(),
    note: z.string().max(1000).nullish(),
  }),
);

export const DAGRunPatchBody = request(
  "DAGRunPatchBody",
  z.strictObject({
    state: z.enum(["queued", "success", "failed"]).nullish(),
    note: z.string().max(1000).nullish(),
  }),
);

export const DAGRunClearBody = request(
  "DAGRunClearBody",
  z.strictObject({
    dry_run: z.boolean().default(true),
    only_failed: z.boolean().default(false),
    run_on_latest_version: z.boolean().default(false),
  }),
);

// ---------------------------------------------------------------- task instances

export const TaskInstanceResponse = response(
  "TaskInstanceResponse",
  z.object({
    id: z.string(),
    task_id: z.string(),
    dag_id: z.string(),
    dag_run_id: z.string(),
    map_index: z.number().int(),
    logical_date: when,
    run_after: dateTime,
    start_date: when,
    end_date: when,
    duration: z.number().nullable(),
    state: TaskInstanceState.nullable(),
    try_number: z.number().int(),
    max_tries: z.number().int(),
    task_display_name: z.string(),
    dag_display_name: z.string(),
    hostname: z.string().nullable(),
    unixname: z.string().nullable(),
    pool: z.string(),
    pool_slots: z.number().int(),
    queue: z.string().nullable(),
    priority_weight: z.number().int().nullable(),
    operator: z.string().nullable(),
    operator_name: z.string().nullable(),
    queued_when: when,
    scheduled_when: when,
    pid: z.number().int().nullable(),
    executor: z.string().nullable(),
    executor_config: z.string(),
    note: z.string().nullable(),
    rendered_map_index: z.string().nullable(),
    rendered_fields: z.record(z.string(), z.unknown()),
    trigger: z.null(),
    triggerer_job: z.null(),
    dag_version: DagVersionResponse.nullable(),
  }),
);

export const TaskInstanceCollectionResponse = response(
  "TaskInstanceCollectionResponse",
  z.object({ task_instances: z.array(TaskInstanceResponse), total_entries: z.number().int() }),
);

export const PatchTaskInstanceBody = request(
  "PatchTaskInstanceBody",
  z.strictObject({
    new_state: z.enum(["success", "failed", "skipped"], {
      message: "Input should be 'success', 'failed' or 'skipped'",
    }).nullish(),
    note: z.string().max(1000).nullish(),
    include_upstream: z.boolean().default(false),
    include_downstream: z.boolean().default(false),
    include_future: z.literal(false, "Gust does not mark other runs").default(false),
    include_past: z.literal(false, "Gust does not mark other runs").default(false),
  }),
);

export const ClearTaskInstancesBody = request(
  "ClearTaskInstancesBody",
  z.strictObject({
    dry_run: z.boolean().default(true),
    start_date: inputDate.nullish(),
    end_date: inputDate.nullish(),
    only_failed: z.boolean().default(true),
    only_running: z.boolean().default(false),
    reset_dag_runs: z.literal(true, "Gust always re-queues the runs it clears").default(true),
    task_ids: z.array(z.string()).nullish(),
    dag_run_id: z.string().nullish(),
    include_upstream: z.boolean().default(false),
    include_downstream: z.boolean().default(false),
    include_future: z.literal(false, "Gust does not clear other runs").default(false),
    include_past: z.literal(false, "Gust does not clear other runs").default(false),
    run_on_latest_version: z.literal(false, "Gust keeps a run on its DAG version").default(false),
  }),
);

export const StructuredLogMessage = response(
  "StructuredLogMessage",
  z.object({ timestamp: dateTime, event: z.string(), level: z.string() }),
);

export const TaskInstancesLogResponse = response(
  "TaskInstancesLogResponse",
  z.object({
    content: z.array(StructuredLogMessage),
    continuation_token: z.string().nullable(),
  }),
  "continuation_token is null once the try has ended and every line was sent.",
);

export const XComResponse = response(
  "XComResponse",
  z.object({
    key: z.string(),
    timestamp: dateTime,
    logical_date: when,
    map_index: z.number().int(),
    task_id: z.string(),
    dag_id: z.string(),
    run_id: z.string(),
    dag_display_name: z.string(),
    task_display_name: z.string(),
  }),
);

export const XComCollectionResponse = response(
  "XComCollectionResponse",
  z.object({ xcom_entries: z.array(XComResponse), total_entries: z.number().int() }),
);

export const XComResponseNative = response(
  "XComResponseNative",
  z.object({ ...XComResponse.shape, value: z.unknown() }),
  "One result with its value, as the task returned it (JSON).",
);

export const XComResponseString = response(
  "XComResponseString",
  z.object({ ...XComResponse.shape, value: z.string().nullable() }),
  "One result with its value as JSON text (`stringify=true`).",
);

// ---------------------------------------------------------------- the rest

export const ImportErrorResponse = response(
  "ImportErrorResponse",
  z.object({
    import_error_id: z.number().int(),
    timestamp: dateTime,
    filename: z.string(),
    bundle_name: z.string().nullable(),
    stack_trace: z.string(),
  }),
);

export const ImportErrorCollectionResponse = response(
  "ImportErrorCollectionResponse",
  z.object({ import_errors: z.array(ImportErrorResponse), total_entries: z.number().int() }),
);

const status = z.string().nullable();
export const HealthInfoResponse = response(
  "HealthInfoResponse",
  z.object({
    metadatabase: z.object({ status }),
    scheduler: z.object({ status, latest_scheduler_heartbeat: z.string().nullable() }),
    triggerer: z.object({ status, latest_triggerer_heartbeat: z.string().nullable() }),
    dag_processor: z.object({ status, latest_dag_processor_heartbeat: z.string().nullable() })
      .nullable(),
  }),
  "Gust has no triggerer (its status is null); the DAG processor runs in the scheduler.",
);

export const VersionInfo = response(
  "VersionInfo",
  z.object({ version: z.string(), git_version: z.string().nullable() }),
);

export const BackfillPostBody = request(
  "BackfillPostBody",
  z.strictObject({
    dag_id: z.string(),
    from_date: inputDate,
    to_date: inputDate,
    run_backwards: z.literal(false, "Gust does not run backfills backwards").default(false),
    dag_run_conf: z.record(z.string(), z.unknown()).default({}),
    reprocess_behavior: z.enum(["failed", "completed", "none"]).default("none"),
    max_active_runs: z.number().int().min(1).default(10),
  }),
);

export const BackfillResponse = response(
  "BackfillResponse",
  z.object({
    id: z.number().int(),
    dag_id: z.string(),
    from_date: dateTime,
    to_date: dateTime,
    dag_run_conf: z.record(z.string(), z.unknown()),
    is_paused: z.boolean(),
    reprocess_behavior: z.enum(["failed", "completed", "none"]),
    max_active_runs: z.number().int(),
    created_at: dateTime,
    completed_at: when,
    updated_at: dateTime,
    dag_display_name: z.string(),
  }),
);

export const DryRunBackfillResponse = response(
  "DryRunBackfillResponse",
  z.object({ logical_date: dateTime }),
);

export const DryRunBackfillCollectionResponse = response(
  "DryRunBackfillCollectionResponse",
  z.object({ backfills: z.array(DryRunBackfillResponse), total_entries: z.number().int() }),
);

// ---------------------------------------------------------------- pools

const poolName = z.string().regex(
  ID_PATTERN,
  "must be 1 to 250 letters, digits, dashes, dots or underscores, as a task's pool",
);
const poolSlots = z.number().int().min(-1, "must be -1 (unlimited) or more");
const noDeferred = "Gust has no deferrable tasks: include_deferred must be false";

export const PoolBody = request(
  "PoolBody",
  z.strictObject({
    name: poolName,
    slots: poolSlots,
    description: z.string().nullable().default(null),
    include_deferred: z.literal(false, noDeferred).default(false),
  }),
);

export const PoolPatchBody = request(
  "PoolPatchBody",
  z.strictObject({
    pool: z.string().nullable().optional(),
    slots: poolSlots.nullable().optional(),
    description: z.string().nullable().optional(),
    include_deferred: z.literal(false, noDeferred).nullable().optional(),
  }),
  "Without `update_mask`, the fields given change. A pool keeps its name: tasks name their " +
    "pool in their DAG's code, so `pool` must be the pool's own name when given.",
);

export const PoolResponse = response(
  "PoolResponse",
  z.object({
    name: z.string(),
    slots: z.number().int(),
    description: z.string().nullable(),
    include_deferred: z.boolean(),
    occupied_slots: z.number().int(),
    running_slots: z.number().int(),
    queued_slots: z.number().int(),
    scheduled_slots: z.number().int(),
    open_slots: z.number().int(),
    deferred_slots: z.number().int(),
  }),
  "Slots -1: unlimited, and then open_slots is -1 too.",
);

export const PoolCollectionResponse = response(
  "PoolCollectionResponse",
  z.object({ pools: z.array(PoolResponse), total_entries: z.number().int() }),
);

// ---------------------------------------------------------------- webhooks (Gust's own)

export const WebhookAccepted = response(
  "WebhookAccepted",
  z.object({
    dag_id: z.string(),
    dag_run_id: z.string(),
    url: z.string(),
    state: DagRunState,
    duplicate: z.boolean(),
  }),
  "The run the delivery started; `duplicate` is true when an earlier delivery with the same " +
    "idempotency key (or the same signed request) started it.",
);
