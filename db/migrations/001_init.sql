-- Gust's metadata schema. Names follow Airflow's where a concept is Airflow's.

CREATE TABLE pool (
  name text PRIMARY KEY,
  slots integer NOT NULL CHECK (slots >= -1), -- -1: unlimited
  description text NOT NULL DEFAULT ''
);
INSERT INTO pool (name, slots, description) VALUES ('default_pool', 128, 'Default pool');

CREATE TABLE dag (
  dag_id text PRIMARY KEY,
  fileloc text NOT NULL,
  is_paused boolean NOT NULL DEFAULT false,
  is_active boolean NOT NULL DEFAULT true,
  latest_version_id integer,
  last_parsed_at timestamptz,
  -- The data interval of the latest automated run, from which the next one is computed.
  last_automated_interval_start timestamptz,
  last_automated_interval_end timestamptz,
  next_dagrun_create_after timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dag_version (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag_id text NOT NULL REFERENCES dag (dag_id) ON DELETE CASCADE,
  version_number integer NOT NULL,
  hash text NOT NULL,
  fileloc text NOT NULL,
  serialized jsonb NOT NULL,
  source text NOT NULL,
  -- Copied out of `serialized` so the scheduler's hot queries need not read the whole DAG.
  max_active_runs integer NOT NULL,
  max_active_tasks integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (dag_id, hash),
  UNIQUE (dag_id, version_number)
);

CREATE TABLE import_error (
  filename text PRIMARY KEY,
  message text NOT NULL,
  stack text,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A backfill: runs for past logical dates, created together, with their own concurrency limit.
CREATE TABLE backfill (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag_id text NOT NULL REFERENCES dag (dag_id) ON DELETE CASCADE,
  from_date timestamptz NOT NULL,
  to_date timestamptz NOT NULL,
  dag_run_conf jsonb NOT NULL DEFAULT '{}',
  reprocess_behavior text NOT NULL CHECK (reprocess_behavior IN ('none', 'failed', 'completed')),
  max_active_runs integer NOT NULL,
  is_paused boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dag_run (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag_id text NOT NULL REFERENCES dag (dag_id) ON DELETE CASCADE,
  run_id text NOT NULL,
  run_type text NOT NULL CHECK (run_type IN ('scheduled', 'manual', 'backfill', 'webhook', 'asset_triggered')),
  logical_date timestamptz,
  data_interval_start timestamptz,
  data_interval_end timestamptz,
  run_after timestamptz NOT NULL,
  state text NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failed')),
  conf jsonb NOT NULL DEFAULT '{}',
  dag_version_id integer NOT NULL REFERENCES dag_version (id),
  triggered_by text,
  backfill_id integer REFERENCES backfill (id) ON DELETE SET NULL,
  queued_at timestamptz NOT NULL DEFAULT now(),
  start_date timestamptz,
  end_date timestamptz,
  -- Set when a change may let the run make progress; the scheduler picks such runs first.
  needs_scheduling boolean NOT NULL DEFAULT true,
  UNIQUE (dag_id, run_id)
);
-- One run per DAG and logical date, so a doubled cron tick creates nothing twice.
CREATE UNIQUE INDEX dag_run_logical_date ON dag_run (dag_id, logical_date) WHERE logical_date IS NOT NULL;
CREATE INDEX dag_run_active ON dag_run (dag_id, state) WHERE state IN ('queued', 'running');
CREATE INDEX dag_run_recent ON dag_run (dag_id, run_after DESC);

CREATE TABLE task_instance (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag_run_id integer NOT NULL REFERENCES dag_run (id) ON DELETE CASCADE,
  dag_id text NOT NULL,
  run_id text NOT NULL,
  task_id text NOT NULL,
  map_index integer NOT NULL DEFAULT -1,
  -- NULL is Airflow's "none": not yet scheduled.
  state text CHECK (state IN ('scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry',
    'up_for_reschedule', 'upstream_failed', 'skipped', 'removed')),
  try_number integer NOT NULL DEFAULT 0,
  max_tries integer NOT NULL DEFAULT 0,
  -- The retry policy, copied from the DAG version so a retry is computed in SQL.
  retry_delay_ms integer NOT NULL DEFAULT 300000,
  retry_exponential boolean NOT NULL DEFAULT false,
  max_retry_delay_ms integer,
  pool text NOT NULL DEFAULT 'default_pool',
  pool_slots integer NOT NULL DEFAULT 1,
  priority_weight integer NOT NULL DEFAULT 1,
  queue text NOT NULL DEFAULT 'default',
  queued_at timestamptz,
  start_date timestamptz,
  end_date timestamptz,
  duration_ms integer,
  next_retry_at timestamptz,
  -- The worker that holds the running try, and until when; a completion counts only while it does.
  lease_owner text,
  lease_expires_at timestamptz,
  hostname text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (dag_run_id, task_id, map_index)
);
CREATE INDEX task_instance_queued ON task_instance (queue, priority_weight DESC, queued_at)
  WHERE state = 'queued';
CREATE INDEX task_instance_scheduled ON task_instance (priority_weight DESC, id)
  WHERE state = 'scheduled';
CREATE INDEX task_instance_running ON task_instance (lease_expires_at) WHERE state = 'running';
CREATE INDEX task_instance_retry ON task_instance (next_retry_at) WHERE state = 'up_for_retry';
CREATE INDEX task_instance_dag_task ON task_instance (dag_id, task_id);

-- One row per try, kept when a task is cleared, so every try's log and outcome stay readable.
CREATE TABLE task_try (
  ti_id integer NOT NULL REFERENCES task_instance (id) ON DELETE CASCADE,
  try_number integer NOT NULL,
  state text NOT NULL,
  start_date timestamptz NOT NULL,
  end_date timestamptz,
  hostname text,
  worker text,
  error jsonb,
  PRIMARY KEY (ti_id, try_number)
);

CREATE TABLE task_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ti_id integer NOT NULL REFERENCES task_instance (id) ON DELETE CASCADE,
  try_number integer NOT NULL,
  ts timestamptz NOT NULL,
  level text NOT NULL,
  line text NOT NULL
);
CREATE INDEX task_log_try ON task_log (ti_id, try_number, id);

CREATE TABLE xcom (
  ti_id integer NOT NULL REFERENCES task_instance (id) ON DELETE CASCADE,
  key text NOT NULL DEFAULT 'return_value',
  value jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ti_id, key)
);

CREATE INDEX dag_run_needs_scheduling ON dag_run (id) WHERE needs_scheduling AND state = 'running';

-- Leader election. The leader holds a session advisory lock on a dedicated connection and
-- renews this lease; the epoch grows with every new leader, and leader-only writes check it,
-- so a leader that was frozen or cut off cannot write after another took over.
CREATE TABLE scheduler_lease (
  name text PRIMARY KEY,
  holder text,
  epoch bigint NOT NULL DEFAULT 0,
  backend_pid integer,
  expires_at timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO scheduler_lease (name) VALUES ('leader');

-- Every running scheduler, for /health and the dashboard.
CREATE TABLE scheduler_instance (
  id text PRIMARY KEY,
  hostname text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL,
  last_heartbeat timestamptz NOT NULL,
  is_leader boolean NOT NULL DEFAULT false
);
