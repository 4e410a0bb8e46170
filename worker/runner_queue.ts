/**
 * A worker's tasks on their way to runners: at most `concurrency` runners busy at once, the rest
 * waiting in claim order. Instances of a quick task (mapped instances, mostly) go to one runner
 * several at a time, in one write, which runs them in turn: a task that runs for microseconds
 * costs a runner a few microseconds of work and a process wake-up on each side, and a wake-up is
 * over 100 µs of CPU on these machines (measured: a runner spends 10 µs per no-op task when
 * requests stream in, 150 to 230 µs when they come one at a time). A task counts as quick once
 * its own function has run under QUICK_MS lately, as measured in the runner; a turn takes as many
 * as fit in TURN_BUDGET_MS of that time (so tasks of a millisecond still spread over runners, and
 * a slow one never waits behind another), at least an even share of the free runners' work.
 * "Lately" is the median of the last few runs: one run that a busy machine's CPU scheduler paused
 * for milliseconds does not make a no-op look slow.
 */
import { toTaskError } from "./protocol.ts";
import { type BatchItem, NOT_STARTED, type RunnerPool, type RunOutcome } from "./runner_pool.ts";

/** A task's function that ran under this (milliseconds, lately) may share a runner's turn. */
const QUICK_MS = 2;
/** At most this many requests in one runner's turn. */
const MAX_BATCH = 32;
/** A turn takes the quick requests whose expected function time adds up to about this. */
const TURN_BUDGET_MS = 2;
/** A task's typical duration is the median of this many of its latest runs. */
const SAMPLES = 5;

interface Waiting {
  item: BatchItem;
  /** Requests with the same key may share a runner (same DAG version and task); null: never. */
  batchKey: string | null;
  resolve: (outcome: RunOutcome) => void;
}

export class RunnerQueue {
  private waiting: Waiting[] = [];
  /** Requests that a runner's end kept from starting: they go first, each alone. */
  private retry: Waiting[] = [];
  private busy = 0;
  private pumpQueued = false;
  /** Each batch key's latest task durations, in milliseconds, oldest first. */
  private durations = new Map<string, number[]>();

  constructor(private readonly pool: RunnerPool, private readonly concurrency: number) {}

  /** Runs the request in its turn; `batchKey` lets it share a runner with its kind when quick. */
  run(item: BatchItem, batchKey: string | null): Promise<RunOutcome> {
    return new Promise((resolve) => {
      this.waiting.push({ item, batchKey, resolve });
      // After the microtasks already queued: the tasks of one claim arrive together (each
      // through the same cached lookups), and a turn can take them all instead of the first.
      if (this.pumpQueued) return;
      this.pumpQueued = true;
      queueMicrotask(() => {
        this.pumpQueued = false;
        this.pump();
      });
    });
  }

  private pump(): void {
    while (this.busy < this.concurrency && (this.retry.length || this.waiting.length)) {
      const head = this.retry.shift() ?? this.waiting.shift()!;
      const batch = [head];
      if (head.batchKey && this.isQuick(head.batchKey)) {
        const free = this.concurrency - this.busy;
        const alike = this.waiting.filter((w) => w.batchKey === head.batchKey).length + 1;
        const expectedMs = Math.max(this.typicalMs(head.batchKey), 0.02);
        const fit = Math.floor(TURN_BUDGET_MS / expectedMs);
        const size = Math.min(MAX_BATCH, alike, Math.max(Math.ceil(alike / free), fit));
        for (let i = 0; i < this.waiting.length && batch.length < size;) {
          if (this.waiting[i].batchKey === head.batchKey) batch.push(...this.waiting.splice(i, 1));
          else i++;
        }
      }
      this.send(batch);
    }
  }

  private send(batch: Waiting[]): void {
    this.busy++;
    let answered: Promise<unknown>[];
    try {
      const answers = this.pool.runBatch(batch.map((w) => w.item));
      answered = answers.map(({ promise, ms }, i) =>
        promise.then((outcome) => this.answer(batch[i], outcome, ms()))
      );
    } catch (error) {
      // The pool is closed: every request ends as a crash of its runner.
      const crash: RunOutcome = { ok: false, reason: "crash", error: toTaskError(error) };
      answered = batch.map((w) => Promise.resolve(w.resolve(crash)));
    }
    Promise.all(answered).then(() => {
      this.busy--;
      this.pump();
    });
  }

  private answer(w: Waiting, outcome: RunOutcome | typeof NOT_STARTED, ms?: number): void {
    if (outcome === NOT_STARTED) {
      // Behind a request that ended its runner: sent again, first in line, and alone.
      this.retry.push({ ...w, batchKey: null });
      return;
    }
    if (w.batchKey) this.record(w.batchKey, outcome.ok ? ms : undefined);
    w.resolve(outcome);
  }

  /** A failure or a timeout counts as slow: such a task is sent alone until it runs quickly. */
  private record(key: string, ms: number | undefined): void {
    const samples = ms === undefined ? [] : this.durations.get(key) ?? [];
    samples.push(ms ?? Number.POSITIVE_INFINITY);
    if (samples.length > SAMPLES) samples.shift();
    this.durations.delete(key); // re-inserted last: the map forgets the least recently run first
    this.durations.set(key, samples);
    if (this.durations.size > 1000) this.durations.delete(this.durations.keys().next().value!);
  }

  /**
   * The median of the latest runs, the lower one of an even count: after a failure (the one
   * sample, infinite) a single quick run makes the task quick again. Unknown: slow.
   */
  private typicalMs(key: string): number {
    const samples = this.durations.get(key);
    if (!samples) return Number.POSITIVE_INFINITY;
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  }

  private isQuick(key: string): boolean {
    return this.typicalMs(key) < QUICK_MS;
  }
}
