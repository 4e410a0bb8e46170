/**
 * Webhook deliveries: what makes a repeated delivery return its first run. Every query here
 * runs inside the transaction that creates the run, after the per-DAG lock (`lockDagWebhooks`),
 * so two deliveries of one DAG are decided one after the other; the unique indexes on the key
 * and on the signature are the backstop should a caller forget the lock.
 */
import type { Sql } from "./client.ts";

const WEBHOOK_LOCK_CLASS = 7_406_820; // arbitrary, constant: "gust webhooks", then the DAG

export interface Delivery {
  idempotencyKey: string | null;
  signature: string | null;
  bodySha256: string;
  runId: string;
}

/** Serializes the webhook deliveries of one DAG until the transaction ends. */
export async function lockDagWebhooks(tx: Sql, dagId: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${WEBHOOK_LOCK_CLASS}, hashtext(${dagId}))`;
}

/** The delivery with this key or this signature (call `pruneDeliveries` first). */
export async function findDelivery(
  tx: Sql,
  dagId: string,
  key: string | null,
  signature: string | null,
): Promise<Delivery | null> {
  const [row] = await tx<Delivery>`
    SELECT idempotency_key AS "idempotencyKey", signature, body_sha256 AS "bodySha256",
      run_id AS "runId"
    FROM webhook_delivery
    WHERE dag_id = ${dagId} AND (idempotency_key = ${key} OR signature = ${signature})
    ORDER BY id LIMIT 1`;
  return row ?? null;
}

/** Records a delivery; false when another with the same key or signature exists. */
export async function insertDelivery(
  tx: Sql,
  dagId: string,
  d: Delivery,
  now: Date,
): Promise<boolean> {
  const rows = await tx`
    INSERT INTO webhook_delivery (dag_id, idempotency_key, signature, body_sha256, run_id,
      created_at)
    VALUES (${dagId}, ${d.idempotencyKey}, ${d.signature}, ${d.bodySha256}, ${d.runId}, ${now})
    ON CONFLICT DO NOTHING
    RETURNING id`;
  return rows.length > 0;
}

/** Forgets the DAG's deliveries older than `before`; their keys may start runs again. */
export async function pruneDeliveries(tx: Sql, dagId: string, before: Date): Promise<void> {
  await tx`DELETE FROM webhook_delivery WHERE dag_id = ${dagId} AND created_at < ${before}`;
}

/**
 * Webhook runs of the DAG created after `since`, and when the oldest of them was, for the rate
 * limit. It counts runs, not a counter of its own, so a refused request writes nothing.
 */
export async function recentWebhookRuns(
  tx: Sql,
  dagId: string,
  since: Date,
): Promise<{ count: number; oldest: Date | null }> {
  const [row] = await tx<{ count: number; oldest: Date | null }>`
    SELECT count(*)::int AS count, min(run_after) AS oldest FROM dag_run
    WHERE dag_id = ${dagId} AND run_type = 'webhook' AND run_after > ${since}`;
  return row;
}
