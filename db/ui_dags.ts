/**
 * The dashboard's queries about DAGs: the filtered, paginated list, the tags to filter by, one
 * DAG's header, its versions and their source. Each is one bounded query.
 */
import type { Sql } from "./client.ts";
import { frag, type Fragment, query } from "./fragment.ts";
import { SCHEDULER_ALIVE_MS } from "./schedulers.ts";
import type { RunState } from "../scheduler/states.ts";

export interface DagListItem {
  dagId: string;
  description: string | null;
  schedule: string | null;
  tags: string[];
  isPaused: boolean;
  /** When the scheduler will create the next scheduled run; null when none is planned. */
  nextRunAfter: Date | null;
  recentRuns: { runId: string; state: RunState }[];
}

export interface DagListFilter {
  /** Part of the DAG id or description, case-insensitive. */
  search: string;
  tag: string | null;
  limit: number;
  offset: number;
}

/** `%`, `_` and `\` match themselves in a LIKE pattern built from what a user typed. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
}

// A "next run" past this year is the scheduler's marker for "never again".
const NEVER = "9000-01-01T00:00:00Z";

/** The runs the list shows for each DAG. */
const RECENT_RUNS = 5;

/** The active DAGs a filter matches (`d` the DAG, `v` its latest version). */
function matching(f: DagListFilter): Fragment {
  const pattern = likePattern(f.search);
  return frag`
    FROM dag d JOIN dag_version v ON v.id = d.latest_version_id
    WHERE d.is_active
      AND (${f.search} = '' OR d.dag_id ILIKE ${pattern}
        OR v.serialized->>'description' ILIKE ${pattern})
      AND (${f.tag}::text IS NULL OR v.serialized->'tags' @> jsonb_build_array(${f.tag}::text))`;
}

/**
 * One page of active DAGs by id, with the total that match and the states of each one's five
 * latest runs. The runs are looked up only for the rows of the page (through the
 * `dag_run_recent` index), so the cost does not grow with history or with the number of DAGs
 * beyond the page.
 */
export async function listDagsPage(
  sql: Sql,
  f: DagListFilter,
): Promise<{ dags: DagListItem[]; total: number }> {
  const rows = await query<DagListItem & { total: number }>(
    sql,
    frag`
    WITH page AS (
      SELECT d.dag_id, d.is_paused, d.next_dagrun_create_after, v.serialized,
        count(*) OVER () AS total
      ${matching(f)}
      ORDER BY d.dag_id
      LIMIT ${f.limit} OFFSET ${f.offset}
    )
    SELECT p.dag_id AS "dagId", p.serialized->>'description' AS description,
      p.serialized->>'schedule' AS schedule,
      ARRAY(SELECT jsonb_array_elements_text(p.serialized->'tags')) AS tags,
      p.is_paused AS "isPaused",
      CASE WHEN p.next_dagrun_create_after < ${NEVER}::timestamptz
        AND p.serialized->>'schedule' IS NOT NULL THEN p.next_dagrun_create_after END
        AS "nextRunAfter",
      COALESCE((SELECT json_agg(json_build_object('runId', r.run_id, 'state', r.state))
        FROM (SELECT run_id, state FROM dag_run WHERE dag_id = p.dag_id
          ORDER BY run_after DESC, id DESC LIMIT ${RECENT_RUNS}) r), '[]') AS "recentRuns",
      p.total
    FROM page p ORDER BY p.dag_id`,
  );
  if (rows.length === 0 && f.offset > 0) {
    // Past the last page: count without a page, so the pager can still say how many there are.
    const [{ total }] = await query<{ total: number }>(
      sql,
      frag`SELECT count(*)::int AS total ${matching(f)}`,
    );
    return { dags: [], total };
  }
  return {
    dags: rows.map(({ total: _, ...dag }) => dag),
    total: rows.length ? Number(rows[0].total) : 0,
  };
}

/**
 * What the DAG list shows, as one change marker cheap to read (see `gridMarker` in
 * `ui_runs.ts` for why values and not row versions): of every DAG (which ones exist, which are
 * active, paused, their latest versions, which hold descriptions, schedules and tags, and their
 * next run) a hash each, summed; the id and state of the latest runs of the DAGs on the page
 * (a run's id and time never change); the import errors; and the schedulers with whether each is
 * alive, which depends on the clock and not only on the rows. Each row's hash XORs hashes of its
 * values, so a change to one always changes the sum. About 1 ms on Postgres for 502 DAGs. A
 * value that the list starts to show must be added here.
 */
export async function dagListMarker(sql: Sql, f: DagListFilter): Promise<string> {
  const [row] = await query<{ marker: string }>(
    sql,
    frag`
    WITH page AS (
      SELECT d.dag_id ${matching(f)} ORDER BY d.dag_id LIMIT ${f.limit} OFFSET ${f.offset}
    )
    SELECT concat_ws(' ',
      (SELECT count(*) || '.' || COALESCE(sum(hashtext(dag_id)
          # hashint4(COALESCE(latest_version_id, 0)) # (is_paused::int * 2 + is_active::int)
          # hashint8(COALESCE((extract(epoch FROM next_dagrun_create_after) * 1000)::bigint, 0))),
          0)
        FROM dag),
      (SELECT count(*) || '.' || COALESCE(sum(hashint8(r.id) # hashtext(r.state)), 0)
        FROM page p, LATERAL (SELECT id, state FROM dag_run WHERE dag_id = p.dag_id
          ORDER BY run_after DESC, id DESC LIMIT ${RECENT_RUNS}) r),
      (SELECT count(*) || '.' || COALESCE(sum(hashtext(json_build_array(filename, message,
          stack)::text)), 0)
        FROM import_error),
      (SELECT string_agg(json_build_array(id, is_leader, last_heartbeat,
          last_heartbeat > now() - make_interval(secs => ${SCHEDULER_ALIVE_MS / 1000}))::text,
          ' ' ORDER BY id)
        FROM scheduler_instance)) AS marker`,
  );
  return row?.marker ?? "";
}

/** Every tag of an active DAG, for the filter (bounded: a tag list is not a tag cloud). */
export async function listTags(sql: Sql, limit = 200): Promise<string[]> {
  const rows = await sql<{ tag: string }>`
    SELECT DISTINCT t.tag FROM dag d JOIN dag_version v ON v.id = d.latest_version_id,
      jsonb_array_elements_text(v.serialized->'tags') AS t(tag)
    WHERE d.is_active ORDER BY t.tag LIMIT ${limit}`;
  return rows.map((r) => r.tag);
}

export interface DagHeader {
  dagId: string;
  fileloc: string;
  isPaused: boolean;
  isActive: boolean;
  latestVersionId: number;
  latestVersionNumber: number;
  nextRunAfter: Date | null;
}

export async function getDagHeader(sql: Sql, dagId: string): Promise<DagHeader | null> {
  const [row] = await sql<DagHeader>`
    SELECT d.dag_id AS "dagId", d.fileloc, d.is_paused AS "isPaused", d.is_active AS "isActive",
      d.latest_version_id AS "latestVersionId", v.version_number AS "latestVersionNumber",
      CASE WHEN d.next_dagrun_create_after < ${NEVER}::timestamptz
        THEN d.next_dagrun_create_after END AS "nextRunAfter"
    FROM dag d JOIN dag_version v ON v.id = d.latest_version_id
    WHERE d.dag_id = ${dagId}`;
  return row ?? null;
}

export interface VersionListItem {
  id: number;
  versionNumber: number;
  hash: string;
  fileloc: string;
  createdAt: Date;
}

/** The newest versions first. */
export function listDagVersions(sql: Sql, dagId: string, limit = 50): Promise<VersionListItem[]> {
  return sql<VersionListItem>`
    SELECT v.id, v.version_number AS "versionNumber", v.hash, v.fileloc,
      v.created_at AS "createdAt"
    FROM dag_version v WHERE v.dag_id = ${dagId}
    ORDER BY v.version_number DESC LIMIT ${limit}`;
}

export interface VersionSource {
  id: number;
  versionNumber: number;
  fileloc: string;
  source: string;
  createdAt: Date;
}

/** The source of one version of a DAG, or of its latest when `versionNumber` is null. */
export async function getVersionSource(
  sql: Sql,
  dagId: string,
  versionNumber: number | null,
): Promise<VersionSource | null> {
  const [row] = await sql<VersionSource>`
    SELECT v.id, v.version_number AS "versionNumber", v.fileloc, v.source,
      v.created_at AS "createdAt"
    FROM dag_version v
    WHERE v.dag_id = ${dagId} AND (v.version_number = ${versionNumber}::int
      OR (${versionNumber}::int IS NULL
        AND v.id = (SELECT latest_version_id FROM dag WHERE dag_id = ${dagId})))`;
  return row ?? null;
}
