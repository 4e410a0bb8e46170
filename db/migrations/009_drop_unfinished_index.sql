-- task_instance_unfinished (004) was made for a question no code asks any longer; every state
-- change of an unfinished instance paid an entry in it (three per task on its way to success).
-- Marking a run, the one query with the same condition, finds the run's rows by the unique key.
DROP INDEX IF EXISTS task_instance_unfinished;
