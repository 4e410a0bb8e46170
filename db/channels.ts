/** NOTIFY channels: how workers and schedulers wake each other (polling is the fallback). */

/** A run may make progress: wakes schedulers. */
export const RUN_CHANGED_CHANNEL = "gust_run_changed";

/** Tasks were queued: wakes workers. */
export const TASKS_QUEUED_CHANNEL = "gust_tasks_queued";
