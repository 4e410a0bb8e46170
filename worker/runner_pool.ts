/**
 * Supervises runner processes. A runner is a `deno run` process started with a task's
 * permission flags, a cleared environment and a heap cap; it serves one request at a time.
 * Warm runners are kept per (permissions, memory) and reused by any DAG, because starting one
 * costs about 100 ms while a request to a warm one costs well under a millisecond; each DAG
 * version is imported under a URL of its own (`?v=<hash>`), so versions never mix in a runner.
 * Keyed by DAG version instead, a worker serving more DAGs than it keeps warm runners started a
 * process for almost every task (2.5 tasks/s for 100 DAGs, 74 once shared: BENCHMARKS.md F2). A
 * runner that overruns a timeout is killed with SIGKILL: in-process `Worker.terminate()` does
 * not stop a busy loop (measured, see FACTS.md), a process kill does.
 */
import type { Permissions, TaskError } from "../sdk/types.ts";
import { permissionsKey, runnerEnv, runnerFlags } from "./permissions.ts";
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

class Runner {
  readonly process: Deno.ChildProcess;
  readonly prefix = `\u0001gust:${crypto.randomUUID()}:`;
  private pending: {
    id: number;
    resolve: (outcome: RunOutcome) => void;
    onLog?: (line: LogLine) => void;
    onStarted?: () => void;
  } | null = null;
  private stderrTail: string[] = [];
  exited = false;
  lastUsed = Date.now();
  /** The DAG modules it has imported: each stays in its memory for the runner's life. */
  readonly modules = new Set<string>();

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
      this.pending?.onLog?.({ level: "error", ts: new Date(), line });
    });
    const writer = this.process.stdin.getWriter();
    this.write = (text) => writer.write(new TextEncoder().encode(text)).catch(() => {});
    this.write(`${this.prefix}\n`);
    this.process.status.then(async (status) => {
      this.exited = true;
      if (!this.pending) return;
      // The exit can be seen before the last lines are read: they say why it died.
      await Promise.race([
        Promise.all([stdoutDone, stderrDone]),
        new Promise((r) => setTimeout(r, 1000)),
      ]);
      if (!this.pending) return;
      const tail = this.stderrTail.join("\n");
      // V8 aborts with SIGTRAP (exit 133) when a heap limit is reached.
      const oom = /out of memory|heap limit/i.test(tail) || status.code === 133 ||
        status.signal === "SIGTRAP";
      const message = oom
        ? `Runner ran out of memory (heap limit ${this.memoryMb} MiB)`
        : `Runner exited with code ${status.code}${status.signal ? ` (${status.signal})` : ""}`;
      this.settle({
        ok: false,
        reason: "crash",
        error: { name: "RunnerCrash", message, stack: tail },
      });
    });
  }

  memoryMb = 0;
  private write: (text: string) => Promise<void>;

  run(
    request: Request,
    onLog?: (line: LogLine) => void,
    onStarted?: () => void,
  ): Promise<RunOutcome> {
    const id = nextRequestId++;
    return new Promise((resolve) => {
      this.pending = { id, resolve, onLog, onStarted };
      this.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  settle(outcome: RunOutcome): void {
    const pending = this.pending;
    this.pending = null;
    pending?.resolve(outcome);
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

  private onStdout(line: string): void {
    if (!line.startsWith(this.prefix)) {
      this.pending?.onLog?.({ level: "info", ts: new Date(), line });
      return;
    }
    const message = JSON.parse(line.slice(this.prefix.length)) as RunnerMessage;
    if (!this.pending || message.id !== this.pending.id) return;
    if (message.type === "started") {
      this.pending.onStarted?.();
    } else if (message.type === "log") {
      this.pending.onLog?.({ level: message.level, ts: new Date(message.ts), line: message.line });
    } else if (message.ok) {
      this.settle({ ok: true, json: message.json });
    } else {
      this.settle({ ok: false, reason: "error", error: message.error });
    }
  }

  private async readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
    let buffer = "";
    for await (
      const chunk of stream.pipeThrough(
        new TextDecoderStream() as TransformStream<Uint8Array, string>,
      )
    ) {
      buffer += chunk;
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
    if (this.closed) throw new Error("Runner pool is closed");
    const memoryMb = opts.memoryMb ?? this.options.defaultMemoryMb;
    const key = `${opts.versionKey ?? ""}|${permissionsKey(opts.permissions)}|${memoryMb}`;
    const runner = (!opts.fresh && this.takeIdle(key)) ||
      this.spawn(key, opts.permissions, memoryMb);
    this.busy.add(runner);
    runner.modules.add(`${request.file}?${"version" in request ? request.version : ""}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let resolveTimeout: (outcome: RunOutcome) => void = () => {};
    const timeout = new Promise<RunOutcome>((resolve) => (resolveTimeout = resolve));
    const arm = (ms: number, message: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        runner.kill();
        resolveTimeout({ ok: false, reason: "timeout", error: { name: "TaskTimeout", message } });
      }, ms);
    };
    const taskTimeout = () =>
      opts.timeoutMs &&
      arm(opts.timeoutMs, `Task timed out after ${formatMs(opts.timeoutMs)} and was stopped`);
    if (opts.timeoutAfterStart) {
      const ms = opts.startTimeoutMs ?? 120_000;
      arm(ms, `The task's runner did not start it within ${formatMs(ms)} and was stopped`);
    } else taskTimeout();
    const onAbort = () => {
      runner.kill();
      runner.settle({
        ok: false,
        reason: "crash",
        error: { name: "Aborted", message: "The try was stopped by the worker" },
      });
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const work = runner.run(request as Request, opts.onLog, () => {
        if (opts.timeoutAfterStart) {
          clearTimeout(timer);
          taskTimeout();
        }
      });
      if (opts.signal?.aborted) onAbort();
      const outcome = await Promise.race([work, timeout]);
      if (outcome.ok === false && outcome.reason === "timeout") runner.settle(outcome);
      return outcome;
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
      clearTimeout(timer);
      this.busy.delete(runner);
      this.release(runner, opts.fresh ?? false);
    }
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
    const env = runnerEnv(permissions, this.options.env ?? {});
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
