-- Indexes for the dashboard's questions about live work: how many task instances hold a slot
-- in a pool, and how many a DAG has queued or running (why a task is not running yet). Both
-- count only queued and running rows, a small set however long the history grows; the queueing
-- step of the scheduler asks the same two questions.
CREATE INDEX IF NOT EXISTS task_instance_active_pool ON task_instance (pool)
  WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS task_instance_active_dag ON task_instance (dag_id)
  WHERE state IN ('queued', 'running');
