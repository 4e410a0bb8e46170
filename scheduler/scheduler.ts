/**
 * One scheduling pass: start queued runs, move the runs that changed forward, queue what is
 * ready. Each step is its own short transaction and safe to run from several schedulers.
 */
import type { Db } from "../db/client.ts";
import { queueTasks } from "./queue_tasks.ts";
import { type RunOutcome, scheduleRun } from "./schedule_run.ts";
import { runsToSchedule, startQueuedRuns } from "./start_runs.ts";

export interface TickResult {
  started: number;
  runs: RunOutcome[];
  queued: number;
}

export const TASKS_QUEUED_CHANNEL = "gust_tasks_queued";

export class Scheduler {
  constructor(private readonly db: Db, private readonly clock: () => Date = () => new Date()) {}

  async tick(): Promise<TickResult> {
    const started = await startQueuedRuns(this.db, this.clock());
    const runs: RunOutcome[] = [];
    for (const id of await runsToSchedule(this.db, this.clock())) {
      const outcome = await scheduleRun(this.db, id, this.clock());
      if (outcome) runs.push(outcome);
    }
    const queued = await queueTasks(this.db, this.clock());
    if (queued > 0) await this.db.notify(TASKS_QUEUED_CHANNEL, String(queued)).catch(() => {});
    return { started, runs, queued };
  }
}
