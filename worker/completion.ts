/**
 * What a worker does when tries end, in one transaction per batch: record the outcomes, move
 * the runs they belong to forward (Airflow's "mini scheduler"), hand the pool slots they free to
 * the next tasks, and claim work for the worker's free slots. On a chain of tasks the next task
 * is then running a single commit after its upstream ended, with no scheduler hop and no NOTIFY
 * in between; the scheduler stays the fallback for everything the worker leaves to it.
 *
 * Batches form by themselves (group commit): the first outcome is committed at once, and the
 * ones that arrive while that commit is in flight go together in the next.
 */
import { type Db, isTransientDbError, type Sql } from "../db/client.ts";
import {
  type FinishedTry,
  finishTries,
  freedSlots,
  transferSlots,
  type TryOutcome,
} from "../db/completions.ts";
import { RUN_CHANGED_CHANNEL, TASKS_QUEUED_CHANNEL } from "../db/channels.ts";
import { getDagVersion } from "../db/dags.ts";
import { recordRunChanges } from "../db/run_changes.ts";
import { type ClaimedTi, claimTasks } from "../db/task_instances.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { evaluateRun, lockRun } from "../scheduler/schedule_run.ts";
import type { TaskState } from "../scheduler/states.ts";

/**
 * Runs the worker evaluates itself. Evaluating reads every task instance of the run, so a wide
 * run (mapped tasks can make thousands) is left to the scheduler, which paces it.
 */
const NARROW_RUN_TASKS = 500;

export interface Completion {
  ti: ClaimedTi;
  outcome: TryOutcome;
}

export interface CommitOptions {
  db: Db;
  workerId: string;
  hostname: string;
  queues: string[];
  leaseMs: number;
  clock: () => Date;
}

export interface CommitResult {
  /** The state written per task instance id; absent when the worker had lost the lease. */
  states: Map<number, TaskState>;
  claimed: ClaimedTi[];
}

/** Commits one batch; `claimLimit` is how many queued tasks the worker can take on now. */
export async function commitBatch(
  o: CommitOptions,
  batch: Completion[],
  claimLimit: number,
): Promise<CommitResult> {
  let wake = { scheduler: false, workers: false };
  const result = await o.db.begin(async (tx) => {
    const now = o.clock();
    const finished = await finishTries(tx, o.workerId, batch.map((c) => c.outcome), now);
    const runs = await moveRunsForward(tx, finished, batch, now);
    // Sent together; the claim runs after the hand-overs, so it can take what they queued.
    const [moved, claimed] = await Promise.all([
      Promise.all(freedSlots(finished).map((slots) => transferSlots(tx, slots, now))),
      claimLimit > 0
        ? claimTasks(tx, {
          worker: o.workerId,
          hostname: o.hostname,
          queues: o.queues,
          limit: claimLimit,
          leaseMs: o.leaseMs,
          now,
        })
        : Promise.resolve([]),
    ]);
    const transferred = moved.reduce((n, m) => n + m, 0);
    wake = {
      scheduler: runs.left.length > 0 || runs.scheduled > transferred,
      workers: transferred > claimed.length,
    };
    return { states: new Map(finished.map((f) => [f.id, f.state])), claimed };
  });
  // After the commit, so that whoever wakes sees the changes.
  if (wake.scheduler) await o.db.notify(RUN_CHANGED_CHANNEL, "").catch(() => {});
  if (wake.workers) await o.db.notify(TASKS_QUEUED_CHANNEL, "").catch(() => {});
  return result;
}

/**
 * Evaluates the narrow runs whose tries ended, when no other evaluator holds them; records a
 * change for the others, which the scheduler picks up.
 */
async function moveRunsForward(
  tx: Sql,
  finished: FinishedTry[],
  batch: Completion[],
  now: Date,
): Promise<{ left: number[]; scheduled: number }> {
  const versionOf = new Map(batch.map((c) => [c.ti.dagRunId, c.ti.dagVersionId]));
  const left: number[] = [];
  let scheduled = 0;
  for (const dagRunId of new Set(finished.map((f) => f.dagRunId))) {
    const { serialized } = await getDagVersion(tx, versionOf.get(dagRunId)!);
    const run = isNarrow(serialized) ? await lockRun(tx, dagRunId) : null;
    if (!run) {
      left.push(dagRunId);
      continue;
    }
    scheduled += (await evaluateRun(tx, dagRunId, run, now)).scheduled;
  }
  await recordRunChanges(tx, left);
  return { left, scheduled };
}

function isNarrow(dag: SerializedDag): boolean {
  return dag.tasks.length <= NARROW_RUN_TASKS && dag.tasks.every((t) => !t.expand);
}

interface Pending {
  completion: Completion;
  resolve: (state: TaskState | null) => void;
  reject: (error: unknown) => void;
}

export interface CompletionQueueOptions extends CommitOptions {
  /** Reserves the worker's free slots for a batch's claim; returns how many it may claim. */
  reserveSlots: () => number;
  /** Gives back the reservation, with the tasks claimed into it (none if the commit failed). */
  onClaimed: (reserved: number, claimed: ClaimedTi[], committed: boolean) => void;
  log?: (message: string) => void;
}

const MAX_BATCH = 256;
/** Waits before committing a batch again after a transient error (a restarting database). */
const RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000, 4000];

/**
 * Batches committed at once. With one, every try that ends during a commit waits for it and then
 * for its own; a second in flight overlaps their round trips (measured in a fan-out: 545 -> 710
 * tasks a second). The batches touch different rows, and what they might share (the slots they
 * hand over, the tasks they claim) they take with SKIP LOCKED, so they never wait for each other.
 */
const COMMITS_IN_FLIGHT = 2;

/** Group commit of finished tries; `finish` resolves with the state written (null: lease lost). */
export class CompletionQueue {
  private pending: Pending[] = [];
  private flushing = 0;

  constructor(private readonly o: CompletionQueueOptions) {}

  finish(completion: Completion): Promise<TaskState | null> {
    return new Promise((resolve, reject) => {
      this.pending.push({ completion, resolve, reject });
      if (this.flushing < COMMITS_IN_FLIGHT) this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing++;
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, MAX_BATCH);
        const outcomes = await this.commit(batch.map((p) => p.completion));
        for (const p of batch) {
          const outcome = outcomes.get(p.completion.ti.id);
          if (outcome instanceof Error) p.reject(outcome);
          else p.resolve(outcome ?? null);
        }
      }
    } finally {
      this.flushing--;
    }
  }

  /**
   * Commits a batch and answers, per task instance, the state written or the error that kept it
   * from being recorded. Transient errors (a restarting database) are retried; any other sends the
   * batch through one by one, so that an outcome the database refuses fails only its own try.
   */
  private async commit(batch: Completion[]): Promise<Map<number, TaskState | Error>> {
    for (let attempt = 0;; attempt++) {
      try {
        return await this.commitOnce(batch);
      } catch (error) {
        const transient = isTransientDbError(error);
        if (transient && attempt < RETRY_DELAYS_MS.length) {
          const message = (error as Error).message;
          this.o.log?.(`Recording ${batch.length} finished tries failed (${message}); retrying`);
          await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
          continue;
        }
        if (transient) return new Map(batch.map((c) => [c.ti.id, error as Error]));
        if (batch.length === 1) return await this.unstorable(batch[0], error as Error);
        const outcomes = new Map<number, TaskState | Error>();
        for (const one of batch) {
          for (const [id, outcome] of await this.commit([one])) outcomes.set(id, outcome);
        }
        return outcomes;
      }
    }
  }

  private async commitOnce(batch: Completion[]): Promise<Map<number, TaskState>> {
    const reserved = this.o.reserveSlots();
    let claimed: ClaimedTi[] = [];
    let committed = false;
    try {
      const result = await commitBatch(this.o, batch, reserved);
      claimed = result.claimed;
      committed = true;
      return result.states;
    } finally {
      this.o.onClaimed(reserved, claimed, committed);
    }
  }

  /**
   * The database refused this outcome itself (a result jsonb cannot hold, such as a string with
   * \u0000): fail the try with the reason, rather than leave it to expire as a lost worker's.
   */
  private async unstorable(c: Completion, error: Error): Promise<Map<number, TaskState | Error>> {
    if (c.outcome.resultJson === undefined) return new Map([[c.ti.id, error]]);
    const message = `The task's result could not be stored: ${error.message}`;
    try {
      return await this.commitOnce([{
        ti: c.ti,
        outcome: {
          id: c.outcome.id,
          tryNumber: c.outcome.tryNumber,
          endedAt: c.outcome.endedAt,
          error: { name: "ResultNotStored", message },
        },
      }]);
    } catch (second) {
      return new Map([[c.ti.id, second as Error]]);
    }
  }
}
