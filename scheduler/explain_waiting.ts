/**
 * Why a task instance is not running yet, in words, from the facts the scheduler decides on:
 * the run's state, the trigger rule and the upstream states, the pool's free slots and the
 * DAG's limits. It mirrors the checks of `start_runs.ts` and `queue_tasks.ts` without taking
 * their locks, so it describes the moment it was asked and can be a pass behind.
 */
import type { RunState, TaskState } from "./states.ts";
import { isFinished } from "./states.ts";

export interface WaitingFacts {
  state: TaskState | null;
  tryNumber: number;
  nextRetryAt: Date | null;
  pool: string;
  poolSlots: number;
  queue: string;
  runState: RunState;
  triggerRule: string;
  upstream: { taskId: string; mapIndex: number; state: TaskState | null }[];
  /** Size of the pool (-1 unlimited), or null when it does not exist. */
  poolSize: number | null;
  poolUsed: number;
  dagPaused: boolean;
  dagActiveTasks: number;
  maxActiveTasks: number;
  dagRunningRuns: number;
  maxActiveRuns: number;
  now: Date;
}

/** Reasons, most important first; empty when the instance is running or finished. */
export function explainWaiting(f: WaitingFacts): string[] {
  if (f.state === "running" || isFinished(f.state)) return [];
  const reasons: string[] = [];
  if (f.dagPaused) reasons.push("The DAG is paused: nothing of it runs until it is unpaused.");
  if (f.runState === "queued") {
    reasons.push(
      f.dagRunningRuns >= f.maxActiveRuns
        ? `The run is queued: the DAG already has ${f.dagRunningRuns} running run(s), its maxActiveRuns is ${f.maxActiveRuns}.`
        : "The run is queued: the scheduler starts it on its next pass.",
    );
    return reasons;
  }
  switch (f.state) {
    case null: {
      const pending = f.upstream.filter((u) => !isFinished(u.state));
      if (pending.length) {
        const names = pending.slice(0, 10).map((u) =>
          `${u.taskId}${u.mapIndex >= 0 ? `[${u.mapIndex}]` : ""} (${u.state ?? "not started"})`
        );
        const more = pending.length > 10 ? ` and ${pending.length - 10} more` : "";
        reasons.push(
          `Waiting for upstream tasks (trigger rule ${f.triggerRule}): ${names.join(", ")}${more}.`,
        );
      } else {
        reasons.push(
          `Upstream tasks are done; the scheduler evaluates the trigger rule ${f.triggerRule} on its next pass.`,
        );
      }
      break;
    }
    case "scheduled": {
      if (f.poolSize === null) {
        reasons.push(`Pool "${f.pool}" does not exist: create it or change the task's pool.`);
      } else if (f.poolSize >= 0 && f.poolSize - f.poolUsed < f.poolSlots) {
        reasons.push(
          `Pool "${f.pool}" is full: ${f.poolUsed} of ${f.poolSize} slots in use, this task needs ${f.poolSlots}.`,
        );
      }
      if (f.dagActiveTasks >= f.maxActiveTasks) {
        reasons.push(
          `The DAG has ${f.dagActiveTasks} queued or running tasks, its maxActiveTasks is ${f.maxActiveTasks}.`,
        );
      }
      if (reasons.length === 0) {
        reasons.push("Scheduled: the scheduler queues it on its next pass.");
      }
      break;
    }
    case "queued":
      reasons.push(`Queued: waiting for a worker that serves the "${f.queue}" queue.`);
      break;
    case "up_for_retry":
      reasons.push(
        f.nextRetryAt && f.nextRetryAt > f.now
          ? `Try ${f.tryNumber} failed; the next try starts at ${f.nextRetryAt.toISOString()}.`
          : `Try ${f.tryNumber} failed; the next try is due now.`,
      );
      break;
    case "up_for_reschedule":
      reasons.push("Waiting to be rescheduled.");
      break;
  }
  return reasons;
}
