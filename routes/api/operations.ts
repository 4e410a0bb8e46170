/**
 * The operations Gust serves, with Airflow's paths, parameters and operation ids: the source of
 * the paths in `/api/v2/openapi.json`, and of the permission each needs (`access`, checked by
 * `../auth_access.ts` before the handler runs). A test checks that it and the router agree.
 */
import type { Access } from "../../auth/roles.ts";
import { MAX_PAGE_LIMIT } from "./common.ts";

export type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema: Schema;
  description?: string;
}

export interface Operation {
  method: "get" | "post" | "patch" | "delete";
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** The permission the caller's role needs; "public": none, not even a token. */
  access: Access;
  parameters?: Parameter[];
  body?: string;
  /** Status -> component schema name, or an inline schema. */
  responses: Record<string, string | Schema>;
  description?: string;
}

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str: Schema = { type: "string" };
const path = (name: string): Parameter => ({ name, in: "path", required: true, schema: str });
const query = (name: string, schema: Schema, description?: string): Parameter => ({
  name,
  in: "query",
  schema,
  ...(description ? { description } : {}),
});
const dateTime: Schema = { type: "string", format: "date-time" };
const list = (name: string, items: Schema = str) => query(name, { type: "array", items });
const page = [
  query("limit", { type: "integer", minimum: 0, maximum: MAX_PAGE_LIMIT, default: 50 }),
  query("offset", { type: "integer", minimum: 0, default: 0 }),
];
const range = (prefix: string) =>
  ["gte", "gt", "lte", "lt"].map((op) => query(`${prefix}_${op}`, dateTime));
const like = (name: string) =>
  query(name, str, "SQL LIKE expression, matched anywhere, case-insensitive; `~` matches all");
const orderBy = (names: string[], fallback: string) =>
  query("order_by", {
    type: "array",
    items: { type: "string", enum: names.flatMap((n) => [n, `-${n}`]) },
    default: [fallback],
  });
const updateMask = (fields: string[]) => list("update_mask", { type: "string", enum: fields });

const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((
      code,
    ) => [String(code), code === 422 ? "HTTPValidationError" : "HTTPExceptionResponse"]),
  );

const DAG = "/api/v2/dags/{dag_id}";
const RUN = `${DAG}/dagRuns/{dag_run_id}`;
const TI = `${RUN}/taskInstances/{task_id}`;
const POOL = "/api/v2/pools/{pool_name}";
const ALL_NOTE = "`~` stands for every DAG (and, where the path has them, every run or task).";

export const OPERATIONS: Operation[] = [
  {
    method: "get",
    path: "/api/v2/dags",
    operationId: "get_dags",
    summary: "Get Dags",
    tag: "DAG",
    access: "read",
    parameters: [
      ...page,
      list("tags"),
      query("tags_match_mode", { type: "string", enum: ["any", "all"] }),
      like("dag_id_pattern"),
      like("dag_display_name_pattern"),
      query("exclude_stale", { type: "boolean", default: true }),
      query("paused", { type: "boolean" }),
      query("last_dag_run_state", ref("DagRunState")),
      list("dag_run_state"),
      orderBy([
        "dag_id",
        "dag_display_name",
        "next_dagrun",
        "last_run_state",
        "last_run_start_date",
      ], "dag_id"),
    ],
    responses: { 200: "DAGCollectionResponse", ...errors(400, 422) },
  },
  {
    method: "get",
    path: DAG,
    operationId: "get_dag",
    summary: "Get Dag",
    tag: "DAG",
    access: "read",
    parameters: [path("dag_id")],
    responses: { 200: "DAGResponse", ...errors(404) },
  },
  {
    method: "patch",
    path: DAG,
    operationId: "patch_dag",
    summary: "Patch Dag (pause or unpause)",
    tag: "DAG",
    access: "pause",
    parameters: [path("dag_id"), updateMask(["is_paused"])],
    body: "DAGPatchBody",
    responses: { 200: "DAGResponse", ...errors(400, 404, 413, 422) },
  },
  {
    method: "post",
    path: `${DAG}/clearTaskInstances`,
    operationId: "post_clear_task_instances",
    summary: "Clear task instances",
    tag: "Task Instance",
    access: "clear",
    parameters: [path("dag_id")],
    body: "ClearTaskInstancesBody",
    responses: { 200: "TaskInstanceCollectionResponse", ...errors(404, 413, 422) },
    description: "Each returned instance carries the state it had before it was cleared.",
  },
  {
    method: "get",
    path: `${DAG}/dagRuns`,
    operationId: "get_dag_runs",
    summary: "Get Dag Runs",
    tag: "DagRun",
    access: "read",
    description: ALL_NOTE,
    parameters: [
      path("dag_id"),
      ...page,
      ...range("run_after"),
      ...range("logical_date"),
      ...range("start_date"),
      ...range("end_date"),
      list("run_type", ref("DagRunType")),
      list("state", ref("DagRunState")),
      like("run_id_pattern"),
      orderBy(
        Object.keys({
          id: 1,
          state: 1,
          dag_id: 1,
          run_id: 1,
          dag_run_id: 1,
          logical_date: 1,
          run_after: 1,
          start_date: 1,
          end_date: 1,
          queued_at: 1,
          duration: 1,
        }),
        "id",
      ),
    ],
    responses: { 200: "DAGRunCollectionResponse", ...errors(400, 404, 422) },
  },
  {
    method: "post",
    path: `${DAG}/dagRuns`,
    operationId: "trigger_dag_run",
    summary: "Trigger Dag Run",
    tag: "DagRun",
    access: "trigger",
    parameters: [path("dag_id")],
    body: "TriggerDAGRunPostBody",
    responses: { 200: "DAGRunResponse", ...errors(400, 404, 409, 413, 422) },
    description: "A null logical_date means now. Run ids follow Airflow's allowed_run_id_pattern.",
  },
  {
    method: "get",
    path: RUN,
    operationId: "get_dag_run",
    summary: "Get Dag Run",
    tag: "DagRun",
    access: "read",
    parameters: [path("dag_id"), path("dag_run_id")],
    responses: { 200: "DAGRunResponse", ...errors(404) },
  },
  {
    method: "patch",
    path: RUN,
    operationId: "patch_dag_run",
    summary: "Mark a Dag Run or set its note",
    tag: "DagRun",
    access: "mark",
    parameters: [path("dag_id"), path("dag_run_id"), updateMask(["state", "note"])],
    body: "DAGRunPatchBody",
    responses: { 200: "DAGRunResponse", ...errors(400, 404, 413, 422) },
  },
  {
    method: "post",
    path: `${RUN}/clear`,
    operationId: "clear_dag_run",
    summary: "Clear Dag Run",
    tag: "DagRun",
    access: "clear",
    parameters: [path("dag_id"), path("dag_run_id")],
    body: "DAGRunClearBody",
    responses: {
      200: { anyOf: [ref("TaskInstanceCollectionResponse"), ref("DAGRunResponse")] },
      ...errors(400, 404, 413, 422),
    },
    description: "A dry run answers the task instances it would clear; a clear, the run.",
  },
  {
    method: "get",
    path: `${RUN}/taskInstances`,
    operationId: "get_task_instances",
    summary: "Get Task Instances",
    tag: "Task Instance",
    access: "read",
    description: ALL_NOTE,
    parameters: [
      path("dag_id"),
      path("dag_run_id"),
      query("task_id", str),
      like("task_display_name_pattern"),
      ...range("run_after"),
      ...range("logical_date"),
      ...range("start_date"),
      ...range("end_date"),
      query("duration_gte", { type: "number" }),
      query("duration_lte", { type: "number" }),
      list("state"),
      list("pool"),
      list("queue"),
      list("try_number", { type: "integer" }),
      ...page,
      orderBy([
        "id",
        "task_id",
        "map_index",
        "state",
        "start_date",
        "end_date",
        "duration",
        "try_number",
        "logical_date",
        "run_after",
        "pool",
        "queue",
        "priority_weight",
        "queued_when",
        "dag_id",
        "run_id",
        "dag_run_id",
      ], "map_index"),
    ],
    responses: { 200: "TaskInstanceCollectionResponse", ...errors(400, 404, 422) },
  },
  {
    method: "get",
    path: TI,
    operationId: "get_task_instance",
    summary: "Get Task Instance",
    tag: "Task Instance",
    access: "read",
    parameters: [path("dag_id"), path("dag_run_id"), path("task_id")],
    responses: { 200: "TaskInstanceResponse", ...errors(404) },
  },
  {
    method: "patch",
    path: TI,
    operationId: "patch_task_instance",
    summary: "Mark a Task Instance or set its note",
    tag: "Task Instance",
    access: "mark",
    parameters: [
      path("dag_id"),
      path("dag_run_id"),
      path("task_id"),
      query("map_index", { type: "integer" }),
      updateMask(["new_state", "note"]),
    ],
    body: "PatchTaskInstanceBody",
    responses: { 200: "TaskInstanceCollectionResponse", ...errors(400, 404, 409, 413, 422) },
    description: "Marking also clears the failed instances downstream, as in Airflow.",
  },
  {
    method: "get",
    path: `${TI}/logs/{try_number}`,
    operationId: "get_log",
    summary: "Get Log",
    tag: "Task Instance",
    access: "read",
    parameters: [
      path("dag_id"),
      path("dag_run_id"),
      path("task_id"),
      { name: "try_number", in: "path", required: true, schema: { type: "integer", minimum: 0 } },
      query("full_content", { type: "boolean", default: false }),
      query("map_index", { type: "integer", default: -1 }),
      query("token", str),
      {
        name: "accept",
        in: "header",
        schema: {
          type: "string",
          enum: ["application/json", "application/x-ndjson", "*/*"],
          default: "*/*",
        },
      },
    ],
    responses: { 200: "TaskInstancesLogResponse", ...errors(400, 404, 422) },
  },
  {
    method: "get",
    path: `${TI}/xcomEntries`,
    operationId: "get_xcom_entries",
    summary: "Get Xcom Entries",
    tag: "XCom",
    access: "read",
    description: ALL_NOTE,
    parameters: [
      path("dag_id"),
      path("dag_run_id"),
      path("task_id"),
      query("xcom_key", str),
      query("map_index", { type: "integer", minimum: -1 }),
      ...page,
    ],
    responses: { 200: "XComCollectionResponse", ...errors(422) },
  },
  {
    method: "get",
    path: `${TI}/xcomEntries/{xcom_key}`,
    operationId: "get_xcom_entry",
    summary: "Get Xcom Entry",
    tag: "XCom",
    access: "read",
    parameters: [
      path("dag_id"),
      path("dag_run_id"),
      path("task_id"),
      path("xcom_key"),
      query("map_index", { type: "integer", minimum: -1, default: -1 }),
      query("deserialize", { type: "boolean", default: false }),
      query("stringify", { type: "boolean", default: false }),
    ],
    responses: {
      200: { anyOf: [ref("XComResponseNative"), ref("XComResponseString")] },
      ...errors(404, 422),
    },
  },
  {
    method: "get",
    path: "/api/v2/importErrors",
    operationId: "get_import_errors",
    summary: "Get Import Errors",
    tag: "Import Error",
    access: "read",
    parameters: [...page, orderBy(["id", "import_error_id", "timestamp", "filename"], "id")],
    responses: { 200: "ImportErrorCollectionResponse", ...errors(400, 422) },
  },
  {
    method: "post",
    path: "/api/v2/backfills",
    operationId: "create_backfill",
    summary: "Create Backfill",
    tag: "Backfill",
    access: "trigger",
    body: "BackfillPostBody",
    responses: { 200: "BackfillResponse", ...errors(404, 413, 422) },
  },
  {
    method: "post",
    path: "/api/v2/backfills/dry_run",
    operationId: "create_backfill_dry_run",
    summary: "Create Backfill Dry Run",
    tag: "Backfill",
    access: "read",
    body: "BackfillPostBody",
    responses: { 200: "DryRunBackfillCollectionResponse", ...errors(404, 413, 422) },
  },
  {
    method: "get",
    path: "/api/v2/pools",
    operationId: "get_pools",
    summary: "Get Pools",
    tag: "Pool",
    access: "read",
    parameters: [
      ...page,
      orderBy(["id", "pool", "name", "slots"], "id"),
      like("pool_name_pattern"),
    ],
    responses: { 200: "PoolCollectionResponse", ...errors(400, 422) },
    description: "`id` orders by name: pools have no other id.",
  },
  {
    method: "post",
    path: "/api/v2/pools",
    operationId: "post_pool",
    summary: "Post Pool",
    tag: "Pool",
    access: "pools",
    body: "PoolBody",
    responses: { 201: "PoolResponse", ...errors(409, 413, 422) },
  },
  {
    method: "get",
    path: POOL,
    operationId: "get_pool",
    summary: "Get Pool",
    tag: "Pool",
    access: "read",
    parameters: [path("pool_name")],
    responses: { 200: "PoolResponse", ...errors(404) },
  },
  {
    method: "patch",
    path: POOL,
    operationId: "patch_pool",
    summary: "Patch Pool (its slots or description)",
    tag: "Pool",
    access: "pools",
    parameters: [
      path("pool_name"),
      updateMask(["pool", "slots", "description", "include_deferred"]),
    ],
    body: "PoolPatchBody",
    responses: { 200: "PoolResponse", ...errors(400, 404, 413, 422) },
  },
  {
    method: "delete",
    path: POOL,
    operationId: "delete_pool",
    summary: "Delete Pool",
    tag: "Pool",
    access: "pools",
    parameters: [path("pool_name")],
    responses: { 204: {}, ...errors(400, 404) },
    description: "Refused for `default_pool`, and while task instances are scheduled, queued " +
      "or running in the pool.",
  },
  {
    method: "get",
    path: "/api/v2/eventLogs",
    operationId: "get_event_logs",
    summary: "Get Event Logs",
    tag: "Event Log",
    access: "audit",
    description: "The audit log: every change and login, with who, what, when and from where " +
      "(`extra` holds the client address and user agent).",
    parameters: [
      ...page,
      orderBy([
        "id",
        "event_log_id",
        "dttm",
        "when",
        "dag_id",
        "task_id",
        "run_id",
        "event",
        "logical_date",
        "owner",
        "extra",
      ], "id"),
      query("dag_id", str),
      query("task_id", str),
      query("run_id", str),
      query("map_index", { type: "integer" }),
      query("try_number", { type: "integer" }),
      query("owner", str),
      query("event", str),
      list("excluded_events"),
      list("included_events"),
      query("before", dateTime),
      query("after", dateTime),
    ],
    responses: { 200: "EventLogCollectionResponse", ...errors(400, 422) },
  },
  {
    method: "get",
    path: "/api/v2/eventLogs/{event_log_id}",
    operationId: "get_event_log",
    summary: "Get Event Log",
    tag: "Event Log",
    access: "audit",
    parameters: [{ name: "event_log_id", in: "path", required: true, schema: { type: "integer" } }],
    responses: { 200: "EventLogResponse", ...errors(404, 422) },
  },
  {
    method: "get",
    path: "/api/v2/monitor/health",
    operationId: "get_health",
    summary: "Get Health",
    tag: "Monitor",
    access: "public",
    responses: { 200: "HealthInfoResponse" },
  },
  {
    method: "get",
    path: "/api/v2/version",
    operationId: "get_version",
    summary: "Get Version",
    tag: "Version",
    access: "public",
    responses: { 200: "VersionInfo" },
  },
  {
    method: "get",
    path: "/api/v2/openapi.json",
    operationId: "get_openapi",
    summary: "This document",
    tag: "Gust",
    access: "public",
    responses: { 200: { type: "object" } },
  },
  {
    method: "post",
    path: "/webhooks/{dag_id}",
    operationId: "post_webhook",
    summary: "Start a run from a signed webhook",
    tag: "Gust",
    access: "public",
    description: "Authenticated by its signature, not by a user. Gust's scheme: " +
      "`X-Gust-Timestamp: <unix seconds>` and `X-Gust-Signature: sha256=<hex>`, the HMAC-SHA256 " +
      "of `<timestamp>.<raw body>` with the DAG's secret. GitHub's `X-Hub-Signature-256` (the " +
      "HMAC of the raw body) is accepted too. The JSON body becomes the run's conf.",
    parameters: [
      path("dag_id"),
      { name: "X-Gust-Signature", in: "header", schema: str },
      { name: "X-Gust-Timestamp", in: "header", schema: str },
      { name: "X-Hub-Signature-256", in: "header", schema: str },
      { name: "Idempotency-Key", in: "header", schema: str },
      { name: "X-GitHub-Delivery", in: "header", schema: str },
    ],
    body: "WebhookBody",
    responses: {
      202: "WebhookAccepted",
      200: { type: "object", description: "A GitHub ping: answered, nothing started" },
      ...errors(401, 404, 409, 413, 422, 429),
    },
  },
  {
    method: "post",
    path: "/auth/token",
    operationId: "create_token",
    summary: "Create Token",
    tag: "Auth",
    access: "public",
    description: "Airflow's token URL: a username and password (JSON or a form) for a JWT, " +
      "valid for GUST_JWT_TTL. Failed attempts count towards the login rate limits.",
    body: "LoginBody",
    responses: { 201: "LoginResponse", ...errors(400, 401, 413, 415, 422, 429) },
  },
  {
    method: "get",
    path: "/auth/users",
    operationId: "get_users",
    summary: "List users",
    tag: "Gust",
    access: "users",
    responses: { 200: "UserCollectionResponse" },
  },
  {
    method: "post",
    path: "/auth/users",
    operationId: "post_user",
    summary: "Create a user",
    tag: "Gust",
    access: "users",
    description: "Without a password, one is generated and returned once, in `password`.",
    body: "UserPostBody",
    responses: { 201: "UserResponse", ...errors(409, 413, 422) },
  },
  {
    method: "patch",
    path: "/auth/users/{username}",
    operationId: "patch_user",
    summary: "Change a user's role, password or active flag",
    tag: "Gust",
    access: "users",
    description: "A new password (given, or generated with `reset_password` and returned once) " +
      "or deactivation ends the user's sessions and JWTs.",
    parameters: [path("username")],
    body: "UserPatchBody",
    responses: { 200: "UserResponse", ...errors(404, 409, 413, 422) },
  },
  {
    method: "get",
    path: "/auth/tokens",
    operationId: "get_api_tokens",
    summary: "List API tokens",
    tag: "Gust",
    access: "tokens",
    responses: { 200: "ApiTokenCollectionResponse" },
  },
  {
    method: "post",
    path: "/auth/tokens",
    operationId: "post_api_token",
    summary: "Create an API token",
    tag: "Gust",
    access: "tokens",
    description: "The token is in `token`, in this answer only; Gust keeps its hash.",
    body: "ApiTokenPostBody",
    responses: { 201: "ApiTokenResponse", ...errors(409, 413, 422) },
  },
  {
    method: "delete",
    path: "/auth/tokens/{token_id}",
    operationId: "delete_api_token",
    summary: "Revoke an API token",
    tag: "Gust",
    access: "tokens",
    parameters: [{ name: "token_id", in: "path", required: true, schema: { type: "integer" } }],
    responses: { 200: "ApiTokenResponse", ...errors(404, 422) },
  },
];
