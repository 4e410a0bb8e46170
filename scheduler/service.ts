/**
 * The scheduler role as a long-running service: re-reads the DAG folder (on file changes and
 * on an interval), creates scheduled runs, reaps lost workers' tries, and moves runs forward.
 * It wakes at once on a NOTIFY from a worker that finished a task, and polls as a fallback.
 */
import type { Db } from "../db/client.ts";
import { DagProcessor } from "./dag_processor.ts";
import { createScheduledRuns } from "./cron_runs.ts";
import { reapExpiredLeases } from "./reaper.ts";
import { sweepRunChanges } from "../db/run_changes.ts";
import { nextDagCheckAt } from "../db/scheduled_runs.ts";
import { Scheduler } from "./scheduler.ts";
import { LeaderElection, NotLeaderError } from "./leader.ts";
import { RUN_CHANGED_CHANNEL } from "../db/channels.ts";

export interface SchedulerServiceOptions {
  db: Db;
  dagsFolder: string;
  dagImportTimeoutMs: number;
  /** How often the folder is checked for changes (file events also wake it). */
  dagRefreshIntervalMs: number;
  /** How often every DAG file is imported again, changed or not (default 5 minutes). */
  dagReparseIntervalMs?: number;
  /** How often a DAG file whose import failed is imported again (default FAILED_DAG_RETRY_MS). */
  dagRetryIntervalMs?: number;
  pollIntervalMs?: number;
  clock?: () => Date;
  log?: (message: string) => void;
  /** Leader lease; a frozen or cut-off leader is replaced within about this long. */
  leaseMs?: number;
  /** The longest the leader waits between its duties (see LEADER_DUTY_INTERVAL_MS). */
  leaderIntervalMs?: number;
}

const POSTPONED_RETRY_MS = 50;
/**
 * The least time between two passes: pokes come with every batch of finished tries, and a burst
 * of them should make one pass, not many. After a pass that found nothing to do (a wide run that
 * is paced, a full pool), the gap is longer: measured in a 6,000-task fan-out, the scheduler made
 * 78 passes a second that way, most of them idle, costing Postgres more than the tasks did.
 */
const MIN_PASS_GAP_MS = 5;
const IDLE_PASS_GAP_MS = 50;
/**
 * How often a DAG file whose import failed is imported again, unchanged (Airflow imports every
 * file every 30 s): a registry that was out of reach, or a file the DAG reads at import that was
 * missing, is back within this long, not at the next full pass.
 */
const FAILED_DAG_RETRY_MS = 30_000;
/**
 * How often the leader reaps lost tries and creates the runs schedules call for, at the least:
 * it also wakes when the next scheduled run is due, so a run starts on its boundary rather than
 * up to an interval after it (a 1,000-DAG tick came 0.47 to 0.97 s after the minute).
 */
const LEADER_DUTY_INTERVAL_MS = 1000;

export class SchedulerService {
  private stopped = false;
  private readonly scheduling = new Waker();
  private readonly leading = new Waker();
  private readonly dagFiles = new Waker();
  private pending = false;
  private unlisten: (() => Promise<void>) | null = null;
  private watcher: Deno.FsWatcher | null = null;
  private loops: Promise<void>[] = [];
  private readonly clock: () => Date;
  private readonly dagProcessor: DagProcessor;
  /** Stops an import in flight at shutdown (a first parse can take a while). */
  private readonly stopping = new AbortController();
  private readonly firstPass = Promise.withResolvers<void>();
  /** The import error last logged per DAG file, with the source it came from. */
  private readonly importErrors = new Map<string, string>();
  readonly leader: LeaderElection;

  constructor(private readonly o: SchedulerServiceOptions) {
    this.clock = o.clock ?? (() => new Date());
    this.leader = new LeaderElection(o.db, {
      id: `${Deno.hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`,
      hostname: Deno.hostname(),
      leaseMs: o.leaseMs,
      log: o.log,
      onChange: (leading) => {
        if (!leading) return;
        this.poke();
        this.leading.wake();
      },
    });
    this.dagProcessor = new DagProcessor(o.db, o.dagsFolder, {
      timeoutMs: o.dagImportTimeoutMs,
      signal: this.stopping.signal,
    });
  }

  /**
   * Returns once the scheduler takes part in leader election and listens for changes. The
   * first parse of the DAG folder runs in the DAG loop, not here, so a web server in the same
   * process answers meanwhile (until it ends, the DAGs stored before are scheduled).
   */
  async start(): Promise<void> {
    await this.leader.start();
    this.unlisten = await this.o.db.listen(RUN_CHANGED_CHANNEL, () => this.poke());
    this.loops.push(this.schedulingLoop(), this.leaderLoop(), this.dagLoop());
  }

  /** Resolves when the first pass over the DAG folder has ended (stored, or failed and logged). */
  dagsLoaded(): Promise<void> {
    return this.firstPass.promise;
  }

  /** Asks for a scheduling pass now (a task finished, a run was triggered). */
  poke(): void {
    this.pending = true;
    this.scheduling.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.watcher?.close();
    this.scheduling.wake();
    this.leading.wake();
    this.dagFiles.wake();
    await this.unlisten?.();
    await Promise.all(this.loops);
    this.firstPass.resolve();
    await this.leader.stop();
  }

  private async schedulingLoop(): Promise<void> {
    const scheduler = new Scheduler(this.o.db, this.clock);
    let passStarted = -Infinity;
    let gap = MIN_PASS_GAP_MS;
    while (!this.stopped) {
      const since = performance.now() - passStarted;
      if (since < gap) await new Promise((r) => setTimeout(r, gap - since));
      passStarted = performance.now();
      this.pending = false;
      let sleepMs = this.o.pollIntervalMs ?? 1000;
      try {
        const tick = await scheduler.tick();
        const idle = tick.started === 0 && tick.queued === 0 &&
          tick.runs.every((r) => r.changes === 0);
        gap = idle ? IDLE_PASS_GAP_MS : MIN_PASS_GAP_MS;
        if (tick.more) this.pending = true;
        // Postponed runs (locked by a worker evaluating them, or wide and paced) come back soon.
        if (tick.postponed && !this.pending) sleepMs = POSTPONED_RETRY_MS;
      } catch (error) {
        this.o.log?.(`Scheduling pass failed: ${(error as Error).message}`);
      }
      if (!this.pending && !this.stopped) await this.scheduling.sleep(sleepMs);
    }
    await scheduler.statistics.settled(); // the database closes after the loops end
  }

  /**
   * The leader's duties on a timer of their own, so that a long scheduling pass (a thousand runs
   * in flight) does not hold back the minute's scheduled runs, nor they the pass.
   */
  private async leaderLoop(): Promise<void> {
    while (!this.stopped) {
      const interval = this.o.leaderIntervalMs ?? LEADER_DUTY_INTERVAL_MS;
      let sleepMs = interval;
      if (this.leader.isLeader()) {
        try {
          if (await this.leaderDuties()) this.poke(); // new runs to start, retries to schedule
          const now = this.clock();
          sleepMs = untilNextDue(await nextDagCheckAt(this.o.db.sql, now), now, interval);
        } catch (error) {
          this.o.log?.(`Leader duties failed: ${(error as Error).message}`);
        }
      }
      if (!this.stopped) await this.leading.sleep(sleepMs);
    }
  }

  /** Reaps lost workers' tries and creates scheduled runs; true when either changed anything. */
  private async leaderDuties(): Promise<boolean> {
    const fence = (tx: Parameters<LeaderElection["fence"]>[0]) => this.leader.fence(tx);
    try {
      const reaped = await this.o.db.begin(async (tx) => {
        await fence(tx);
        return await reapExpiredLeases(tx, this.clock());
      });
      await sweepRunChanges(this.o.db.sql);
      const created = await createScheduledRuns(this.o.db, this.clock(), fence);
      return reaped + created > 0;
    } catch (error) {
      if (!(error instanceof NotLeaderError)) throw error;
      return false;
    }
  }

  private async dagLoop(): Promise<void> {
    let changed = false;
    try {
      this.watcher = Deno.watchFs(this.o.dagsFolder, { recursive: true });
      (async () => {
        for await (const _ of this.watcher!) {
          changed = true;
          this.dagFiles.wake();
        }
      })().catch(() => {});
    } catch {
      // no file events here (some container filesystems): the interval below still applies
    }
    const reparseMs = this.o.dagReparseIntervalMs ?? 300_000;
    const retryMs = this.o.dagRetryIntervalMs ?? FAILED_DAG_RETRY_MS;
    let lastFull = -Infinity;
    let lastRetry = performance.now();
    while (!this.stopped) {
      // A look at the folder is cheap (a stat per file) and imports only what changed; every
      // `reparseMs` each file is imported again anyway, the backstop for what a look misses,
      // and every `retryMs` the files whose import failed.
      const full = performance.now() - lastFull >= reparseMs;
      if (full) lastFull = performance.now();
      const retryFailed = full || performance.now() - lastRetry >= retryMs;
      if (retryFailed) lastRetry = performance.now();
      changed = false;
      await this.processDags(full, retryFailed);
      this.firstPass.resolve();
      if (this.stopped) break; // a stop during the pass woke nobody
      // Events that came during the pass woke nobody either: look again at once.
      if (!changed) await this.dagFiles.sleep(Math.min(this.o.dagRefreshIntervalMs, retryMs));
      if (this.stopped) break;
      // Let a burst of file events (an editor's save, a git checkout) settle first.
      if (changed) await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async processDags(full: boolean, retryFailed: boolean): Promise<void> {
    try {
      const result = await this.dagProcessor.process(this.clock(), { full, retryFailed });
      const imported = new Set(result.imported);
      for (const f of result.files.filter((f) => imported.has(f.file))) {
        // Said again when the file or its error changed, not at every retry of the same failure.
        const message = f.error?.message.split("\n")[0];
        const seen = `${message}\n${f.source}`;
        if (message !== undefined && this.importErrors.get(f.file) !== seen) {
          this.o.log?.(`Import error in ${f.file}: ${message}`);
        }
        if (message === undefined) this.importErrors.delete(f.file);
        else this.importErrors.set(f.file, seen);
      }
      const present = new Set(result.files.map((f) => f.file));
      for (const file of this.importErrors.keys()) {
        if (!present.has(file)) this.importErrors.delete(file);
      }
      if (result.newVersions.length) {
        this.o.log?.(`New DAG versions: ${result.newVersions.join(", ")}`);
        this.poke();
      }
    } catch (error) {
      if (this.stopped) return;
      this.o.log?.(`Reading the DAG folder failed: ${(error as Error).message}`);
    }
  }
}

/** The leader's sleep: until the next scheduled run is due, at most the duty interval. */
export function untilNextDue(
  next: Date | null,
  now: Date,
  interval = LEADER_DUTY_INTERVAL_MS,
): number {
  const ms = next ? next.getTime() - now.getTime() : Infinity;
  return ms > 0 ? Math.min(interval, ms) : interval;
}

/**
 * A sleep that another part of the program can cut short. A wake while nobody sleeps is kept
 * for the next sleep, which then returns at once: a NOTIFY that arrives while the loop is busy
 * (claiming, say, from a snapshot taken before the notifier committed) is not lost.
 */
export class Waker {
  private resolve: (() => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending = false;

  sleep(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(() => this.wake(), ms);
    });
  }

  wake(): void {
    clearTimeout(this.timer);
    const resolve = this.resolve;
    this.resolve = null;
    if (resolve) resolve();
    else this.pending = true;
  }
}
