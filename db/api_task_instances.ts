/** Reads of task instances, their logs' tries and their results (XComs) for the REST API. */
import type { Sql } from "./client.ts";
import { frag, type Fragment, query, type Range, rangeConditions, where } from "./fragment.ts";

export interface ApiTi {
  id: number;
  dagRunId: number;
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  state: string | null;
  tryNumber: number;
  maxTries: number;
  pool: string;
  poolSlots: number;
  priorityWeight: number;
  queue: string;
  queuedAt: Date | null;
  startDate: Date | null;
  endDate: Date | null;
  durationMs: number | null;
  hostname: string | null;
  note: string | null;
  logicalDate: Date | null;
  runAfter: Date;
  dagVersionId: number;
  versionNumber: number;
  versionHash: string;
  versionCreatedAt: Date;
}

const TI_SELECT = `SELECT ti.id, ti.dag_run_id AS "dagRunId", ti.dag_id AS "dagId",
  ti.run_id AS "runId", ti.task_id AS "taskId", ti.map_index AS "mapIndex", ti.state,
  ti.try_number AS "tryNumber", ti.max_tries AS "maxTries", ti.pool, ti.pool_slots AS "poolSlots",
  ti.priority_weight AS "priorityWeight", ti.queue, ti.queued_at AS "queuedAt",
  ti.start_date AS "startDate", ti.end_date AS "endDate", ti.duration_ms AS "durationMs",
  ti.hostname, ti.note, r.logical_date AS "logicalDate", r.run_after AS "runAfter",
  r.dag_version_id AS "dagVersionId", v.version_number AS "versionNumber", v.hash AS "versionHash",
  v.created_at AS "versionCreatedAt"
  FROM task_instance ti JOIN dag_run r ON r.id = ti.dag_run_id
  JOIN dag_version v ON v.id = r.dag_version_id`;

/** Seconds a task instance ran (or has run so far), as Airflow's `duration`. */
export const TI_DURATION = `COALESCE(ti.duration_ms / 1000.0,
  extract(epoch FROM ti.end_date - ti.start_date))`;

export interface TiFilter {
  /** Null: every DAG, every run (Airflow's `~`). */
  dagId: string | null;
  runId: string | null;
  taskId?: string | null;
  /** SQL LIKE, anywhere in the task id, case-insensitive. */
  taskIdPattern?: string | null;
  mapIndex?: number | null;
  /** `none` matches instances not yet scheduled (state NULL), as in Airflow. */
  states?: string[];
  pools?: string[];
  queues?: string[];
  tryNumbers?: number[];
  startDate?: Range;
  endDate?: Range;
  logicalDate?: Range;
  runAfter?: Range;
  durationGte?: number | null;
  durationLte?: number | null;
}

function conditions(f: TiFilter): Fragment[] {
  const c: Fragment[] = [];
  if (f.dagId !== null) c.push(frag`ti.dag_id = ${f.dagId}`);
  if (f.runId !== null) c.push(frag`ti.run_id = ${f.runId}`);
  if (f.taskId != null) c.push(frag`ti.task_id = ${f.taskId}`);
  if (f.taskIdPattern) c.push(frag`ti.task_id ILIKE ${`%${f.taskIdPattern}%`}`);
  if (f.mapIndex != null) c.push(frag`ti.map_index = ${f.mapIndex}`);
  if (f.states?.length) {
    const named = f.states.filter((s) => s !== "none" && s !== "no_status");
    const none = named.length < f.states.length;
    c.push(frag`(ti.state = ANY(${named}::text[]) OR (${none} AND ti.state IS NULL))`);
  }
  if (f.pools?.length) c.push(frag`ti.pool = ANY(${f.pools}::text[])`);
  if (f.queues?.length) c.push(frag`ti.queue = ANY(${f.queues}::text[])`);
  if (f.tryNumbers?.length) c.push(frag`ti.try_number = ANY(${f.tryNumbers}::int[])`);
  c.push(...rangeConditions("ti.start_date", f.startDate));
  c.push(...rangeConditions("ti.end_date", f.endDate));
  c.push(...rangeConditions("r.logical_date", f.logicalDate));
  c.push(...rangeConditions("r.run_after", f.runAfter));
  if (f.durationGte != null) c.push(frag([`${TI_DURATION} >= `, ``], f.durationGte));
  if (f.durationLte != null) c.push(frag([`${TI_DURATION} <= `, ``], f.durationLte));
  return c;
}

export async function listTisPage(
  sql: Sql,
  filter: TiFilter,
  order: Fragment,
  limit: number,
  offset: number,
): Promise<{ total: number; tis: ApiTi[] }> {
  const w = where(conditions(filter));
  const [{ total }] = await query<{ total: number }>(
    sql,
    frag`SELECT count(*)::int AS total FROM task_instance ti JOIN dag_run r ON r.id = ti.dag_run_id ${w}`,
  );
  const tis = await query<ApiTi>(
    sql,
    frag([`${TI_SELECT} `, ` `, ` LIMIT `, ` OFFSET `, ``], w, order, limit, offset),
  );
  return { total, tis };
}

export function tisByIds(sql: Sql, ids: number[]): Promise<ApiTi[]> {
  return query<ApiTi>(
    sql,
    frag([`${TI_SELECT} WHERE ti.id = ANY(`, `::int[]) ORDER BY ti.task_id, ti.map_index`], ids),
  );
}

/** The instances of one task in one run, by map index. */
export function tisOfTask(sql: Sql, dagRunId: number, taskId: string): Promise<ApiTi[]> {
  return query<ApiTi>(
    sql,
    frag(
      [`${TI_SELECT} WHERE ti.dag_run_id = `, ` AND ti.task_id = `, ` ORDER BY ti.map_index`],
      dagRunId,
      taskId,
    ),
  );
}

export async function setTiNotes(sql: Sql, ids: number[], note: string | null): Promise<void> {
  await sql`UPDATE task_instance SET note = ${note} WHERE id = ANY(${ids}::int[])`;
}

export interface ApiXcom {
  key: string;
  createdAt: Date;
  logicalDate: Date | null;
  mapIndex: number;
  taskId: string;
  dagId: string;
  runId: string;
  value: unknown;
}

export interface XcomFilter {
  dagId: string | null;
  runId: string | null;
  taskId: string | null;
  key?: string | null;
  mapIndex?: number | null;
}

const XCOM_FROM = `FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
  JOIN dag_run r ON r.id = ti.dag_run_id`;

function xcomConditions(f: XcomFilter): Fragment[] {
  const c: Fragment[] = [];
  if (f.dagId !== null) c.push(frag`ti.dag_id = ${f.dagId}`);
  if (f.runId !== null) c.push(frag`ti.run_id = ${f.runId}`);
  if (f.taskId !== null) c.push(frag`ti.task_id = ${f.taskId}`);
  if (f.key != null) c.push(frag`x.key = ${f.key}`);
  if (f.mapIndex != null) c.push(frag`ti.map_index = ${f.mapIndex}`);
  return c;
}

export async function listXcomsPage(
  sql: Sql,
  filter: XcomFilter,
  limit: number,
  offset: number,
  withValues = false,
): Promise<{ total: number; xcoms: ApiXcom[] }> {
  const w = where(xcomConditions(filter));
  const [{ total }] = await query<{ total: number }>(
    sql,
    frag([`SELECT count(*)::int AS total ${XCOM_FROM} `, ``], w),
  );
  const xcoms = await query<ApiXcom>(
    sql,
    frag(
      [
        `SELECT x.key, x.created_at AS "createdAt", r.logical_date AS "logicalDate",
          ti.map_index AS "mapIndex", ti.task_id AS "taskId", ti.dag_id AS "dagId",
          ti.run_id AS "runId", ${withValues ? "x.value" : "NULL AS value"} ${XCOM_FROM} `,
        ` ORDER BY ti.dag_id, ti.run_id, ti.task_id, ti.map_index, x.key LIMIT `,
        ` OFFSET `,
        ``,
      ],
      w,
      limit,
      offset,
    ),
  );
  return { total, xcoms };
}

/** Task instances by run, task and map index, in the order given. */
export async function tisByKeys(
  sql: Sql,
  keys: { dagRunId: number; taskId: string; mapIndex: number }[],
): Promise<ApiTi[]> {
  if (keys.length === 0) return [];
  return await query<ApiTi>(
    sql,
    frag(
      [
        `${TI_SELECT} JOIN unnest(`,
        `::int[], `,
        `::text[], `,
        `::int[]) WITH ORDINALITY AS k(run, task, map, n)
          ON ti.dag_run_id = k.run AND ti.task_id = k.task AND ti.map_index = k.map
        ORDER BY k.n`,
      ],
      keys.map((k) => k.dagRunId),
      keys.map((k) => k.taskId),
      keys.map((k) => k.mapIndex),
    ),
  );
}
