-- Instances in state none (not yet scheduled), by run: the scheduler asks whether a wide run has
-- any before it reads all of the run's instances (a 10,000-way map whose instances are all
-- scheduled or further along has nothing to decide). Mapped instances are created scheduled and
-- no task moves back to none but through a clear, so a fan-out's state changes write no entry.
CREATE INDEX IF NOT EXISTS task_instance_unscheduled ON task_instance (dag_run_id)
  WHERE state IS NULL;
