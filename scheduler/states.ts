/** Airflow's task and run states. A task instance with state `null` is "none": not yet scheduled. */
export type TaskState =
  | "scheduled"
  | "queued"
  | "running"
  | "success"
  | "failed"
  | "up_for_retry"
  | "up_for_reschedule"
  | "upstream_failed"
  | "skipped"
  | "removed";

export type RunState = "queued" | "running" | "success" | "failed";

export const FINISHED_STATES: ReadonlySet<TaskState | null> = new Set<TaskState | null>([
  "success",
  "failed",
  "skipped",
  "upstream_failed",
  "removed",
]);

export const isFinished = (state: TaskState | null): boolean => FINISHED_STATES.has(state);
