/**
 * What this worker process has done since it started, for `/metrics`: tries started and how
 * they ended, counted from the worker's own events. Counters only grow; Prometheus' rate()
 * turns them into tasks per second.
 */
import type { WorkerEvent } from "./task_worker.ts";

/** How a try ended: its recorded state, or `lost` when the worker no longer held its lease. */
export type TryEnd = "success" | "failed" | "up_for_retry" | "lost";

export class WorkerStats {
  started = 0;
  readonly ended = new Map<TryEnd, number>([
    ["success", 0],
    ["failed", 0],
    ["up_for_retry", 0],
    ["lost", 0],
  ]);
  /** Seconds from claim to recorded outcome, summed over ended tries. */
  seconds = 0;

  record(event: WorkerEvent): void {
    if (event.type === "started") this.started++;
    if (event.type !== "finished") return;
    const end: TryEnd = event.state === null
      ? "lost"
      : event.state === "success" || event.state === "up_for_retry"
      ? event.state
      : "failed";
    this.ended.set(end, this.ended.get(end)! + 1);
    this.seconds += event.durationMs / 1000;
  }
}
