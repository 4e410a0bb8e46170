/** Queries on DAG runs. */
import { json, raw, type Sql } from "./client.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import type { RunState } from "../scheduler/states.ts";

export type RunType = "scheduled" | "manual" | "backfill" | "webhook" | "asset_triggered";

export interface NewRun {
  dagId: string;
  runId: string;
  runType: RunType;
  logicalDate: Date | null;
  dataInterval: { start: Date; end: Date } | null;
  runAfter: Date;
  conf: Record<string, unknown>;
  versionId: number;
  triggeredBy: string | null;
  backfillId?: number | null;
}

export interface DagRun {
  id: number;
  dagId: string;
  runId: string;
  runType: RunType;
  logicalDate: Date | null;
  dataIntervalStart: Date | null;
  dataIntervalEnd: Date | null;
  runAfter: Date;
  state: RunState;
  conf: Record<string, unknown>;
  dagVersionId: number;
  queuedAt: Date;
  startDate: Date | null;
  endDate: Date | null;
}

const RUN_COLUMNS = `id, dag_id AS "dagId", run_id AS "runId", run_type AS "runType",
  logical_date AS "logicalDate", data_interval_start AS "dataIntervalStart",
  data_interval_end AS "dataIntervalEnd", run_after AS "runAfter", state, conf,
  dag_version_id AS "dagVersionId", queued_at AS "queuedAt", start_date AS "startDate",
  end_date AS "endDate"`;

/** Airflow's run id: `<type>__<logical date, or run after, as ISO>`. */
export function defaultRunId(runType: RunType, date: Date): string {
  return `${runType}__${date.toISOString()}`;
}

/**
 * Creates a queued run and its task instances in one statement group. Idempotent: a run that
 * already exists with the same run id or logical date is left alone and `created` is false.
 * Call inside a transaction so the run and its tasks appear together.
 */
export async function createDagRun(
  tx: Sql,
  run: NewRun,
  dag: SerializedDag,
  now: Date,
): Promise<{ id: number; created: boolean }> {
  const [row] = await tx<{ id: number }>`
    INSERT INTO dag_run (dag_id, run_id, run_type, logical_date, data_interval_start,
      data_interval_end, run_after, state, conf, dag_version_id, triggered_by, backfill_id,
      queued_at)
    VALUES (${run.dagId}, ${run.runId}, ${run.runType}, ${run.logicalDate},
      ${run.dataInterval?.start ?? null}, ${run.dataInterval?.end ?? null}, ${run.runAfter},
      'queued', ${json(run.conf)}, ${run.versionId}, ${run.triggeredBy},
      ${run.backfillId ?? null}, ${now})
    ON CONFLICT DO NOTHING
    RETURNING id`;
  if (!row) {
    const [existing] = await tx<{ id: number }>`
      SELECT id FROM dag_run WHERE dag_id = ${run.dagId}
        AND (run_id = ${run.runId} OR logical_date = ${run.logicalDate})`;
    return { id: existing.id, created: false };
  }
  const t = dag.tasks;
  await tx`
    INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, max_tries, retry_delay_ms,
      retry_exponential, max_retry_delay_ms, pool, pool_slots, priority_weight, queue, updated_at)
    SELECT ${row.id}, ${run.dagId}, ${run.runId}, task_id, max_tries, retry_delay_ms,
      retry_exponential, max_retry_delay_ms, pool, pool_slots, priority_weight, queue, ${now}
    FROM unnest(${t.map((x) => x.taskId)}::text[], ${t.map((x) => x.retries)}::int[],
      ${t.map((x) => x.retryDelayMs)}::int[], ${t.map((x) => x.retryExponentialBackoff)}::bool[],
      ${t.map((x) => x.maxRetryDelayMs)}::int[], ${t.map((x) => x.pool)}::text[],
      ${t.map((x) => x.poolSlots)}::int[], ${t.map((x) => x.priorityWeight)}::int[],
      ${t.map((x) => x.queue)}::text[])
      AS x(task_id, max_tries, retry_delay_ms, retry_exponential, max_retry_delay_ms, pool,
        pool_slots, priority_weight, queue)`;
  return { id: row.id, created: true };
}

export async function getRun(sql: Sql, id: number): Promise<DagRun | null> {
  const [row] = await sql<DagRun>`SELECT ${raw(RUN_COLUMNS)} FROM dag_run WHERE id = ${id}`;
  return row ?? null;
}

export async function findRun(sql: Sql, dagId: string, runId: string): Promise<DagRun | null> {
  const [row] = await sql<DagRun>`
    SELECT ${raw(RUN_COLUMNS)} FROM dag_run WHERE dag_id = ${dagId} AND run_id = ${runId}`;
  return row ?? null;
}

export function listRuns(sql: Sql, dagId: string, limit = 25, offset = 0): Promise<DagRun[]> {
  return sql<DagRun>`
    SELECT ${raw(RUN_COLUMNS)} FROM dag_run WHERE dag_id = ${dagId}
    ORDER BY run_after DESC, id DESC LIMIT ${limit} OFFSET ${offset}`;
}
