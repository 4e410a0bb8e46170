/**
 * Queries on task instances. Every state change is conditional on the state it changes from
 * (and, for a running try, on the lease), so a doubled or late call changes nothing.
 */
import { json, raw, type Sql } from "./client.ts";
import { frag, query } from "./fragment.ts";
import type { Change, TiView } from "../scheduler/decide.ts";

/**
 * The wait before the next try, in SQL so that finishing a try and reaping a lost one compute it
 * alike: the delay, doubled per try when exponential and capped by the maximum (24 h by
 * default, as in Airflow).
 */
export const RETRY_DELAY = raw(`make_interval(secs => (CASE WHEN retry_exponential
  THEN LEAST(retry_delay_ms * power(2, try_number - 1), COALESCE(max_retry_delay_ms, 86400000))
  ELSE retry_delay_ms END) / 1000.0)`);

/**
 * Takes the run's recorded changes (see run_changes.ts) and reads its task instances, in one
 * statement and so from one snapshot: a change committed before it is in what it reads, and one
 * committed after it keeps its row, so the run is evaluated again. One statement instead of two
 * matters on PGlite, where every statement of the process takes its turn.
 */
export function takeChangesAndLoadTis(sql: Sql, dagRunId: number): Promise<TiView[]> {
  return sql<TiView>`
    WITH taken AS (DELETE FROM dag_run_change WHERE dag_run_id = ${dagRunId})
    SELECT id, task_id AS "taskId", map_index AS "mapIndex", state, next_retry_at AS "nextRetryAt"
    FROM task_instance WHERE dag_run_id = ${dagRunId}`;
}

/**
 * Takes the run's recorded changes, as `takeChangesAndLoadTis` does, and says whether evaluating
 * the run could change anything: only an instance in state none is scheduled, skipped or failed
 * upstream, only a due retry is scheduled again, and the run ends only once nothing is
 * unfinished (see `decide`). A wide run whose instances are all scheduled, on their way or done
 * has nothing to decide, and this answers it without reading all of them.
 */
export async function takeChangesAndCheckWork(
  sql: Sql,
  dagRunId: number,
  now: Date,
): Promise<boolean> {
  const [row] = await sql<{ work: boolean }>`
    WITH taken AS (DELETE FROM dag_run_change WHERE dag_run_id = ${dagRunId})
    SELECT EXISTS (SELECT 1 FROM task_instance WHERE dag_run_id = ${dagRunId} AND state IS NULL)
      OR EXISTS (SELECT 1 FROM task_instance WHERE dag_run_id = ${dagRunId}
        AND state = 'up_for_retry' AND next_retry_at <= ${now})
      OR NOT EXISTS (SELECT 1 FROM task_instance WHERE dag_run_id = ${dagRunId}
        AND state IN ('scheduled', 'queued', 'running', 'up_for_retry', 'up_for_reschedule'))
      AS work`;
  return row.work;
}

/** Applies scheduler decisions; a row whose state moved on since it was read is left alone. */
export async function applyChanges(sql: Sql, changes: Change[], now: Date): Promise<number> {
  if (changes.length === 0) return 0;
  const rows = await sql`
    UPDATE task_instance ti SET state = c.to_state, updated_at = ${now},
      end_date = CASE WHEN c.to_state IN ('skipped', 'upstream_failed', 'failed') THEN ${now}::timestamptz
        ELSE ti.end_date END,
      next_retry_at = NULL
    FROM unnest(${changes.map((c) => c.id)}::int[], ${changes.map((c) => c.from)}::text[],
      ${changes.map((c) => c.to)}::text[]) AS c(id, from_state, to_state)
    WHERE ti.id = c.id AND ti.state IS NOT DISTINCT FROM c.from_state
    RETURNING ti.id`;
  return rows.length;
}

/** Turns a mapped task's placeholder (map index -1) into instances 0..count-1, all scheduled. */
export async function expandMapped(sql: Sql, id: number, count: number, now: Date): Promise<void> {
  const [placeholder] = await sql`
    UPDATE task_instance SET map_index = 0, state = 'scheduled', updated_at = ${now}
    WHERE id = ${id} AND map_index = -1 AND state IS NULL
    RETURNING id`;
  if (!placeholder || count <= 1) return;
  await sql`
    INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, map_index, state, max_tries,
      retry_delay_ms, retry_exponential, max_retry_delay_ms, pool, pool_slots, priority_weight,
      queue, updated_at)
    SELECT dag_run_id, dag_id, run_id, task_id, i, 'scheduled', max_tries, retry_delay_ms,
      retry_exponential, max_retry_delay_ms, pool, pool_slots, priority_weight, queue, ${now}
    FROM task_instance, generate_series(1, ${count - 1}::int) AS i
    WHERE id = ${id}`;
}

/**
 * Results of successful tasks, by task id; a mapped task's come as an array by map index. A task
 * that returned nothing has no stored result (as in Airflow) and reads as null, in its place.
 */
export async function loadResults(
  sql: Sql,
  dagRunId: number,
  taskIds: string[],
): Promise<Map<string, unknown>> {
  const results = new Map<string, unknown>();
  if (taskIds.length === 0) return results;
  const rows = await sql<{ taskId: string; mapIndex: number; value: unknown }>`
    SELECT ti.task_id AS "taskId", ti.map_index AS "mapIndex", x.value
    FROM task_instance ti LEFT JOIN xcom x ON x.ti_id = ti.id AND x.key = 'return_value'
    WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = ANY(${taskIds}) AND ti.state = 'success'
    ORDER BY ti.task_id, ti.map_index`;
  for (const row of rows) {
    if (row.mapIndex < 0) results.set(row.taskId, row.value);
    else {
      const list = (results.get(row.taskId) as unknown[] | undefined) ?? [];
      list.push(row.value);
      results.set(row.taskId, list);
    }
  }
  return results;
}

type ExpandSource = { task: string } | { values: unknown[] };

/**
 * A mapped instance's own element of each list it maps over, by expand key: the instance gets
 * `value -> i` out of its source's result, not the whole list (a 10,000-way map would otherwise
 * read and send 10,000 lists of 10,000). Returns null when the stored DAG does not record the
 * keys' order (versions stored before it did) or a source is itself mapped: then the runner picks
 * the elements out of the whole lists.
 */
export async function loadExpandElements(
  sql: Sql,
  dagRunId: number,
  mapIndex: number,
  expand: Record<string, ExpandSource>,
  order: string[] | undefined,
  mappedTasks: Set<string>,
): Promise<Record<string, unknown> | null> {
  const sourceTask = (key: string) => {
    const source = expand[key];
    return "task" in source ? source.task : null;
  };
  if (!order || order.some((k) => mappedTasks.has(sourceTask(k) ?? ""))) return null;
  const indexes = order.length === 1
    ? new Map([[order[0], mapIndex]])
    : crossProductIndexes(mapIndex, order, expand, await listLengths(sql, dagRunId, expand));
  const picks = order.filter((k) => sourceTask(k) !== null);
  const elements = new Map<string, unknown>();
  if (picks.length) {
    const rows = await sql<{ key: string; element: unknown }>`
      SELECT p.key, x.value -> p.idx AS element
      FROM unnest(${picks}::text[], ${picks.map(sourceTask)}::text[],
        ${picks.map((k) => indexes.get(k)!)}::int[]) AS p(key, task_id, idx)
      JOIN task_instance ti ON ti.dag_run_id = ${dagRunId} AND ti.task_id = p.task_id
        AND ti.map_index = -1
      JOIN xcom x ON x.ti_id = ti.id AND x.key = 'return_value'`;
    for (const row of rows) elements.set(row.key, row.element);
  }
  return Object.fromEntries(order.map((key) => {
    const source = expand[key];
    return [key, "values" in source ? source.values[indexes.get(key)!] : elements.get(key) ?? null];
  }));
}

/**
 * The stored result a mapping source left in a run: its task instance's id and the version of
 * the stored row (`xmin`, new whenever the source runs again). The value itself is not read: see
 * `sourceResult`. Null when the source has no stored result. Plain equalities, so a prepared
 * statement's generic plan is the unique index's (a join on an `unnest` of parameters was planned
 * as a scan of task_instance once Postgres switched to a generic plan: 7 to 20 ms, not 0.1).
 */
export async function mappedSource(
  sql: Sql,
  dagRunId: number,
  sourceTask: string,
): Promise<{ sourceId: number; version: string } | null> {
  const [row] = await sql<{ sourceId: number; version: string }>`
    SELECT s.id AS "sourceId", x.xmin::text AS version
    FROM task_instance s JOIN xcom x ON x.ti_id = s.id AND x.key = 'return_value'
    WHERE s.dag_run_id = ${dagRunId} AND s.task_id = ${sourceTask} AND s.map_index = -1`;
  return row ?? null;
}

/** A stored result, if its row is still at `version`. */
export async function sourceResult(
  sql: Sql,
  sourceId: number,
  version: string,
): Promise<unknown | undefined> {
  const [row] = await sql<{ value: unknown }>`
    SELECT value FROM xcom
    WHERE ti_id = ${sourceId} AND key = 'return_value' AND xmin::text = ${version}`;
  return row ? row.value : undefined;
}

/** The index into each list of a cross product: the last key varies fastest, as in Airflow. */
function crossProductIndexes(
  mapIndex: number,
  order: string[],
  expand: Record<string, ExpandSource>,
  lengths: Map<string, number>,
): Map<string, number> {
  const indexes = new Map<string, number>();
  let rest = mapIndex;
  for (const key of [...order].reverse()) {
    const source = expand[key];
    const n = "values" in source ? source.values.length : lengths.get(source.task) ?? 0;
    indexes.set(key, n ? rest % n : 0);
    rest = n ? Math.floor(rest / n) : 0;
  }
  return indexes;
}

async function listLengths(
  sql: Sql,
  dagRunId: number,
  expand: Record<string, ExpandSource>,
): Promise<Map<string, number>> {
  const tasks = Object.values(expand).flatMap((s) => ("task" in s ? [s.task] : []));
  const rows = await sql<{ taskId: string; n: number }>`
    SELECT ti.task_id AS "taskId", jsonb_array_length(x.value) AS n
    FROM task_instance ti JOIN xcom x ON x.ti_id = ti.id AND x.key = 'return_value'
    WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = ANY(${tasks}) AND ti.map_index = -1`;
  return new Map(rows.map((r) => [r.taskId, r.n]));
}

export interface ClaimedTi {
  id: number;
  dagRunId: number;
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  maxTries: number;
  dagVersionId: number;
  conf: Record<string, unknown>;
  logicalDate: Date | null;
  dataIntervalStart: Date | null;
  dataIntervalEnd: Date | null;
}

/**
 * Claims up to `limit` queued task instances for a worker, highest priority first. SKIP LOCKED
 * lets several workers claim at once without waiting on each other or taking the same row.
 */
export async function claimTasks(
  sql: Sql,
  c: {
    worker: string;
    hostname: string;
    queues: string[];
    limit: number;
    leaseMs: number;
    now: Date;
  },
): Promise<ClaimedTi[]> {
  const leaseUntil = new Date(c.now.getTime() + c.leaseMs);
  // One queue (the usual worker) as an equality, so the index returns the queue's rows in the
  // claim's order and the claim reads only those it takes; a btree does not keep the order of
  // an ANY over its leading column (Postgres before 17), so several queues are read and sorted.
  const inQueues = c.queues.length === 1
    ? frag`queue = ${c.queues[0]}`
    : frag`queue = ANY(${c.queues})`;
  return await query<ClaimedTi>(
    sql,
    frag`
    WITH claimed AS (
      UPDATE task_instance ti SET state = 'running', try_number = ti.try_number + 1,
        lease_owner = ${c.worker}, lease_expires_at = ${leaseUntil}, start_date = ${c.now},
        end_date = NULL, duration_ms = NULL, hostname = ${c.hostname}, updated_at = ${c.now}
      WHERE ti.id IN (
        SELECT id FROM task_instance
        WHERE state = 'queued' AND ${inQueues}
        ORDER BY priority_weight DESC, queued_at, id
        LIMIT ${c.limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING ti.*
    ), tries AS (
      INSERT INTO task_try (ti_id, try_number, state, start_date, hostname, worker)
      SELECT id, try_number, 'running', start_date, hostname, lease_owner FROM claimed
      ON CONFLICT (ti_id, try_number) DO UPDATE SET state = 'running', worker = EXCLUDED.worker,
        start_date = EXCLUDED.start_date, end_date = NULL, error = NULL
    )
    SELECT c.id, c.dag_run_id AS "dagRunId", c.dag_id AS "dagId", c.run_id AS "runId",
      c.task_id AS "taskId", c.map_index AS "mapIndex", c.try_number AS "tryNumber",
      c.max_tries AS "maxTries", r.dag_version_id AS "dagVersionId", r.conf,
      r.logical_date AS "logicalDate", r.data_interval_start AS "dataIntervalStart",
      r.data_interval_end AS "dataIntervalEnd"
    FROM claimed c JOIN dag_run r ON r.id = c.dag_run_id
    ORDER BY c.priority_weight DESC, c.id`,
  );
}

/** Extends the leases a worker still holds; returns the ids it no longer holds. */
export async function renewLeases(
  sql: Sql,
  worker: string,
  ids: number[],
  leaseMs: number,
  now: Date,
): Promise<number[]> {
  if (ids.length === 0) return [];
  // Locked in id order, as the same worker's commits lock the tries they finish (see
  // finishTries): in the order its plan read them, a renewal deadlocked with such a commit.
  const held = await sql<{ id: number }>`
    UPDATE task_instance ti SET lease_expires_at = ${new Date(now.getTime() + leaseMs)}
    FROM (SELECT id FROM task_instance WHERE id = ANY(${ids}::int[])
      ORDER BY id FOR NO KEY UPDATE) AS locked
    WHERE ti.id = locked.id AND ti.state = 'running' AND ti.lease_owner = ${worker}
    RETURNING ti.id`;
  const kept = new Set(held.map((r) => r.id));
  return ids.filter((id) => !kept.has(id));
}

/** Hands a running try back (graceful shutdown): it is queued again and the try does not count. */
export async function releaseTry(
  sql: Sql,
  id: number,
  worker: string,
  tryNumber: number,
  now: Date,
) {
  const [row] = await sql<{ dagRunId: number }>`
    UPDATE task_instance SET state = 'queued', queued_at = ${now}, try_number = try_number - 1,
      lease_owner = NULL,
      lease_expires_at = NULL, updated_at = ${now}
    WHERE id = ${id} AND state = 'running' AND lease_owner = ${worker} AND try_number = ${tryNumber}
    RETURNING dag_run_id AS "dagRunId"`;
  if (row) {
    await sql`
      UPDATE task_try SET state = 'failed', end_date = ${now},
        error = ${json({ name: "Released", message: "Worker shut down; the task was handed back" })}
      WHERE ti_id = ${id} AND try_number = ${tryNumber}`;
  }
  return row ?? null;
}
