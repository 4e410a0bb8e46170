/** Reads of DAG runs for the REST API: filtered, ordered pages, each run with its DAG version. */
import type { Sql } from "./client.ts";
import { frag, type Fragment, query, type Range, rangeConditions, where } from "./fragment.ts";
import type { DagRun } from "./runs.ts";

export interface ApiRun extends DagRun {
  note: string | null;
  triggeredBy: string | null;
  versionNumber: number;
  versionHash: string;
  versionCreatedAt: Date;
}

export interface RunFilter {
  /** Null: every DAG (Airflow's `~`). */
  dagId: string | null;
  runAfter?: Range;
  logicalDate?: Range;
  startDate?: Range;
  endDate?: Range;
  runTypes?: string[];
  states?: string[];
  /** SQL LIKE, matched anywhere in the run id, case-insensitive (Airflow's `run_id_pattern`). */
  runIdPattern?: string | null;
}

const RUN_SELECT = `SELECT r.id, r.dag_id AS "dagId", r.run_id AS "runId", r.run_type AS "runType",
  r.logical_date AS "logicalDate", r.data_interval_start AS "dataIntervalStart",
  r.data_interval_end AS "dataIntervalEnd", r.run_after AS "runAfter", r.state, r.conf,
  r.dag_version_id AS "dagVersionId", r.queued_at AS "queuedAt", r.start_date AS "startDate",
  r.end_date AS "endDate", r.note, r.triggered_by AS "triggeredBy",
  v.version_number AS "versionNumber", v.hash AS "versionHash", v.created_at AS "versionCreatedAt"
  FROM dag_run r JOIN dag_version v ON v.id = r.dag_version_id`;

function conditions(f: RunFilter): Fragment[] {
  const c: Fragment[] = [];
  if (f.dagId !== null) c.push(frag`r.dag_id = ${f.dagId}`);
  c.push(...rangeConditions("r.run_after", f.runAfter));
  c.push(...rangeConditions("r.logical_date", f.logicalDate));
  c.push(...rangeConditions("r.start_date", f.startDate));
  c.push(...rangeConditions("r.end_date", f.endDate));
  if (f.runTypes?.length) c.push(frag`r.run_type = ANY(${f.runTypes}::text[])`);
  if (f.states?.length) c.push(frag`r.state = ANY(${f.states}::text[])`);
  if (f.runIdPattern) c.push(frag`r.run_id ILIKE ${`%${f.runIdPattern}%`}`);
  return c;
}

export async function listRunsPage(
  sql: Sql,
  filter: RunFilter,
  order: Fragment,
  limit: number,
  offset: number,
): Promise<{ total: number; runs: ApiRun[] }> {
  const w = where(conditions(filter));
  const [{ total }] = await query<{ total: number }>(
    sql,
    frag`SELECT count(*)::int AS total FROM dag_run r ${w}`,
  );
  const runs = await query<ApiRun>(
    sql,
    frag([`${RUN_SELECT} `, ` `, ` LIMIT `, ` OFFSET `, ``], w, order, limit, offset),
  );
  return { total, runs };
}

export async function getApiRun(sql: Sql, dagId: string, runId: string): Promise<ApiRun | null> {
  const [run] = await query<ApiRun>(
    sql,
    frag([`${RUN_SELECT} WHERE r.dag_id = `, ` AND r.run_id = `, ``], dagId, runId),
  );
  return run ?? null;
}

export async function setRunNote(sql: Sql, dagRunId: number, note: string | null): Promise<void> {
  await sql`UPDATE dag_run SET note = ${note} WHERE id = ${dagRunId}`;
}
