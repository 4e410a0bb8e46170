/**
 * The worker role: claims queued task instances, runs each in a runner process, streams its
 * log lines to the database while it runs, and records the outcome. A lease, renewed by a
 * heartbeat, proves the try is still this worker's; a completion without it changes nothing.
 * Outcomes are committed in batches that also move their runs on and claim the next tasks
 * (see completion.ts), so a free slot is refilled in the same transaction that freed it.
 */
import type { Db } from "../db/client.ts";
import { getDagVersion, getDagVersionSource } from "../db/dags.ts";
import { dagModule } from "./dag_files.ts";
import { type ClaimedTi, claimTasks, releaseTry, renewLeases } from "../db/task_instances.ts";
import type { SerializedTask } from "../sdk/serialize.ts";
import type { TaskError } from "../sdk/types.ts";
import type { TaskState } from "../scheduler/states.ts";
import { CompletionQueue } from "./completion.ts";
import { InputLoader } from "./task_inputs.ts";
import { LogBuffer } from "./log_buffer.ts";
import { checkResult, failure } from "./task_results.ts";
import type { WireContext } from "./protocol.ts";
import type { LogLine, RunnerPool, RunOutcome } from "./runner_pool.ts";
import { RunnerQueue } from "./runner_queue.ts";

export interface TaskWorkerOptions {
  db: Db;
  runners: RunnerPool;
  dagsFolder: string;
  workerId: string;
  hostname: string;
  queues: string[];
  concurrency: number;
  /**
   * Tasks claimed beyond `concurrency` (default none), so that a runner that finishes starts the
   * next task at once instead of waiting for the commit that records the last one and claims the
   * next (measured in a fan-out: a slot's runner sat idle 16 ms of every 21; 710 -> 867 tasks/s).
   * The price is priority: a task claimed ahead runs before a weightier one that became ready
   * after it was claimed, as with Celery's prefetch.
   */
  prefetch?: number;
  leaseMs: number;
  maxResultBytes: number;
  clock?: () => Date;
  onEvent?: (event: WorkerEvent) => void;
  /**
   * Called when the worker may have free slots that its last claim did not fill (a task ended
   * without being recorded, a commit failed, or a commit's claim took all it asked for).
   */
  onClaimable?: () => void;
  log?: (message: string) => void;
}

export type WorkerEvent =
  | { type: "started"; ti: ClaimedTi }
  | { type: "log"; ti: ClaimedTi; line: LogLine }
  | {
    type: "finished";
    ti: ClaimedTi;
    state: TaskState | null;
    error: TaskError | null;
    durationMs: number;
  };

interface Running {
  ti: ClaimedTi;
  abort: AbortController;
  done: Promise<void>;
  /** The task's runner is done and its outcome is being committed: it no longer takes a slot. */
  finishing: boolean;
}

export class TaskWorker {
  private running = new Map<number, Running>();
  /** Slots promised to claims in flight, so two claims never fill the same slot. */
  private reserved = 0;
  private accepting = true;
  /** Set by handBack: a task whose claim was still in flight is given back, not started. */
  private handingBack = false;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private readonly clock: () => Date;
  private readonly completions: CompletionQueue;
  private readonly inputs: InputLoader;
  /** At most `concurrency` runners busy; the tasks claimed ahead wait here. */
  private readonly runnerQueue: RunnerQueue;

  constructor(private readonly o: TaskWorkerOptions) {
    this.clock = o.clock ?? (() => new Date());
    this.inputs = new InputLoader(o.db.sql);
    this.runnerQueue = new RunnerQueue(o.runners, o.concurrency);
    this.completions = new CompletionQueue({
      ...o,
      clock: this.clock,
      reserveSlots: () => this.reserveSlots(),
      onClaimed: (reserved, claimed, committed) => {
        this.reserved -= reserved;
        this.startAll(claimed);
        // A claim that came back short found no more queued work, and whoever queues more
        // says so (NOTIFY): claiming again at once would be an empty query per commit (on
        // PGlite, where statements take turns, the costliest one of a chain's step).
        if (!committed || claimed.length === reserved) o.onClaimable?.();
      },
    });
  }

  get activeCount(): number {
    return this.running.size;
  }

  /** Claims as many tasks as there are free slots and starts them; returns how many. */
  async claim(): Promise<number> {
    return (await this.claimSome()).claimed;
  }

  /**
   * Claims as `claim` does, and says how many it asked for: fewer claimed than asked means the
   * queue had no more, so claiming again before someone queues more would find nothing.
   */
  async claimSome(): Promise<{ claimed: number; limit: number }> {
    const limit = this.reserveSlots();
    if (limit === 0) return { claimed: 0, limit };
    let claimed: ClaimedTi[] = [];
    try {
      claimed = await claimTasks(this.o.db.sql, {
        worker: this.o.workerId,
        hostname: this.o.hostname,
        queues: this.o.queues,
        limit,
        leaseMs: this.o.leaseMs,
        now: this.clock(),
      });
    } finally {
      this.reserved -= limit;
    }
    this.startAll(claimed);
    return { claimed: claimed.length, limit };
  }

  /** Takes the free slots for a claim (prefetch included): none while stopping. */
  private reserveSlots(): number {
    if (!this.accepting) return 0;
    let busy = this.reserved;
    for (const r of this.running.values()) if (!r.finishing) busy++;
    const capacity = this.o.concurrency + (this.o.prefetch ?? 0);
    const free = Math.max(0, capacity - busy);
    this.reserved += free;
    return free;
  }

  /** Claims nothing more, here or when recording outcomes (the first stage of a shutdown). */
  stopClaiming(): void {
    this.accepting = false;
  }

  private startAll(claimed: ClaimedTi[]): void {
    if (!this.handingBack) this.inputs.prefetch(claimed);
    for (const ti of claimed) this.start(ti);
  }

  private start(ti: ClaimedTi): void {
    const abort = new AbortController();
    const entry: Running = { ti, abort, done: Promise.resolve(), finishing: false };
    const work = this.handingBack ? this.giveBack(ti) : this.execute(entry, abort.signal);
    entry.done = work
      .catch((error) => console.error(`Task ${ti.dagId}.${ti.taskId} crashed the worker:`, error))
      .finally(() => this.running.delete(ti.id));
    this.running.set(ti.id, entry);
    this.startHeartbeat();
  }

  /** Resolves when any running task finishes (at once when none runs). */
  nextFinish(): Promise<void> {
    return Promise.race(
      [...this.running.values()].map((r) => r.done).concat(
        this.running.size ? [] : [Promise.resolve()],
      ),
    );
  }

  /** Resolves when every running task has finished. */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /**
   * Stops the running tasks and queues them again, so another worker retries them at once. A
   * task whose outcome is already being recorded is left to finish: its result is not lost.
   */
  async handBack(): Promise<void> {
    this.stopClaiming();
    this.handingBack = true;
    const entries = [...this.running.values()];
    for (const entry of entries.filter((e) => !e.finishing)) {
      await this.giveBack(entry.ti);
      entry.abort.abort();
    }
    await Promise.all(entries.map((e) => e.done));
  }

  private async giveBack(ti: ClaimedTi): Promise<void> {
    await releaseTry(this.o.db.sql, ti.id, this.o.workerId, ti.tryNumber, this.clock());
  }

  stop(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private startHeartbeat(): void {
    if (this.heartbeat !== undefined) return;
    this.heartbeat = setInterval(async () => {
      const ids = [...this.running.keys()];
      if (ids.length === 0) return;
      try {
        const lost = await renewLeases(
          this.o.db.sql,
          this.o.workerId,
          ids,
          this.o.leaseMs,
          this.clock(),
        );
        for (const id of lost) this.running.get(id)?.abort.abort();
      } catch (error) {
        console.error("Lease heartbeat failed:", (error as Error).message);
      }
    }, Math.max(100, Math.floor(this.o.leaseMs / 3)));
  }

  private async execute(entry: Running, signal: AbortSignal): Promise<void> {
    const { ti } = entry;
    this.o.onEvent?.({ type: "started", ti });
    const started = performance.now();
    const version = await getDagVersion(this.o.db.sql, ti.dagVersionId);
    const task = version.serialized.tasks.find((t) => t.taskId === ti.taskId);
    const logs = new LogBuffer(this.o.db, ti);
    const onLog = (line: LogLine) => {
      logs.push(line);
      this.o.onEvent?.({ type: "log", ti, line });
    };
    let outcome: RunOutcome;
    if (!task) {
      outcome = failure(
        `Task "${ti.taskId}" is not in version ${version.versionNumber} of the DAG`,
      );
    } else {
      const { input, upstream } = await this.inputs.load(ti, task, version.serialized);
      const context = wireContext(ti, upstream);
      const willRetry = ti.tryNumber <= ti.maxTries;
      // The run's own version of the DAG file, even if the file changed since it started.
      const { file, version: moduleVersion } = await dagModule(this.o.dagsFolder, {
        ...version,
        source: await getDagVersionSource(this.o.db.sql, version.id),
      });
      // Handed back or its lease lost while it waited for a runner: nothing to run.
      outcome = signal.aborted
        ? failure("The try was stopped by the worker")
        : await this.runnerQueue
          .run({
            request: {
              op: "task",
              file,
              version: moduleVersion,
              context,
              input,
              willRetry,
              maxResultBytes: this.o.maxResultBytes,
            },
            opts: {
              permissions: task.permissions,
              memoryMb: task.memoryMb,
              timeoutMs: task.timeoutMs,
              timeoutAfterStart: true,
              fresh: task.freshRunner,
              signal,
              onLog,
            },
          }, task.freshRunner ? null : `${ti.dagVersionId}:${ti.taskId}`);
      if (outcome.ok) outcome = checkResult(version.serialized, task, outcome.json);
      if (!outcome.ok && outcome.reason !== "error" && !signal.aborted) {
        // The runner was killed, so the task's own failure or retry callback has not run yet.
        await this.runCallback(file, moduleVersion, task, context, willRetry, outcome.error, onLog);
      }
    }
    if (signal.aborted) {
      await logs.flush();
      this.o.onClaimable?.();
      return; // lease lost or handed back: the try is no longer ours to finish
    }
    entry.finishing = true;
    const endedAt = this.clock();
    if (!outcome.ok) {
      const e = outcome.error;
      onLog({
        level: "error",
        ts: new Date(),
        line: e.stack?.includes(e.message)
          ? e.stack
          : `${e.name}: ${e.message}${e.stack ? `\n${e.stack}` : ""}`,
      });
    }
    await logs.flush();
    const state = await this.completions.finish({
      ti,
      outcome: {
        id: ti.id,
        tryNumber: ti.tryNumber,
        endedAt,
        ...(outcome.ok ? { resultJson: outcome.json } : { error: outcome.error }),
      },
    });
    this.o.onEvent?.({
      type: "finished",
      ti,
      state,
      error: outcome.ok ? null : outcome.error,
      durationMs: performance.now() - started,
    });
  }

  private async runCallback(
    file: string,
    version: string,
    task: SerializedTask,
    context: WireContext,
    willRetry: boolean,
    error: TaskError,
    onLog: (line: LogLine) => void,
  ): Promise<void> {
    const kind = willRetry ? "retry" : "failure";
    if (!task.callbacks[kind]) return;
    await this.runnerQueue.run({
      request: { op: "task_callback", file, version, context, kind, error },
      opts: { permissions: task.permissions, timeoutMs: 60_000, fresh: true, onLog },
    }, null);
  }
}

function wireContext(ti: ClaimedTi, upstream: Map<string, unknown>): WireContext {
  return {
    dagId: ti.dagId,
    runId: ti.runId,
    taskId: ti.taskId,
    mapIndex: ti.mapIndex,
    tryNumber: ti.tryNumber,
    maxTries: ti.maxTries,
    logicalDate: ti.logicalDate?.toISOString() ?? null,
    dataInterval: ti.dataIntervalStart && ti.dataIntervalEnd
      ? { start: ti.dataIntervalStart.toISOString(), end: ti.dataIntervalEnd.toISOString() }
      : null,
    conf: ti.conf,
    upstream: Object.fromEntries(upstream),
  };
}
