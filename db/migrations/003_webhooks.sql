-- Webhook deliveries, and the columns the REST API reads that 001 lacks.

-- One row per accepted webhook delivery, written in the transaction that creates its run, so a
-- repeated or concurrent delivery with the same key (or the same signed request) finds the
-- first one's run instead of starting another. Rejected requests write nothing here.
CREATE TABLE webhook_delivery (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag_id text NOT NULL REFERENCES dag (dag_id) ON DELETE CASCADE,
  -- The Idempotency-Key or X-GitHub-Delivery header; NULL when the sender gave none.
  idempotency_key text,
  -- The X-Gust-Signature of a timestamped request, so the same signed request replayed with
  -- another (unsigned) idempotency key is still one delivery. NULL for GitHub's scheme.
  signature text,
  body_sha256 text NOT NULL,
  run_id text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX webhook_delivery_key ON webhook_delivery (dag_id, idempotency_key);
CREATE UNIQUE INDEX webhook_delivery_signature ON webhook_delivery (dag_id, signature);
CREATE INDEX webhook_delivery_age ON webhook_delivery (dag_id, created_at);

-- Airflow's notes on runs and task instances (PATCH ... {"note": ...}). IF NOT EXISTS: another
-- migration may add the same column for the dashboard.
ALTER TABLE dag_run ADD COLUMN IF NOT EXISTS note text;
ALTER TABLE task_instance ADD COLUMN IF NOT EXISTS note text;

-- Airflow's import errors have an integer id (`import_error_id`); the filename stays the key.
ALTER TABLE import_error ADD COLUMN IF NOT EXISTS id integer GENERATED ALWAYS AS IDENTITY;
