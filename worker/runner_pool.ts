/**
 * Supervises runner processes. A runner is a `deno run` process started with a task's
 * permission flags, a cleared environment and a heap cap; it serves one request at a time, in
 * the order they were sent (`runBatch` sends several in one write).
 * Warm runners are kept per (permissions, memory) and reused by any DAG, because starting one
 * costs about 100 ms while a request to a warm one costs well under a millisecond; each DAG
 * version is imported under a URL of its own (`?v=<hash>`), so versions never mix in a runner.
 * Keyed by DAG version instead, a worker serving more DAGs than it keeps warm runners started a
 * process for almost every task (2.5 tasks/s for 100 DAGs, 74 once shared: BENCHMARKS.md F2). A
 * runner that overruns a timeout is killed with SIGKILL: in-process `Worker.terminate()` does
 * not stop a busy loop (measured, see FACTS.md), a process kill does.
 */
import type { Permissions, TaskError } from "../sdk/types.ts";
import { moduleLoadingEnv, permissionsKey, runnerEnv, runnerFlags } from "./permissions.ts";
import type { LogLevel, RunnerMessage, RunnerRequest } from "./protocol.ts";

const RUNNER_MAIN = new URL("./runner_main.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

export interface LogLine {
  level: LogLevel;
  ts: Date;
  line: string;
}

export type RunOutcome =
  | { ok: true; json: string }
  | { ok: false; error: TaskError; reason: "error" | "timeout" | "crash" };

export interface RunOptions {
  permissions: Permissions;
  /** Keeps runners apart beyond permissions and memory (the DAG processor's lanes, say). */
  versionKey?: string;
  memoryMb?: number | null;
  timeoutMs?: number | null;
  /**
   * Count the timeout from the "started" message (the task's code is imported and about to
   * run), so starting a runner and importing the DAG file do not eat into a task's own time;
   * until then `startTimeoutMs` applies.
   */
  timeoutAfterStart?: boolean;
  startTimeoutMs?: number;
  /** Use a new runner and throw it away afterwards. */
  fresh?: boolean;
  /** Aborting kills the runner (a lost lease, a shutdown that hands the task back). */
  signal?: AbortSignal;
  onLog?: (line: LogLine) => void;
}

export interface RunnerPoolOptions {
  dagsFolder: string;
  defaultMemoryMb: number;
  /** The environment that declared variables are copied from. */
  env?: Record<string, string>;
  maxIdle?: number;
  idleTimeoutMs?: number;
}

type Request = Omit<RunnerRequest, "id">;
// deno-lint-ignore no-explicit-any
type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;

let nextRequestId = 1;

/** A runner that has imported this many DAG modules is retired, so its memory stays bounded. */
const MAX_MODULES_PER_RUNNER = 64;

/**
 * What `runBatch` answers for a request behind one that ended its runner (a timeout, a crash):
 * the runner never started it, so it can be sent again elsewhere.
 */
export const NOT_STARTED = Symbol("not started");
export type BatchOutcome = RunOutcome | typeof NOT_STARTED;

export interface BatchItem {
  request: DistributiveOmit<RunnerRequest, "id">;
  opts: RunOptions;
}

/** One request in a runner's queue; the first is the one the runner is running. */
interface Job {
  id: number;
  opts: RunOptions;
  /** The runner will say "started" (it imports the module first): the task timeout waits. */
  awaitStart: boolean;
  resolve: (outcome: BatchOutcome) => void;
  timer?: ReturnType<typeof setTimeout>;
  /** Answered already (aborted while it waited its turn): its runner's answer is ignored. */
  settled: boolean;
  /** How long the task's own function ran, as the runner measured it. */
  ms?: number;
}

const stopped = (): RunOutcome => ({
  ok: false,
  reason: "crash",
  error: { name: "Aborted", message: "The try was stopped by the worker" },
});

class Runner {
  readonly process: Deno.ChildProcess;
  readonly prefix = `\u0001gust:${crypto.randomUUID()}:`;
  /** Requests sent and not yet answered, in the order the runner serves them. */
  private queue: Job[] = [];
  private stderrTail: string[] = [];
  exited = false;
  lastUsed = Date.now();
  /** The DAG modules it has imported: each stays in its memory for the runner's life. */
  readonly modules = new Set<string>();
  memoryMb = 0;
  private write: (text: string) => Promise<void>;

  constructor(readonly key: string, args: string[], env: Record<string, string>) {
    this.process = new Deno.Command(Deno.execPath(), {
      args,
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdoutDone = this.readLines(this.process.stdout, (line) => this.onStdout(line));
    const stderrDone = this.readLines(this.process.stderr, (line) => {
      this.stderrTail = [...this.stderrTail.slice(-19), line];
      this.queue[0]?.opts.onLog?.({ level: "error", ts: new Date(), line });
    });
    const writer = this.process.stdin.getWriter();
    const encoder = new TextEncoder();
    this.write = (text) => writer.write(encoder.encode(text)).catch(() => {});
    this.write(`${this.prefix}\n`);
    this.process.status.then(async (status) => {
      this.exited = true;
      if (!this.queue.length) return;
      // The exit can be seen before the last lines are read: they say why it died.
      await Promise.race([
        Promise.all([stdoutDone, stderrDone]),
        new Promise((r) => setTimeout(r, 1000)),
      ]);
      if (!this.queue.length) return;
      const tail = this.stderrTail.join("\n");
      const message = crashMessage(status, tail, this.memoryMb);
      this.endAll({
        ok: false,
        reason: "crash",
        error: { name: "RunnerCrash", message, stack: tail },
      });
    });
  }

  /** Sends requests in one write; the runner serves them one after another. */
  send(requests: { request: Request; job: Job }[]): void {
    const wasIdle = this.queue.length === 0;
    this.queue.push(...requests.map((r) => r.job));
    this.write(requests.map((r) => `${JSON.stringify({ ...r.request, id: r.job.id })}\n`).join(""));
    if (wasIdle) this.begin();
  }

  /** Stops the request: the runner is killed if it is running it, else it is skipped. */
  abort(job: Job): void {
    if (job.settled) return;
    if (this.queue[0] === job) {
      this.kill();
      this.endAll(stopped());
    } else this.answer(job, stopped());
  }

  kill(): void {
    if (this.exited) return;
    this.exited = true; // never reused, even before the exit is observed
    try {
      this.process.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  /** Ends the running request with `outcome`; the ones behind it were never started. */
  private endAll(outcome: RunOutcome): void {
    const [current, ...rest] = this.queue;
    this.queue = [];
    if (current) this.answer(current, outcome);
    for (const job of rest) this.answer(job, NOT_STARTED);
  }

  private answer(job: Job, outcome: BatchOutcome): void {
    clearTimeout(job.timer);
    if (job.settled) return;
    job.settled = true;
    job.resolve(outcome);
  }

  /** The first request is now the runner's: start its clock, or skip it if it was aborted. */
  private begin(): void {
    const job = this.queue[0];
    if (!job) return;
    if (job.settled) {
      // Aborted while it waited: the runner starts it as soon as it answered the one before, so
      // it is stopped now (a quick task may have run by then; only quick tasks wait in a batch).
      this.kill();
      this.endAll(stopped());
      return;
    }
    if (job.awaitStart) {
      const ms = job.opts.startTimeoutMs ?? 120_000;
      this.arm(
        job,
        ms,
        `The task's runner did not start it within ${formatMs(ms)} and was stopped`,
      );
    } else this.armTaskTimeout(job);
  }

  private armTaskTimeout(job: Job): void {
    const ms = job.opts.timeoutMs;
    if (ms) this.arm(job, ms, `Task timed out after ${formatMs(ms)} and was stopped`);
  }

  private arm(job: Job, ms: number, message: string): void {
    clearTimeout(job.timer);
    job.timer = setTimeout(() => {
      this.kill();
      this.endAll({ ok: false, reason: "timeout", error: { name: "TaskTimeout", message } });
    }, ms);
  }

  private onStdout(line: string): void {
    const job = this.queue[0];
    if (!line.startsWith(this.prefix)) {
      job?.opts.onLog?.({ level: "info", ts: new Date(), line });
      return;
    }
    const message = JSON.parse(line.slice(this.prefix.length)) as RunnerMessage;
    if (!job || message.id !== job.id) return;
    if (message.type === "started") {
      if (job.awaitStart) this.armTaskTimeout(job);
      return;
    }
    if (message.type === "log") {
      if (!job.settled) {
        job.opts.onLog?.({ level: message.level, ts: new Date(message.ts), line: message.line });
      }
      return;
    }
    this.queue.shift();
    job.ms = message.ok ? message.ms : undefined;
    this.answer(
      job,
      message.ok
        ? { ok: true, json: message.json }
        : { ok: false, reason: "error", error: message.error },
    );
    this.begin();
  }

  /** Splits a stream into lines; decoding in place, as a TransformStream costs a hop per chunk. */
  private async readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const bytes of stream) {
      buffer += decoder.decode(bytes, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        onLine(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
      }
    }
    if (buffer) onLine(buffer);
  }
}

export class RunnerPool {
  private idle = new Map<string, Runner[]>();
  private busy = new Set<Runner>();
  private sweeper: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(private readonly options: RunnerPoolOptions) {
    this.sweeper = setInterval(() => this.sweep(), 5_000);
    Deno.unrefTimer(Number(this.sweeper));
  }

  async run(request: DistributiveOmit<RunnerRequest, "id">, opts: RunOptions): Promise<RunOutcome> {
    const [outcome] = this.runBatch([{ request, opts }]);
    return (await outcome.promise) as RunOutcome; // the first request of a batch always starts
  }

  /**
   * Sends requests to one runner in one write, which runs them in turn; they must share
   * permissions, memory and `versionKey` (the first's are used). Each is answered on its own, as
   * `run` answers, with its own timeout from its own start; a request behind one that killed the
   * runner answers NOT_STARTED. `ms` is how long each task's function ran, when it succeeded.
   */
  runBatch(items: BatchItem[]): { promise: Promise<BatchOutcome>; ms: () => number | undefined }[] {
    if (this.closed) throw new Error("Runner pool is closed");
    const first = items[0].opts;
    const memoryMb = first.memoryMb ?? this.options.defaultMemoryMb;
    const key = `${first.versionKey ?? ""}|${permissionsKey(first.permissions)}|${memoryMb}`;
    const fresh = first.fresh ?? false;
    const runner = (!fresh && this.takeIdle(key)) || this.spawn(key, first.permissions, memoryMb);
    this.busy.add(runner);
    const sent: { request: Request; job: Job }[] = [];
    const answers = items.map(({ request, opts }) => {
      const module = `${request.file}?${"version" in request ? request.version : ""}`;
      // A runner that has this version imported starts the task at once: its timeout starts now.
      const awaitStart = opts.timeoutAfterStart === true && !runner.modules.has(module);
      runner.modules.add(module);
      if (request.op === "task") request = { ...request, announceStart: awaitStart };
      let job!: Job;
      const promise = new Promise<BatchOutcome>((resolve) => {
        job = { id: nextRequestId++, opts, awaitStart, resolve, settled: false };
      });
      const onAbort = () => runner.abort(job);
      if (opts.signal?.aborted) {
        job.settled = true;
        job.resolve(stopped());
      } else {
        opts.signal?.addEventListener("abort", onAbort, { once: true });
        sent.push({ request: request as Request, job });
      }
      return {
        promise: promise.finally(() => opts.signal?.removeEventListener("abort", onAbort)),
        ms: () => job.ms,
      };
    });
    if (sent.length) runner.send(sent);
    Promise.all(answers.map((a) => a.promise)).then(() => {
      this.busy.delete(runner);
      this.release(runner, fresh);
    });
    return answers;
  }

  /** Kills every runner; running requests end as crashes. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const all = [...this.busy, ...[...this.idle.values()].flat()];
    this.idle.clear();
    for (const runner of all) runner.kill();
    await Promise.all(all.map((r) => r.process.status.catch(() => {})));
  }

  get size(): { idle: number; busy: number } {
    return {
      idle: [...this.idle.values()].reduce((n, l) => n + l.length, 0),
      busy: this.busy.size,
    };
  }

  private spawn(key: string, permissions: Permissions, memoryMb: number): Runner {
    const env = {
      ...moduleLoadingEnv(this.options.env ?? Deno.env.toObject()),
      ...runnerEnv(permissions, this.options.env ?? {}),
    };
    env.DENO_DIR = denoDir();
    env.NO_COLOR = "1";
    const args = [
      "run",
      "--quiet",
      "--no-prompt",
      "--no-lock",
      `--config=${CONFIG}`,
      ...runnerFlags(permissions, this.options.dagsFolder),
      `--v8-flags=--max-old-space-size=${memoryMb}`,
      RUNNER_MAIN,
    ];
    const runner = new Runner(key, args, env);
    runner.memoryMb = memoryMb;
    return runner;
  }

  private takeIdle(key: string): Runner | undefined {
    const list = this.idle.get(key);
    while (list?.length) {
      const runner = list.pop()!;
      if (!runner.exited) return runner;
    }
    return undefined;
  }

  private release(runner: Runner, fresh: boolean): void {
    if (fresh || runner.exited || this.closed || runner.modules.size >= MAX_MODULES_PER_RUNNER) {
      runner.kill();
      return;
    }
    runner.lastUsed = Date.now();
    const list = this.idle.get(runner.key) ?? [];
    list.push(runner);
    this.idle.set(runner.key, list);
    this.trimIdle();
  }

  /** Keeps at most `maxIdle` warm runners, dropping the least recently used. */
  private trimIdle(): void {
    const all = [...this.idle.values()].flat().sort((a, b) => a.lastUsed - b.lastUsed);
    const excess = all.length - (this.options.maxIdle ?? 8);
    for (const runner of all.slice(0, Math.max(0, excess))) this.drop(runner);
  }

  private sweep(): void {
    const cutoff = Date.now() - (this.options.idleTimeoutMs ?? 60_000);
    for (const runner of [...this.idle.values()].flat()) {
      if (runner.lastUsed < cutoff || runner.exited) this.drop(runner);
    }
  }

  private drop(runner: Runner): void {
    const list = this.idle.get(runner.key) ?? [];
    this.idle.set(runner.key, list.filter((r) => r !== runner));
    if (this.idle.get(runner.key)!.length === 0) this.idle.delete(runner.key);
    runner.kill();
  }
}

/**
 * Why a runner died, from its exit and the last lines of its stderr: out of memory, or the exit
 * code with Deno's own error line when it could not start (a module it failed to load, say).
 * The lines themselves go in the error's stack.
 */
export function crashMessage(status: Deno.CommandStatus, stderr: string, memoryMb: number): string {
  // V8 aborts with SIGTRAP (exit 133) when a heap limit is reached.
  if (
    /out of memory|heap limit/i.test(stderr) || status.code === 133 || status.signal === "SIGTRAP"
  ) {
    return `Runner ran out of memory (heap limit ${memoryMb} MiB)`;
  }
  const signal = status.signal ? ` (${status.signal})` : "";
  const line = stderr.split("\n").find((l) => l.startsWith("error: "));
  return `Runner exited with code ${status.code}${signal}${line ? `: ${line.slice(7)}` : ""}`;
}

let cachedDenoDir: string | null = null;

/**
 * Runners start with an empty environment, so they are told where Deno's cache is, as
 * `deno info` reports it for this process (DENO_DIR included).
 */
function denoDir(): string {
  if (cachedDenoDir) return cachedDenoDir;
  const out = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .outputSync();
  cachedDenoDir = JSON.parse(new TextDecoder().decode(out.stdout)).denoDir as string;
  return cachedDenoDir;
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`;
  return `${+(ms / 60_000).toFixed(1)} min`;
}
