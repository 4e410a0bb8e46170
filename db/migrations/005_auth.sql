-- Users with Airflow's roles, their dashboard sessions, API tokens, and the audit log.

-- `user` is a reserved word; `app_user` is the person who logs in.
CREATE TABLE app_user (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username text NOT NULL,
  role text NOT NULL CHECK (role IN ('Viewer', 'User', 'Op', 'Admin')),
  -- `pbkdf2_sha256$<iterations>$<salt>$<hash>`: the count travels with the hash, so it can be
  -- raised later and old hashes still verify (and are rehashed at the next login).
  password_hash text NOT NULL,
  is_active boolean NOT NULL DEFAULT true,
  -- JWTs issued before this are refused, so a password change revokes them with the sessions.
  password_changed_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  last_login_at timestamptz
);
-- One account per name whatever its case: "Admin" and "admin" are the same person.
CREATE UNIQUE INDEX app_user_username ON app_user (lower(username));

-- A dashboard session. The cookie carries a random id; only its SHA-256 is stored, so a leaked
-- table (or backup) holds nothing a browser could present.
CREATE TABLE user_session (
  id_hash text PRIMARY KEY,
  user_id integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  -- Renewed at most once a minute by the requests of the session: the idle expiry counts from it.
  last_seen_at timestamptz NOT NULL,
  -- The absolute expiry, fixed at login.
  expires_at timestamptz NOT NULL,
  client_addr text,
  user_agent text
);
CREATE INDEX user_session_user ON user_session (user_id);
CREATE INDEX user_session_expiry ON user_session (expires_at);

-- A long-lived API token an Admin created. It acts with its own role and in its own name (the
-- audit log records the token's name), whoever created it.
CREATE TABLE api_token (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('Viewer', 'User', 'Op', 'Admin')),
  -- SHA-256 of the token: it is 256 random bits, so a fast hash is enough (nothing to guess).
  token_hash text NOT NULL UNIQUE,
  -- The first characters, shown in lists so a token can be recognised without being readable.
  prefix text NOT NULL,
  created_by text,
  created_at timestamptz NOT NULL,
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz
);
-- Names identify tokens in the audit log, so two live tokens cannot share one.
CREATE UNIQUE INDEX api_token_live_name ON api_token (lower(name)) WHERE revoked_at IS NULL;

-- Every change and every login, with who, what, when and from where (Airflow's `log` table).
-- No foreign keys: the record outlives the DAGs, runs and users it names.
CREATE TABLE audit_log (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dttm timestamptz NOT NULL,
  event text NOT NULL,
  -- A username, an API token's name, "webhook" or "cli"; for a failed login, the name tried.
  owner text,
  -- What `owner` is: user, api_token, webhook, cli, or anonymous (a failed login).
  actor text NOT NULL,
  dag_id text,
  run_id text,
  task_id text,
  map_index integer,
  try_number integer,
  logical_date timestamptz,
  client_addr text,
  extra jsonb
);
CREATE INDEX audit_log_dttm ON audit_log (dttm);
CREATE INDEX audit_log_dag ON audit_log (dag_id, dttm);
-- The login rate limits count recent failures by name and by address.
CREATE INDEX audit_log_failed_login_owner ON audit_log (lower(owner), dttm)
  WHERE event = 'login_failed';
CREATE INDEX audit_log_failed_login_addr ON audit_log (client_addr, dttm)
  WHERE event = 'login_failed';
