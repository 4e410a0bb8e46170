/**
 * The program a runner process runs. It starts with only the permissions of the tasks it will
 * serve, serves the requests it reads from stdin one at a time in the order they came (a worker
 * may send several in one write), imports DAG files on demand (cached, so a warm runner answers in
 * well under a millisecond) and answers on stdout.
 */
import { pathToFileURL } from "node:url";
import { type Dag, isDag } from "../sdk/mod.ts";
import type { TaskDef } from "../sdk/dag.ts";
import { serializeDag } from "../sdk/serialize.ts";
import type { TaskCallbackContext, TaskContext, TaskError } from "../sdk/types.ts";
import {
  type LogLevel,
  type RunnerMessage,
  type RunnerRequest,
  toTaskError,
  type WireContext,
} from "./protocol.ts";

const encoder = new TextEncoder();
let prefix = "";
let currentId = 0;
/** How long the last task's own function ran: the worker batches only quick tasks. */
let taskMs: number | undefined;

function send(message: RunnerMessage): void {
  Deno.stdout.writeSync(encoder.encode(`${prefix}${JSON.stringify(message)}\n`));
}

function log(level: LogLevel, args: unknown[]): void {
  const line = args.map((a) => (typeof a === "string" ? a : Deno.inspect(a, { depth: 6 }))).join(
    " ",
  );
  send({ type: "log", id: currentId, level, ts: new Date().toISOString(), line });
}

const logger = {
  debug: (...args: unknown[]) => log("debug", args),
  info: (...args: unknown[]) => log("info", args),
  warn: (...args: unknown[]) => log("warn", args),
  error: (...args: unknown[]) => log("error", args),
};
console.log = logger.info;
console.info = logger.info;
console.debug = logger.debug;
console.warn = logger.warn;
console.error = logger.error;

/**
 * The DAGs a module defines, by file and version. Kept, since a module is imported once per
 * runner anyway and a warm runner's time per task is mostly what it does around the task (the
 * file's URL and the module lookup were a tenth of it).
 */
const loaded = new Map<string, Dag[]>();

/** A version's own URL, so a runner serving several versions of one file keeps them apart. */
async function dagsIn(file: string, version?: string): Promise<Dag[]> {
  const key = `${file}?${version ?? ""}`;
  const known = loaded.get(key);
  if (known) return known;
  const url = pathToFileURL(file).href + (version ? `?v=${encodeURIComponent(version)}` : "");
  const dags = Object.values(await import(url)).filter(isDag) as Dag[];
  // A parse request must see the file as it is now; tasks name a version, which never changes.
  if (version) loaded.set(key, dags);
  return dags;
}

async function findDag(file: string, dagId: string, version?: string): Promise<Dag> {
  const dag = (await dagsIn(file, version)).find((d) => d.id === dagId);
  if (!dag) throw new Error(`DAG "${dagId}" is no longer defined in ${file}`);
  return dag;
}

async function runContext(
  dag: Dag,
  wire: Omit<WireContext, "taskId" | "mapIndex" | "tryNumber" | "maxTries" | "upstream">,
) {
  const parsed = dag.paramsSchema ? await dag.paramsSchema.safeParseAsync(wire.conf) : null;
  if (parsed && !parsed.success) {
    throw new Error(`Invalid params for DAG "${dag.id}": ${parsed.error.message}`);
  }
  return {
    dagId: wire.dagId,
    runId: wire.runId,
    logicalDate: wire.logicalDate ? new Date(wire.logicalDate) : null,
    dataInterval: wire.dataInterval
      ? { start: new Date(wire.dataInterval.start), end: new Date(wire.dataInterval.end) }
      : null,
    params: (parsed ? parsed.data : wire.conf) as Record<string, unknown>,
    log: logger,
  };
}

async function taskContext(dag: Dag, wire: WireContext): Promise<TaskContext> {
  return {
    ...(await runContext(dag, wire)),
    taskId: wire.taskId,
    mapIndex: wire.mapIndex,
    tryNumber: wire.tryNumber,
    maxTries: wire.maxTries,
    upstream: wire.upstream,
  };
}

/**
 * A mapped instance's elements, one per expand key, for DAG versions stored before they recorded
 * the keys' order (the worker resolves the elements itself for newer ones): the cross product of
 * the lists, the last key varying fastest, as in Airflow, in the order of the DAG's own
 * definition (jsonb sorts object keys). Mapping sources are direct upstreams, so their results
 * are in `upstream`.
 */
function mappedInput(
  task: TaskDef,
  mapIndex: number,
  upstream: Record<string, unknown>,
  given: Record<string, unknown>,
): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  if (!task.expand || mapIndex < 0) return input;
  // The worker sends the elements itself when the stored DAG records the keys' order.
  if (Object.keys(task.expand).every((key) => key in given)) return input;
  const lists = Object.entries(task.expand).map(([name, source]) =>
    [name, "values" in source ? source.values : (upstream[source.task] as unknown[]) ?? []] as const
  );
  let rest = mapIndex;
  for (let i = lists.length - 1; i >= 0; i--) {
    const [name, list] = lists[i];
    input[name] = list[rest % list.length];
    rest = Math.floor(rest / list.length);
  }
  return input;
}

function serializeResult(value: unknown, maxBytes: number): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value === undefined ? null : value);
  } catch (error) {
    throw new Error(`Result is not JSON-serializable: ${(error as Error).message}`);
  }
  if (json === undefined) throw new Error(`Result is not JSON-serializable: ${typeof value}`);
  const size = encoder.encode(json).length;
  if (size > maxBytes) {
    throw new Error(
      `Result is ${formatBytes(size)} (${size} bytes), over the ${
        formatBytes(maxBytes)
      } limit (GUST_MAX_RESULT_BYTES)`,
    );
  }
  return json;
}

/** A size as people read it: always MiB printed "0.00 MiB" for a limit of a few KiB. */
function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** Where this module and the rest of the runner's machinery live. */
const RUNNER_DIR = new URL(".", import.meta.url).href;

/**
 * A task's error as the worker records it, its stack without the runner's own frames and
 * Deno's internal ones: they are the same for every task and tell its author nothing.
 */
function taskError(error: unknown): TaskError {
  const e = toTaskError(error);
  if (!e.stack) return e;
  const lines = e.stack.split("\n").filter((line) =>
    !/^\s+at /.test(line) || !(line.includes(RUNNER_DIR) || /[( ]ext:/.test(line))
  );
  return { ...e, stack: lines.join("\n") };
}

async function runCallback(fn: unknown, ctx: unknown, what: string): Promise<void> {
  if (typeof fn !== "function") return;
  try {
    await fn(ctx);
  } catch (error) {
    logger.error(`${what} callback failed:`, taskError(error).stack ?? String(error));
  }
}

async function handle(request: RunnerRequest): Promise<string> {
  switch (request.op) {
    case "parse": {
      const dags = await dagsIn(request.file);
      return JSON.stringify(dags.map(serializeDag));
    }
    case "task": {
      const dag = await findDag(request.file, request.context.dagId, request.version);
      const task = dag.tasks.get(request.context.taskId);
      if (!task) {
        throw new Error(`Task "${request.context.taskId}" is no longer in DAG "${dag.id}"`);
      }
      const ctx = await taskContext(dag, request.context);
      if (request.announceStart) send({ type: "started", id: request.id });
      let json: string;
      const started = performance.now();
      try {
        const input = {
          ...request.input,
          ...mappedInput(task, ctx.mapIndex, ctx.upstream, request.input),
        };
        json = serializeResult(await task.fn(ctx, input), request.maxResultBytes);
        taskMs = performance.now() - started;
      } catch (error) {
        const callback = request.willRetry ? task.options.onRetry : task.options.onFailure;
        const cbContext: TaskCallbackContext = { ...ctx, error: taskError(error) };
        await runCallback(callback, cbContext, request.willRetry ? "onRetry" : "onFailure");
        throw error;
      }
      await runCallback(task.options.onSuccess, { ...ctx, error: null }, "onSuccess");
      return json;
    }
    case "task_callback": {
      const dag = await findDag(request.file, request.context.dagId, request.version);
      const task = dag.tasks.get(request.context.taskId);
      const fn = request.kind === "success"
        ? task?.options.onSuccess
        : request.kind === "retry"
        ? task?.options.onRetry
        : task?.options.onFailure;
      const ctx = { ...(await taskContext(dag, request.context)), error: request.error };
      await runCallback(fn, ctx, `on${request.kind[0].toUpperCase()}${request.kind.slice(1)}`);
      return "null";
    }
    case "dag_callback": {
      const dag = await findDag(request.file, request.context.dagId, request.version);
      const fn = request.state === "success" ? dag.options.onSuccess : dag.options.onFailure;
      const ctx = { ...(await runContext(dag, request.context)), state: request.state };
      // Its failure is the request's: the worker keeps it on the callback's row.
      if (typeof fn === "function") await fn(ctx);
      return "null";
    }
  }
}

/** Reads stdin directly: a stream pipeline cost a third of a warm runner's time per task. */
async function* stdinText(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const bytes = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await Deno.stdin.read(bytes);
    if (n === null) return;
    yield decoder.decode(bytes.subarray(0, n), { stream: true });
  }
}

/** Serves one request: its answer is the last message about it. */
async function serve(request: RunnerRequest): Promise<void> {
  currentId = request.id;
  taskMs = undefined;
  try {
    const json = await handle(request);
    send({ type: "result", id: request.id, ok: true, json, ms: taskMs });
  } catch (error) {
    send({ type: "result", id: request.id, ok: false, error: taskError(error) });
  }
}

/**
 * Requests are served one at a time, in order, while stdin is still read: a worker may send
 * several at once, and a pending read is what keeps Deno from ending a process whose task awaits
 * a promise that never settles (it would exit with "Top-level await promise never resolved").
 */
async function main(): Promise<void> {
  let buffer = "";
  let served = Promise.resolve();
  for await (const chunk of stdinText()) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (!prefix) {
        prefix = line; // the first line is the answer prefix
        continue;
      }
      const request = JSON.parse(line) as RunnerRequest;
      served = served.then(() => serve(request));
    }
  }
  await served;
}

await main();
