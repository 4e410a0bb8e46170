-- A DAG's onSuccess or onFailure, waiting to run: written in the transaction that ends the run,
-- so no run's callback is lost to a crash between the two, and run by a worker in a runner. At
-- least once: a worker that dies while running one leaves its lease to expire and another runs
-- it again, up to three attempts in all.
CREATE TABLE dag_callback (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag_run_id integer NOT NULL REFERENCES dag_run (id) ON DELETE CASCADE,
  state text NOT NULL CHECK (state IN ('success', 'failed')),
  created_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  lease_owner text,
  lease_expires_at timestamptz,
  done_at timestamptz,
  -- Set when the callback failed, timed out or was given up on.
  error jsonb,
  log text
);
CREATE INDEX dag_callback_pending ON dag_callback (id) WHERE done_at IS NULL;
