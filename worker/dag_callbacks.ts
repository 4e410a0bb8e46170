/**
 * Runs the DAG callbacks (a DAG's onSuccess and onFailure) that ended runs left in
 * `dag_callback`. Each runs in a runner with the permissions of the DAG's `defaults` (the ones its
 * tasks get unless they say otherwise), on the run's own DAG version, under a time limit; what it
 * logs and how it ended are kept on its row.
 */
import type { Db } from "../db/client.ts";
import { claimDagCallback, finishDagCallback } from "../db/dag_callbacks.ts";
import { getDagVersion, getDagVersionSource } from "../db/dags.ts";
import { getRun } from "../db/runs.ts";
import { dagModule } from "./dag_files.ts";
import type { RunnerPool } from "./runner_pool.ts";

const CALLBACK_TIMEOUT_MS = 60_000;
/** What is kept of a callback's log, from its end. */
const MAX_LOG_CHARS = 64 * 1024;

export interface DagCallbackOptions {
  db: Db;
  runners: RunnerPool;
  dagsFolder: string;
  workerId: string;
  clock?: () => Date;
}

/** Runs waiting callbacks one after another until none waits; returns how many ran. */
export async function runDagCallbacks(o: DagCallbackOptions): Promise<number> {
  const clock = o.clock ?? (() => new Date());
  let ran = 0;
  while (true) {
    const claimed = await claimDagCallback(
      o.db.sql,
      o.workerId,
      CALLBACK_TIMEOUT_MS * 2,
      clock(),
    );
    if (!claimed) return ran;
    const run = await getRun(o.db.sql, claimed.dagRunId);
    const version = await getDagVersion(o.db.sql, run!.dagVersionId);
    const lines: string[] = [];
    const module = await dagModule(o.dagsFolder, {
      ...version,
      source: await getDagVersionSource(o.db.sql, version.id),
    });
    const outcome = await o.runners.run({
      op: "dag_callback",
      file: module.file,
      version: module.version,
      context: {
        dagId: run!.dagId,
        runId: run!.runId,
        logicalDate: run!.logicalDate?.toISOString() ?? null,
        dataInterval: run!.dataIntervalStart && run!.dataIntervalEnd
          ? {
            start: run!.dataIntervalStart.toISOString(),
            end: run!.dataIntervalEnd.toISOString(),
          }
          : null,
        conf: run!.conf,
      },
      state: claimed.state,
    }, {
      permissions: version.serialized.callbackPermissions ?? {},
      timeoutMs: CALLBACK_TIMEOUT_MS,
      onLog: (line) => lines.push(`${line.ts.toISOString()} ${line.level} ${line.line}`),
    });
    // A callback that throws is caught in the runner and logged; this is a timeout or a crash.
    const error = outcome.ok ? null : outcome.error;
    await finishDagCallback(o.db.sql, {
      id: claimed.id,
      worker: o.workerId,
      error,
      log: lines.join("\n").slice(-MAX_LOG_CHARS),
      now: clock(),
    });
    ran++;
  }
}
