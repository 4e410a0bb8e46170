/**
 * One scheduling pass: start queued runs, move the runs that changed forward, queue what is
 * ready. Each step is its own short transaction and safe to run from several schedulers.
 */
import { TASKS_QUEUED_CHANNEL } from "../db/channels.ts";
import type { Db } from "../db/client.ts";
import { MANY_SCHEDULED, PlannerStatistics } from "../db/planner_statistics.ts";
import { runsWithChanges } from "../db/run_changes.ts";
import { queueTasks } from "./queue_tasks.ts";
import { type RunOutcome, scheduleRun } from "./schedule_run.ts";
import { hasQueuedRuns, startQueuedRuns } from "./start_runs.ts";

export interface TickResult {
  started: number;
  runs: RunOutcome[];
  queued: number;
  /** Runs with changes this pass left for later: locked by another evaluator, or paced. */
  postponed: number;
  /** True when a full batch of runs or tasks was handled: there is probably more to do. */
  more: boolean;
}

const RUNS_PER_PASS = 100;
const TASKS_PER_PASS = 1024;

/**
 * A wide run (thousands of mapped instances) costs a read of every instance per evaluation, and
 * while it runs every batch of finished tries records a change. Evaluating it at most this often
 * bounds that cost; only the run's own progress (its end, its downstream tasks) waits for it.
 * Between evaluations that change something, a wide run is first asked whether one could.
 */
const WIDE_RUN_TIS = 1000;
const WIDE_RUN_INTERVAL_MS = 250;

export class Scheduler {
  /** Wide runs: performance.now() before which one is not evaluated again, and its size. */
  private paced = new Map<number, { until: number; size: number }>();
  readonly statistics: PlannerStatistics;

  constructor(private readonly db: Db, private readonly clock: () => Date = () => new Date()) {
    this.statistics = new PlannerStatistics(db);
  }

  async tick(): Promise<TickResult> {
    const started = (await hasQueuedRuns(this.db, this.clock()))
      ? await startQueuedRuns(this.db, this.clock())
      : 0;
    const runs: RunOutcome[] = [];
    let postponed = 0;
    if (this.paced.size > RUNS_PER_PASS) this.forgetPacing();
    const ids = await runsWithChanges(this.db.sql, this.clock(), RUNS_PER_PASS);
    for (const id of ids) {
      const pacing = this.paced.get(id);
      if (pacing && pacing.until > performance.now()) {
        postponed++;
        continue;
      }
      const outcome = await scheduleRun(this.db, id, this.clock(), pacing?.size);
      if (!outcome) {
        postponed++; // another scheduler or a worker is evaluating it: its changes stay
        continue;
      }
      runs.push(outcome);
      if (outcome.scheduled >= MANY_SCHEDULED) this.statistics.refresh();
      if (outcome.size >= WIDE_RUN_TIS && !outcome.finished) {
        this.paced.set(id, { until: performance.now() + WIDE_RUN_INTERVAL_MS, size: outcome.size });
      } else this.paced.delete(id);
    }
    const queued = await queueTasks(this.db, this.clock(), TASKS_PER_PASS);
    if (queued > 0) await this.db.notify(TASKS_QUEUED_CHANNEL, String(queued)).catch(() => {});
    const more = ids.length === RUNS_PER_PASS || queued === TASKS_PER_PASS;
    return { started, runs, queued, postponed, more };
  }

  private forgetPacing(): void {
    const now = performance.now();
    for (const [id, { until }] of this.paced) if (until <= now) this.paced.delete(id);
  }
}
