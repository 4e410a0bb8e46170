/** `gust tasks test`: runs one task alone, ignoring its upstream, like `airflow tasks test`. */
import type { Config } from "../config.ts";
import { parseDagFolder } from "../scheduler/dag_processor.ts";
import { runSummary, startLocalRun } from "./dags.ts";
import type { CliOptions } from "./mod.ts";
import { findDag, parseConf, parseDate, printJson, UsageError } from "./output.ts";

export async function tasksTest(
  config: Config,
  dagId: string,
  taskId: string,
  opts: CliOptions,
): Promise<number> {
  // Bad input is refused before any database is opened.
  parseConf(opts.conf);
  parseDate(opts["logical-date"], "--logical-date");
  const files = await parseDagFolder(config.dagsFolder, { timeoutMs: config.dagImportTimeoutMs });
  const { dag, file } = findDag(files, dagId);
  const task = dag.tasks.find((t) => t.taskId === taskId);
  if (!task) throw new UsageError(`Task "${taskId}" not found in DAG "${dagId}"`);
  let mapIndex = -1;
  if (task.expand) {
    const sources = Object.values(task.expand);
    if (sources.some((s) => "task" in s)) {
      throw new UsageError(
        `Task "${taskId}" maps over another task's result; test it with "gust dags test ${dagId}"`,
      );
    }
    const size = sources.reduce((n, s) => n * ("values" in s ? s.values.length : 0), 1);
    mapIndex = Number(opts["map-index"] ?? 0);
    if (!Number.isInteger(mapIndex) || mapIndex < 0 || mapIndex >= size) {
      throw new UsageError(`--map-index must be between 0 and ${size - 1}`);
    }
  }

  const { db, worker, printer, triggered, close } = await startLocalRun(
    config,
    { ...opts, record: false },
    dag,
    file,
    { queues: [task.queue], concurrency: 1, start: false },
  );
  try {
    const now = new Date();
    // Queue this one instance directly, in a run that stays queued: neither a scheduler nor the
    // worker moves such a run on, so its upstream is never consulted, nor its downstream run.
    await db.sql`
      UPDATE task_instance SET state = 'queued', queued_at = ${now}, map_index = ${mapIndex}
      WHERE dag_run_id = ${triggered.dagRunId} AND task_id = ${taskId}`;
    await worker.claim();
    await worker.drain();
    await printer.diff(db, triggered.dagRunId);
    const [row] = await db.sql<{ state: string; result: unknown }>`
      SELECT ti.state, x.value AS result FROM task_instance ti
        LEFT JOIN xcom x ON x.ti_id = ti.id AND x.key = 'return_value'
      WHERE ti.dag_run_id = ${triggered.dagRunId} AND ti.task_id = ${taskId}`;
    const name = mapIndex >= 0 ? `${taskId}[${mapIndex}]` : taskId;
    if (opts.json) {
      const summary = (await runSummary(db, triggered.dagRunId))[name];
      printJson({
        dag_id: dagId,
        task_id: taskId,
        map_index: mapIndex,
        ...summary,
        result: row.result ?? null,
      });
    } else {
      console.log(`\n${name}: ${row.state}`);
      if (row.state === "success") console.log(`Result: ${JSON.stringify(row.result)}`);
    }
    return row.state === "success" ? 0 : 1;
  } finally {
    await close();
  }
}
