/**
 * Fails the tries of workers that stopped heartbeating: a running task instance whose lease
 * expired is failed (or set up for retry, per its policy), so nothing waits forever on a worker
 * that died. A worker that comes back finds its lease gone and its completion refused.
 */
import { json, type Sql } from "../db/client.ts";
import { RETRY_DELAY } from "../db/task_instances.ts";
import { recordRunChanges } from "../db/run_changes.ts";

export async function reapExpiredLeases(sql: Sql, now: Date): Promise<number> {
  const reaped = await sql<{ id: number; tryNumber: number; dagRunId: number; owner: string }>`
    UPDATE task_instance SET
      state = CASE WHEN try_number <= max_tries THEN 'up_for_retry' ELSE 'failed' END,
      next_retry_at = CASE WHEN try_number <= max_tries
        THEN ${now}::timestamptz + ${RETRY_DELAY} END,
      end_date = ${now}, lease_owner = NULL, lease_expires_at = NULL, updated_at = ${now}
    WHERE state = 'running' AND lease_expires_at < ${now}
    RETURNING id, try_number AS "tryNumber", dag_run_id AS "dagRunId", hostname AS owner`;
  if (reaped.length === 0) return 0;
  const error = {
    name: "LeaseExpired",
    message: "The worker running this try stopped heartbeating",
  };
  await sql`
    UPDATE task_try SET state = 'failed', end_date = ${now}, error = ${json(error)}
    FROM unnest(${reaped.map((r) => r.id)}::int[], ${
    reaped.map((r) => r.tryNumber)
  }::int[]) AS x(id, try)
    WHERE task_try.ti_id = x.id AND task_try.try_number = x.try`;
  await recordRunChanges(sql, reaped.map((r) => r.dagRunId));
  return reaped.length;
}
