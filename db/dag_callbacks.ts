/** DAG callbacks waiting to run (see migration 008): enqueued with the run's end, run by workers. */
import { json, type Sql } from "./client.ts";
import type { TaskError } from "../sdk/types.ts";

export const MAX_CALLBACK_ATTEMPTS = 3;

export async function enqueueDagCallback(
  sql: Sql,
  dagRunId: number,
  state: "success" | "failed",
  now: Date,
): Promise<void> {
  await sql`
    INSERT INTO dag_callback (dag_run_id, state, created_at) VALUES (${dagRunId}, ${state}, ${now})`;
}

export interface ClaimedCallback {
  id: number;
  dagRunId: number;
  state: "success" | "failed";
}

/**
 * Takes the oldest callback no live worker holds, under a lease; first gives up on the ones whose
 * attempts ran out. Null when none waits.
 */
export async function claimDagCallback(
  sql: Sql,
  worker: string,
  leaseMs: number,
  now: Date,
): Promise<ClaimedCallback | null> {
  await sql`
    UPDATE dag_callback SET done_at = ${now},
      error = ${
    json({ name: "GaveUp", message: `No worker finished it in ${MAX_CALLBACK_ATTEMPTS} attempts` })
  }
    WHERE done_at IS NULL AND attempts >= ${MAX_CALLBACK_ATTEMPTS} AND lease_expires_at < ${now}`;
  const [row] = await sql<ClaimedCallback>`
    UPDATE dag_callback SET attempts = attempts + 1, lease_owner = ${worker},
      lease_expires_at = ${new Date(now.getTime() + leaseMs)}
    WHERE id = (
      SELECT id FROM dag_callback
      WHERE done_at IS NULL AND attempts < ${MAX_CALLBACK_ATTEMPTS}
        AND (lease_expires_at IS NULL OR lease_expires_at < ${now})
      ORDER BY id LIMIT 1
      FOR UPDATE SKIP LOCKED)
    RETURNING id, dag_run_id AS "dagRunId", state`;
  return row ?? null;
}

/** Records how a callback ended; refused (false) when the worker no longer holds it. */
export async function finishDagCallback(
  sql: Sql,
  c: { id: number; worker: string; error: TaskError | null; log: string; now: Date },
): Promise<boolean> {
  const rows = await sql`
    UPDATE dag_callback SET done_at = ${c.now}, error = ${json(c.error)}, log = ${c.log},
      lease_owner = NULL, lease_expires_at = NULL
    WHERE id = ${c.id} AND lease_owner = ${c.worker} AND done_at IS NULL
    RETURNING 1`;
  return rows.length > 0;
}
