/**
 * The worker role as a long-running service: claims tasks whenever the scheduler NOTIFYs that
 * some were queued or a slot frees up, polls as a fallback, and shuts down in two stages.
 */
import { Waker } from "../scheduler/service.ts";
import { TASKS_QUEUED_CHANNEL } from "../db/channels.ts";
import { RunnerPool } from "./runner_pool.ts";
import { TaskWorker, type TaskWorkerOptions } from "./task_worker.ts";
import { runDagCallbacks } from "./dag_callbacks.ts";
import { WorkerStats } from "./stats.ts";

/** How often a worker looks for DAG callbacks to run. */
const CALLBACK_POLL_MS = 1000;

export interface WorkerServiceOptions extends Omit<TaskWorkerOptions, "runners"> {
  runnerMemoryMb: number;
  env: Record<string, string>;
  pollIntervalMs?: number;
  log?: (message: string) => void;
}

export class WorkerService {
  readonly worker: TaskWorker;
  /** What it has run since it started, for /metrics. */
  readonly stats = new WorkerStats();
  private readonly runners: RunnerPool;
  private readonly waker = new Waker();
  private claiming = true;
  private loop: Promise<void> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private callbacks: Promise<void> | null = null;

  constructor(private readonly o: WorkerServiceOptions) {
    this.runners = new RunnerPool({
      dagsFolder: o.dagsFolder,
      defaultMemoryMb: o.runnerMemoryMb,
      env: o.env,
      maxIdle: Math.max(4, o.concurrency * 2),
    });
    this.worker = new TaskWorker({
      ...o,
      runners: this.runners,
      onEvent: (event) => {
        this.stats.record(event);
        o.onEvent?.(event);
      },
      onClaimable: () => this.waker.wake(),
    });
  }

  async start(): Promise<void> {
    this.unlisten = await this.o.db.listen(TASKS_QUEUED_CHANNEL, () => this.waker.wake());
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let callbacksChecked = 0;
    while (this.claiming) {
      // Claiming again at once only while claims come back full: an empty claim is a statement
      // per task on a quiet worker (on PGlite, one that the next trigger's statements wait for).
      let full = false;
      try {
        const { claimed, limit } = await this.worker.claimSome();
        full = limit > 0 && claimed === limit;
      } catch (error) {
        this.o.log?.(`Claiming tasks failed: ${(error as Error).message}`);
      }
      if (Date.now() - callbacksChecked >= CALLBACK_POLL_MS) {
        callbacksChecked = Date.now();
        this.callbacks ??= this.runCallbacks().finally(() => (this.callbacks = null));
      }
      if (this.claiming && !full) await this.waker.sleep(this.o.pollIntervalMs ?? 1000);
    }
  }

  /** DAG callbacks run beside the tasks, one at a time, in their own runners. */
  private async runCallbacks(): Promise<void> {
    try {
      await runDagCallbacks({
        db: this.o.db,
        runners: this.runners,
        dagsFolder: this.o.dagsFolder,
        workerId: this.o.workerId,
        clock: this.o.clock,
      });
    } catch (error) {
      this.o.log?.(`Running DAG callbacks failed: ${(error as Error).message}`);
    }
  }

  /** Tries it holds now, its slots, and its runner processes (warm and running a task). */
  get load(): { running: number; concurrency: number; runners: { idle: number; busy: number } } {
    return {
      running: this.worker.activeCount,
      concurrency: this.o.concurrency,
      runners: this.runners.size,
    };
  }

  /** Stage one: claim nothing more and let running tasks finish, for at most `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.claiming = false;
    this.worker.stopClaiming();
    this.waker.wake();
    await this.unlisten?.();
    await this.loop;
    await this.callbacks;
    const finished = await Promise.race([
      this.worker.drain().then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), graceMs)),
    ]);
    if (!finished) await this.handBack();
    this.worker.stop();
    await this.runners.close();
  }

  /** Stage two: stop the running tasks and queue them again for another worker. */
  async handBack(): Promise<void> {
    const n = this.worker.activeCount;
    if (n) this.o.log?.(`Handing back ${n} running task${n > 1 ? "s" : ""}`);
    await this.worker.handBack();
  }
}
