/** Reads of DAGs and import errors for the REST API. */
import type { Sql } from "./client.ts";
import { frag, type Fragment, query, where } from "./fragment.ts";

export interface ApiDag {
  dagId: string;
  fileloc: string;
  isPaused: boolean;
  isActive: boolean;
  lastParsedAt: Date | null;
  nextDagrunCreateAfter: Date | null;
  lastIntervalStart: Date | null;
  lastIntervalEnd: Date | null;
  description: string | null;
  tags: string[];
  schedule: string | null;
  timezone: string;
  startDate: string | null;
  endDate: string | null;
  catchup: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  hasImportErrors: boolean;
}

export interface DagFilter {
  dagId?: string;
  /** Leave out DAGs whose file no longer defines them (Airflow's `exclude_stale`). */
  excludeStale: boolean;
  paused?: boolean | null;
  /** SQL LIKE, anywhere in the id, case-insensitive. */
  idPattern?: string | null;
  tags?: string[];
  tagsMatchAll?: boolean;
  lastRunState?: string | null;
  /** DAGs with at least one run in one of these states. */
  runStates?: string[];
}

// Only the few fields of the serialized DAG that the answer needs, not its tasks.
const DAG_FROM = `FROM dag d JOIN dag_version v ON v.id = d.latest_version_id
  LEFT JOIN LATERAL (SELECT r.state, r.start_date FROM dag_run r WHERE r.dag_id = d.dag_id
    ORDER BY r.run_after DESC, r.id DESC LIMIT 1) lr ON true`;

const DAG_SELECT = `SELECT d.dag_id AS "dagId", d.fileloc, d.is_paused AS "isPaused",
  d.is_active AS "isActive", d.last_parsed_at AS "lastParsedAt",
  d.next_dagrun_create_after AS "nextDagrunCreateAfter",
  d.last_automated_interval_start AS "lastIntervalStart",
  d.last_automated_interval_end AS "lastIntervalEnd",
  v.serialized->>'description' AS description,
  ARRAY(SELECT jsonb_array_elements_text(v.serialized->'tags')) AS tags,
  v.serialized->>'schedule' AS schedule, v.serialized->>'timezone' AS timezone,
  v.serialized->>'startDate' AS "startDate", v.serialized->>'endDate' AS "endDate",
  (v.serialized->>'catchup')::boolean AS catchup, v.max_active_runs AS "maxActiveRuns",
  v.max_active_tasks AS "maxActiveTasks",
  EXISTS (SELECT 1 FROM import_error e WHERE e.filename = d.fileloc) AS "hasImportErrors"
  ${DAG_FROM}`;

function conditions(f: DagFilter): Fragment[] {
  const c: Fragment[] = [];
  if (f.dagId !== undefined) c.push(frag`d.dag_id = ${f.dagId}`);
  if (f.excludeStale) c.push(frag`d.is_active`);
  if (f.paused != null) c.push(frag`d.is_paused = ${f.paused}`);
  if (f.idPattern) c.push(frag`d.dag_id ILIKE ${`%${f.idPattern}%`}`);
  if (f.tags?.length) {
    c.push(
      f.tagsMatchAll
        ? frag`${f.tags}::text[] <@ ARRAY(SELECT jsonb_array_elements_text(v.serialized->'tags'))`
        : frag`EXISTS (SELECT 1 FROM jsonb_array_elements_text(v.serialized->'tags') t
            WHERE t = ANY(${f.tags}::text[]))`,
    );
  }
  if (f.lastRunState) c.push(frag`lr.state = ${f.lastRunState}`);
  if (f.runStates?.length) {
    c.push(frag`EXISTS (SELECT 1 FROM dag_run r2 WHERE r2.dag_id = d.dag_id
      AND r2.state = ANY(${f.runStates}::text[]))`);
  }
  return c;
}

export async function listDagsPage(
  sql: Sql,
  filter: DagFilter,
  order: Fragment,
  limit: number,
  offset: number,
): Promise<{ total: number; dags: ApiDag[] }> {
  const w = where(conditions(filter));
  const [{ total }] = await query<{ total: number }>(
    sql,
    frag([`SELECT count(*)::int AS total ${DAG_FROM} `, ``], w),
  );
  const dags = await query<ApiDag>(
    sql,
    frag([`${DAG_SELECT} `, ` `, ` LIMIT `, ` OFFSET `, ``], w, order, limit, offset),
  );
  return { total, dags };
}

export async function getApiDag(sql: Sql, dagId: string): Promise<ApiDag | null> {
  const { dags } = await listDagsPage(
    sql,
    { dagId, excludeStale: false },
    frag``,
    1,
    0,
  );
  return dags[0] ?? null;
}

export interface ApiImportError {
  id: number;
  filename: string;
  message: string;
  stack: string | null;
  createdAt: Date;
}

export async function listImportErrorsPage(
  sql: Sql,
  order: Fragment,
  limit: number,
  offset: number,
): Promise<{ total: number; importErrors: ApiImportError[] }> {
  const [{ total }] = await sql<{ total: number }>`
    SELECT count(*)::int AS total FROM import_error`;
  const importErrors = await query<ApiImportError>(
    sql,
    frag(
      [
        `SELECT id, filename, message, stack, created_at AS "createdAt" FROM import_error `,
        ` LIMIT `,
        ` OFFSET `,
        ``,
      ],
      order,
      limit,
      offset,
    ),
  );
  return { total, importErrors };
}

/**
 * Locks a DAG's row until the transaction ends and returns whether it is paused (null: no such
 * DAG), so that pausing it changes and records it once however many ask at the same time.
 */
export async function lockDagPaused(tx: Sql, dagId: string): Promise<boolean | null> {
  const [row] = await tx<{ isPaused: boolean }>`
    SELECT is_paused AS "isPaused" FROM dag WHERE dag_id = ${dagId} FOR UPDATE`;
  return row ? row.isPaused : null;
}
