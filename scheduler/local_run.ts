/**
 * Drives one run to its end inside this process, with a scheduler and a worker taking turns:
 * what `gust dags test` and the engine tests use. The service runs the same two pieces as
 * independent loops woken by LISTEN/NOTIFY instead.
 */
import type { Db } from "../db/client.ts";
import type { RunState } from "./states.ts";
import { Scheduler } from "./scheduler.ts";
import type { TaskWorker } from "../worker/task_worker.ts";

export interface LocalRunOptions {
  db: Db;
  worker: TaskWorker;
  dagRunId: number;
  clock: () => Date;
  /**
   * Called when nothing can happen until time passes (a retry delay). Tests move their clock
   * here; by default the loop sleeps until the next retry is due.
   */
  onIdle?: (nextRetryAt: Date | null) => Promise<void>;
  /** Called after every scheduling pass and every finished task (the CLI prints changes). */
  onStep?: () => Promise<void>;
}

export async function runToCompletion(o: LocalRunOptions): Promise<RunState> {
  const scheduler = new Scheduler(o.db, o.clock);
  while (true) {
    const tick = await scheduler.tick();
    await o.onStep?.();
    const [run] = await o.db.sql<{ state: RunState }>`
      SELECT state FROM dag_run WHERE id = ${o.dagRunId}`;
    if (run.state === "success" || run.state === "failed") {
      await o.worker.drain();
      return run.state;
    }
    const claimed = await o.worker.claim();
    if (o.worker.activeCount > 0) {
      await o.worker.nextFinish();
      await o.onStep?.();
      continue;
    }
    const idle = claimed === 0 && tick.queued === 0 && tick.started === 0 &&
      tick.runs.every((r) => r.changes === 0);
    if (idle && tick.postponed > 0) {
      await new Promise((r) => setTimeout(r, 10)); // a paced wide run: its turn comes soon
    } else if (idle) {
      const [next] = await o.db.sql<{ at: Date | null }>`
        SELECT min(next_retry_at) AS at FROM task_instance
        WHERE dag_run_id = ${o.dagRunId} AND state = 'up_for_retry'`;
      if (o.onIdle) await o.onIdle(next?.at ?? null);
      else {
        const wait = next?.at ? next.at.getTime() - o.clock().getTime() : 50;
        await new Promise((r) => setTimeout(r, Math.min(Math.max(wait, 5), 1000)));
      }
    }
  }
}
