/**
 * Fresh planner statistics for task_instance after a burst of scheduled instances. Autovacuum
 * analyzes a table within a minute or so of a large change, but a fan-out's thousands of
 * instances are created and finished within that minute. Until then the planner still believes
 * the few `scheduled` rows it last counted, and picks a plan that reads and sorts all of them
 * to hand out one slot: measured on a 10,000-instance fan-out, 6.8 ms a statement with stale
 * statistics, 0.02 ms after ANALYZE, and the fan-out's slot hand-overs cost 2 s of database time.
 */
import type { Db } from "./client.ts";

/** Instances made scheduled by one evaluation that make statistics worth refreshing. */
export const MANY_SCHEDULED = 1000;

/** At most one ANALYZE at a time, and not more often than this. */
const MIN_INTERVAL_MS = 10_000;

export class PlannerStatistics {
  private running: Promise<void> | null = null;
  private last = -Infinity;

  constructor(private readonly db: Db) {}

  /**
   * Starts an ANALYZE of task_instance unless one runs or ran lately; the caller does not wait
   * for it (it reads a sample of the table: tens of milliseconds, more on a long history).
   */
  refresh(): void {
    if (this.running || performance.now() - this.last < MIN_INTERVAL_MS) return;
    this.last = performance.now();
    this.running = this.db.sql.exec("ANALYZE task_instance").catch((error) => {
      console.error("Refreshing task_instance statistics failed:", (error as Error).message);
    }).finally(() => this.running = null);
  }

  /** Resolves once no ANALYZE is running (for shutdown and tests). */
  async settled(): Promise<void> {
    await this.running;
  }
}
