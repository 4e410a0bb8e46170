/** `gust dags list | show | test`. */
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import { storeDagVersion } from "../db/dags.ts";
import { openDb } from "../db/open.ts";
import { parseDagFolder, type ParsedFile } from "../scheduler/dag_processor.ts";
import { runToCompletion } from "../scheduler/local_run.ts";
import { runDagCallbacks } from "../worker/dag_callbacks.ts";
import type { TaskError } from "../sdk/types.ts";
import { createTimetable } from "../scheduler/timetable.ts";
import { type Triggered, TriggerError, triggerRun } from "../scheduler/trigger_run.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { RunnerPool } from "../worker/runner_pool.ts";
import { TaskWorker, type WorkerEvent } from "../worker/task_worker.ts";
import type { CliOptions } from "./mod.ts";
import {
  findDag,
  parseConf,
  parseDate,
  printJson,
  printTable,
  time,
  UsageError,
} from "./output.ts";

export async function dagsList(config: Config, opts: CliOptions): Promise<number> {
  const files = await parseDagFolder(config.dagsFolder, { timeoutMs: config.dagImportTimeoutMs });
  const dags = files.flatMap((f) => f.dags.map((d) => ({ file: f.file, dag: d.serialized })));
  const errors = files.filter((f) => f.error).map((f) => ({ filename: f.file, ...f.error! }));
  if (opts.json) {
    printJson({
      dags: dags.map(({ file, dag }) => ({
        dag_id: dag.dagId,
        fileloc: file,
        description: dag.description,
        schedule: dag.schedule,
        timetable_description: describeSchedule(dag),
        tags: dag.tags,
        tasks: dag.tasks.length,
      })),
      import_errors: errors,
      total_entries: dags.length,
    });
    return 0;
  }
  printTable([
    ["dag_id", "schedule", "tags", "file"],
    ...dags.map(({ file, dag }) => [
      dag.dagId,
      dag.schedule ?? "None",
      dag.tags.join(",") || "-",
      file,
    ]),
  ]);
  if (errors.length) {
    console.log(`\n${errors.length} import error${errors.length > 1 ? "s" : ""}:`);
    for (const e of errors) console.log(`  ${e.filename}: ${e.message.split("\n")[0]}`);
  }
  return 0;
}

function describeSchedule(dag: SerializedDag): string {
  try {
    return createTimetable({
      schedule: dag.schedule,
      timezone: dag.timezone,
      startDate: dag.startDate ? new Date(dag.startDate) : null,
      endDate: null,
    }).description;
  } catch {
    return dag.schedule ?? "None";
  }
}

export async function dagsShow(config: Config, dagId: string, opts: CliOptions): Promise<number> {
  const files = await parseDagFolder(config.dagsFolder, { timeoutMs: config.dagImportTimeoutMs });
  const { dag } = findDag(files, dagId);
  console.log(opts.mermaid ? mermaid(dag) : textGraph(dag));
  return 0;
}

function label(task: SerializedDag["tasks"][number]): string {
  const marks = [
    task.kind !== "task" ? task.kind.replace("_", "-") : null,
    task.role !== "normal" ? task.role : null,
    task.expand ? "mapped" : null,
    task.triggerRule !== "all_success" ? task.triggerRule : null,
  ].filter(Boolean);
  return marks.length ? `${task.taskId} (${marks.join(", ")})` : task.taskId;
}

export function textGraph(dag: SerializedDag): string {
  const lines = [`${dag.dagId}${dag.description ? `: ${dag.description}` : ""}`];
  for (const task of dag.tasks) {
    lines.push(`  ${label(task)}${task.upstream.length ? `  <- ${task.upstream.join(", ")}` : ""}`);
  }
  return lines.join("\n");
}

export function mermaid(dag: SerializedDag): string {
  const node = (id: string) => id.replace(/[^A-Za-z0-9_]/g, "_");
  const lines = ["graph LR"];
  const grouped = new Map<string, string[]>();
  for (const task of dag.tasks) {
    const line = `${node(task.taskId)}["${label(task).replaceAll('"', "'")}"]`;
    if (task.group) grouped.set(task.group, [...(grouped.get(task.group) ?? []), line]);
    else lines.push(`  ${line}`);
  }
  for (const [group, nodes] of grouped) {
    lines.push(`  subgraph ${node(group)}["${group}"]`, ...nodes.map((n) => `    ${n}`), "  end");
  }
  for (const task of dag.tasks) {
    for (const up of task.upstream) lines.push(`  ${node(up)} --> ${node(task.taskId)}`);
  }
  return lines.join("\n");
}

export async function dagsTest(config: Config, dagId: string, opts: CliOptions): Promise<number> {
  const files = await parseDagFolder(config.dagsFolder, { timeoutMs: config.dagImportTimeoutMs });
  const { dag, file } = findDag(files, dagId);
  const local = await startLocalRun(config, opts, dag, file, {
    queues: [...new Set(dag.tasks.map((t) => t.queue))],
    concurrency: config.worker.concurrency,
  });
  const { db, worker, printer, triggered } = local;
  try {
    printer.header(dagId, triggered.runId);
    const state = await runToCompletion({
      db,
      worker,
      dagRunId: triggered.dagRunId,
      clock: () => new Date(),
      onStep: () => printer.diff(db, triggered.dagRunId),
    });
    await printer.diff(db, triggered.dagRunId);
    const callback = await runCallbackHere(local, config.dagsFolder);
    const summary = await runSummary(db, triggered.dagRunId);
    if (opts.json) {
      printJson({ dag_id: dagId, run_id: triggered.runId, state, tasks: summary, callback });
    } else {
      if (callback) {
        console.log(`\n${callback.name}:${callback.log ? `\n${callback.log}` : " (no output)"}`);
        if (callback.error) console.log(`${callback.name} failed: ${callback.error.message}`);
      }
      console.log(`\nRun ${triggered.runId} of ${dagId}: ${state}`);
    }
    return state === "success" ? 0 : 1;
  } finally {
    await local.close();
  }
}

/** Runs the DAG's callback for the run that just ended, as a worker would; null when it has none. */
async function runCallbackHere(
  local: LocalRun,
  dagsFolder: string,
): Promise<{ name: string; log: string; error: TaskError | null } | null> {
  await runDagCallbacks({ db: local.db, runners: local.runners, dagsFolder, workerId: "cli" });
  const [row] = await local.db.sql<{ state: string; log: string | null; error: TaskError | null }>`
    SELECT state, log, error FROM dag_callback WHERE dag_run_id = ${local.triggered.dagRunId}`;
  if (!row) return null;
  return {
    name: row.state === "success" ? "onSuccess" : "onFailure",
    log: row.log ?? "",
    error: row.error,
  };
}

export interface LocalRun {
  db: Db;
  runners: RunnerPool;
  worker: TaskWorker;
  printer: RunPrinter;
  triggered: Triggered;
  close(): Promise<void>;
}

/**
 * What `dags test` and `tasks test` share: the DAG stored in a throwaway database (or the
 * configured one with --record), a run of it triggered, and a worker in this process that
 * prints what happens.
 */
export async function startLocalRun(
  config: Config,
  opts: CliOptions,
  dag: SerializedDag,
  file: ParsedFile,
  w: { queues: string[]; concurrency: number; start?: boolean },
): Promise<LocalRun> {
  const conf = parseConf(opts.conf);
  const logicalDate = parseDate(opts["logical-date"], "--logical-date");
  const db = await openTestDatabase(config, opts.record ?? false);
  const runners = new RunnerPool({
    dagsFolder: config.dagsFolder,
    defaultMemoryMb: config.worker.runnerMemoryMb,
    env: config.taskEnv,
  });
  const printer = new RunPrinter(!opts.json);
  const worker = new TaskWorker({
    db,
    runners,
    dagsFolder: config.dagsFolder,
    workerId: `cli-${crypto.randomUUID()}`,
    hostname: Deno.hostname(),
    queues: w.queues,
    concurrency: w.concurrency,
    leaseMs: config.worker.leaseMs,
    maxResultBytes: config.maxResultBytes,
    onEvent: (e) => printer.event(e),
  });
  const close = async () => {
    worker.stop();
    await runners.close();
    await db.close();
  };
  try {
    const now = new Date();
    const hash = file.dags.find((d) => d.serialized.dagId === dag.dagId)!.hash;
    await storeDagVersion(db, {
      serialized: dag,
      hash,
      fileloc: file.file,
      source: file.source,
      now,
    });
    const triggered = await triggerRun(db, {
      dagId: dag.dagId,
      conf,
      logicalDate,
      now,
      triggeredBy: "cli",
      start: w.start,
    }).catch((error) => {
      throw error instanceof TriggerError ? new UsageError(error.message) : error;
    });
    return { db, runners, worker, printer, triggered, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A throwaway in-memory database, unless the run should be recorded in the configured one. */
export async function openTestDatabase(config: Config, record: boolean): Promise<Db> {
  if (!record) return await openDb({ memory: true, snapshotDir: `${config.home}/cache` });
  return await openConfiguredDb(config, { whenHeld: "stop it, or run without --record" });
}

/**
 * The configured database. PGlite serves one process, so the embedded one is refused while a
 * server holds it (it writes `<home>/server.pid`).
 */
export async function openConfiguredDb(
  config: Config,
  /** `whenHeld`: what to do instead, when a server holds the embedded database. */
  options: { migrate?: boolean; whenHeld?: string } = {},
): Promise<Db> {
  if (config.databaseUrl) {
    return await openDb({ url: config.databaseUrl, prepare: config.databasePrepare }, options);
  }
  const pidFile = `${config.home}/server.pid`;
  const pid = await Deno.readTextFile(pidFile).catch(() => null);
  if (pid) {
    throw new UsageError(
      `A Gust server (pid ${pid.trim()}) holds the embedded database in ${config.home}; ` +
        (options.whenHeld ?? "stop it, or point the CLI at it with GUST_HOST and GUST_PORT"),
    );
  }
  return await openDb({ dataDir: `${config.home}/db` }, options);
}

export async function runSummary(
  db: Db,
  dagRunId: number,
): Promise<Record<string, { state: string | null; tries: number; duration_ms: number | null }>> {
  const rows = await db.sql<
    {
      taskId: string;
      mapIndex: number;
      state: string | null;
      tries: number;
      durationMs: number | null;
    }
  >`
    SELECT task_id AS "taskId", map_index AS "mapIndex", state, try_number AS tries,
      duration_ms AS "durationMs"
    FROM task_instance WHERE dag_run_id = ${dagRunId} ORDER BY id`;
  return Object.fromEntries(rows.map((r) => [
    r.mapIndex >= 0 ? `${r.taskId}[${r.mapIndex}]` : r.taskId,
    { state: r.state, tries: r.tries, duration_ms: r.durationMs },
  ]));
}

/** Prints each task's state changes and log lines as the run goes. */
export class RunPrinter {
  private states = new Map<string, string | null>();
  constructor(private readonly enabled: boolean) {}

  header(dagId: string, runId: string): void {
    if (this.enabled) console.log(`Running ${dagId} (${runId})`);
  }

  event(e: WorkerEvent): void {
    if (!this.enabled) return;
    const name = e.ti.mapIndex >= 0 ? `${e.ti.taskId}[${e.ti.mapIndex}]` : e.ti.taskId;
    if (e.type === "started") {
      this.states.set(name, "running");
      console.log(`${time()} ${name} running (try ${e.ti.tryNumber})`);
    } else if (e.type === "log") {
      for (const line of e.line.line.split("\n")) {
        console.log(`${time(e.line.ts)} ${name} | ${line}`);
      }
    }
  }

  async diff(db: Db, dagRunId: number): Promise<void> {
    if (!this.enabled) return;
    const rows = await db.sql<
      { taskId: string; mapIndex: number; state: string | null; durationMs: number | null }
    >`
      SELECT task_id AS "taskId", map_index AS "mapIndex", state, duration_ms AS "durationMs"
      FROM task_instance WHERE dag_run_id = ${dagRunId} ORDER BY id`;
    for (const r of rows) {
      const name = r.mapIndex >= 0 ? `${r.taskId}[${r.mapIndex}]` : r.taskId;
      if (this.states.get(name) === r.state || r.state === null) continue;
      const took = r.durationMs !== null && ["success", "failed", "up_for_retry"].includes(r.state)
        ? ` in ${r.durationMs} ms`
        : "";
      console.log(`${time()} ${name} ${r.state}${took}`);
      this.states.set(name, r.state);
    }
  }
}
