/**
 * Finishing tries in batches, and handing the slots they free to the next tasks. A worker
 * commits the tries that ended while its previous commit was in flight in one transaction (group
 * commit), so at thousands of tasks a second it pays a commit per batch, not per task (FACTS.md:
 * about 3,000 commits/s here).
 */
import { type Sql } from "./client.ts";
import { RETRY_DELAY } from "./task_instances.ts";
import type { TaskState } from "../scheduler/states.ts";
import type { TaskError } from "../sdk/types.ts";

export interface TryOutcome {
  id: number;
  tryNumber: number;
  /** When the task ended in its runner; the commit comes a little later. */
  endedAt: Date;
  /** JSON text of the result, for a success. */
  resultJson?: string;
  error?: TaskError;
}

export interface FinishedTry {
  id: number;
  state: TaskState;
  dagRunId: number;
  dagId: string;
  pool: string;
  poolSlots: number;
}

/**
 * Ends running tries: success, or failure with Airflow's retry rule (a try fails for good once
 * `try_number > max_tries`). A try counts only while `worker` still holds its lease; the ones it
 * lost are left out of the answer. Call it in a transaction: a scheduler must never see a success
 * without its result, or it would read a branch's missing result as "skip everything".
 * A task that returned nothing (JSON null) stores no result, as Airflow pushes no XCom for None:
 * readers take a missing result for null, and a no-op task saves an insert and its key check.
 */
export async function finishTries(
  sql: Sql,
  worker: string,
  outcomes: TryOutcome[],
  now: Date,
): Promise<FinishedTry[]> {
  if (outcomes.length === 0) return [];
  // Locked first, in id order, as every statement that waits for many task instances' locks
  // takes them (a hand edit of a run, the scheduler's queueing, lease renewals): two such never
  // wait on each other in a cycle. The update's own join locks in whatever order its plan reads.
  // A statement of its own, sent with the update: as a subquery of the update, the same lock
  // cost a tenth of a fan-out's throughput.
  // One statement (the try and the result follow from what the first update returns): a round
  // trip on Postgres, and one parse and plan instead of three on PGlite.
  const ids = outcomes.map((o) => o.id).sort((a, b) => a - b);
  const [, finished] = await Promise.all([
    // On PGlite nothing else holds a lock, and a statement less is a chain step's millisecond.
    sql.concurrent
      ? sql`SELECT 1 FROM task_instance WHERE id = ANY(${ids}::int[]) ORDER BY id FOR NO KEY UPDATE`
      : Promise.resolve([]),
    sql<FinishedTry>`
    WITH finished AS (
      UPDATE task_instance ti SET
        state = CASE WHEN x.result IS NOT NULL THEN 'success'
          WHEN try_number <= max_tries THEN 'up_for_retry' ELSE 'failed' END,
        next_retry_at = CASE WHEN x.result IS NULL AND try_number <= max_tries
          THEN x.ended + ${RETRY_DELAY} END,
        end_date = x.ended,
        duration_ms = GREATEST(0, (extract(epoch FROM x.ended - start_date) * 1000)::int),
        lease_owner = NULL, lease_expires_at = NULL, updated_at = ${now}
      FROM unnest(${outcomes.map((o) => o.id)}::int[], ${outcomes.map((o) => o.tryNumber)}::int[],
        ${outcomes.map((o) => o.endedAt)}::timestamptz[],
        ${outcomes.map((o) => o.resultJson ?? null)}::text[],
        ${outcomes.map((o) => (o.error ? JSON.stringify(o.error) : null))}::text[])
        AS x(id, tryno, ended, result, error)
      WHERE ti.id = x.id AND ti.state = 'running'
        AND ti.lease_owner = ${worker}
        AND ti.try_number = x.tryno
      RETURNING ti.id, ti.state, ti.dag_run_id, ti.dag_id, ti.pool, ti.pool_slots, x.tryno,
        x.ended, x.result, x.error
    ), tries AS (
      UPDATE task_try t SET state = CASE WHEN f.state = 'up_for_retry' THEN 'failed' ELSE f.state END,
        end_date = f.ended, error = f.error::jsonb
      FROM finished f WHERE t.ti_id = f.id AND t.try_number = f.tryno
    ), results AS (
      INSERT INTO xcom (ti_id, key, value, created_at)
      SELECT f.id, 'return_value', f.result::jsonb, ${now} FROM finished f
      WHERE f.result <> 'null'
      ON CONFLICT (ti_id, key) DO UPDATE SET value = EXCLUDED.value,
        created_at = EXCLUDED.created_at
    ), stale AS (
      -- A try after the first may find an earlier try's result (a retry, a cleared task): one
      -- that returned nothing or failed must not leave it standing, as Airflow clears XComs when
      -- a try starts. A first try has nothing to clear, so a fan-out pays no lookup for it.
      DELETE FROM xcom x USING finished f
      WHERE f.tryno > 1 AND COALESCE(f.result, 'null') = 'null'
        AND x.ti_id = f.id AND x.key = 'return_value'
    )
    SELECT id, state, dag_run_id AS "dagRunId", dag_id AS "dagId", pool,
      pool_slots AS "poolSlots"
    FROM finished`,
  ]);
  return finished;
}

export interface FreedSlots {
  pool: string;
  dagId: string;
  /** How many tries of this DAG in this pool ended. */
  count: number;
  /** The fewest pool slots one of them held. */
  poolSlots: number;
}

/**
 * Gives the pool slots that finished tries free to the tasks the scheduler would have queued into
 * them: the pool's highest-priority scheduled instances, in the scheduler's order, as long as they
 * belong to the same DAG (so its `maxActiveTasks` count is unchanged), need no more slots and
 * their DAG is not paused. The first one that does not qualify ends the hand-over, since the slot
 * is its by priority: the scheduler queues it. The counts `queueTasks` checks move from one task
 * instance to another inside this transaction, so no limit can be exceeded and no lock is needed.
 */
export async function transferSlots(sql: Sql, freed: FreedSlots, now: Date): Promise<number> {
  // One statement, so that a claim sent right behind it sees what it queued.
  const queued = await sql`
    WITH top AS (
      SELECT id, dag_id, pool_slots,
        row_number() OVER (ORDER BY priority_weight DESC, id) AS position
      FROM (
        SELECT id, dag_id, pool_slots, priority_weight FROM task_instance
        WHERE state = 'scheduled' AND pool = ${freed.pool}
        ORDER BY priority_weight DESC, id
        LIMIT ${freed.count}
        FOR UPDATE SKIP LOCKED
      ) AS candidates
    ), first_other AS (
      SELECT min(position) AS position FROM top
      WHERE dag_id <> ${freed.dagId} OR pool_slots > ${freed.poolSlots}
    )
    UPDATE task_instance ti SET state = 'queued', queued_at = ${now}, updated_at = ${now}
    FROM top
    WHERE ti.id = top.id AND ti.state = 'scheduled'
      AND top.position < COALESCE((SELECT position FROM first_other), ${freed.count + 1})
      AND NOT EXISTS (SELECT 1 FROM dag WHERE dag_id = ${freed.dagId} AND is_paused)
    RETURNING ti.id`;
  return queued.length;
}

/** Groups finished tries by the (pool, DAG) whose slots they free. */
export function freedSlots(finished: FinishedTry[]): FreedSlots[] {
  const groups = new Map<string, FreedSlots>();
  for (const f of finished) {
    const key = JSON.stringify([f.pool, f.dagId]);
    const group = groups.get(key);
    if (group) {
      group.count++;
      group.poolSlots = Math.min(group.poolSlots, f.poolSlots);
    } else groups.set(key, { pool: f.pool, dagId: f.dagId, count: 1, poolSlots: f.poolSlots });
  }
  return [...groups.values()];
}
