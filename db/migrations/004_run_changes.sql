-- "This run may make progress": one row per change, instead of a flag on the run's row. Every
-- finished try used to set dag_run.needs_scheduling, so the completions of one run queued on
-- that row's lock (83 % of active backends during a 10,000-task fan-out, BENCHMARKS.md F1);
-- inserts do not contend. The scheduler deletes a run's rows before it reads the run's task
-- instances, so a change committed after that delete leaves its row and is seen next time.
-- No foreign key: its check would take a share lock on the run's row per insert, the very
-- contention this table removes; rows of runs that are gone or not running are swept.
CREATE TABLE dag_run_change (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag_run_id integer NOT NULL
);
CREATE INDEX dag_run_change_run ON dag_run_change (dag_run_id);

INSERT INTO dag_run_change (dag_run_id)
  SELECT id FROM dag_run WHERE needs_scheduling AND state = 'running';
DROP INDEX dag_run_needs_scheduling;
ALTER TABLE dag_run DROP COLUMN needs_scheduling;

-- Which runs still have work: the worker asks it after finishing tries of a wide run, and the
-- partial index keeps the answer proportional to the unfinished instances, not to the run.
CREATE INDEX task_instance_unfinished ON task_instance (dag_run_id)
  WHERE state IS NULL OR state IN ('scheduled', 'queued', 'running', 'up_for_retry',
    'up_for_reschedule');
