/** `POST /api/v2/dags/{dag_id}/clearTaskInstances`: clear task instances of one run or many. */
import { Hono } from "hono";
import { type ApiTi, tisByKeys } from "../../db/api_task_instances.ts";
import { type ClearedInstance, ClearError, clearTaskInstances } from "../../scheduler/clear.ts";
import { auditClear } from "../auth_audit.ts";
import type { AppEnv } from "../mod.ts";
import { body, notFound } from "./common.ts";
import { requireDag } from "./dag_runs.ts";
import { ClearTaskInstancesBody } from "./schemas.ts";
import { tiResponse } from "./shapes.ts";
import { now, wakeScheduler } from "./util.ts";

/** `POST /api/v2/dags/{dag_id}/clearTaskInstances`. */
export const clearRoute = new Hono<AppEnv>().post("/", async (c) => {
  const dagId = c.req.param("dag_id")!;
  const { db } = c.get("deps");
  const b = await body(c, ClearTaskInstancesBody);
  await requireDag(c, dagId, true);
  // A date range without a run: the runs whose logical date lies in it, as in Airflow.
  let runIds: (string | undefined)[] = [b.dag_run_id ?? undefined];
  if (!b.dag_run_id && (b.start_date || b.end_date)) {
    const rows = await db.sql<{ runId: string }>`
      SELECT run_id AS "runId" FROM dag_run WHERE dag_id = ${dagId}
        AND (${b.start_date ?? null}::timestamptz IS NULL OR logical_date >= ${
      b.start_date ?? null
    })
        AND (${b.end_date ?? null}::timestamptz IS NULL OR logical_date <= ${b.end_date ?? null})
      ORDER BY id`;
    runIds = rows.map((r) => r.runId);
  }
  const cleared: ClearedInstance[] = [];
  try {
    for (const runId of runIds) {
      cleared.push(
        ...await clearTaskInstances(db, {
          dagId,
          runId,
          taskIds: b.task_ids ?? undefined,
          includeDownstream: b.include_downstream,
          includeUpstream: b.include_upstream,
          onlyFailed: b.only_failed,
          onlyRunning: b.only_running,
          dryRun: b.dry_run,
          now: now(c),
        }, auditClear(c, dagId)),
      );
    }
  } catch (error) {
    if (error instanceof ClearError) notFound(error.message);
    throw error;
  }
  if (!b.dry_run && cleared.length) await wakeScheduler(db);
  // Each instance with the state it had before it was cleared, which is what a caller wants to
  // see (the state after is always "none").
  const before = new Map(cleared.map((x) => [`${x.dagRunId}/${x.taskId}/${x.mapIndex}`, x.state]));
  const tis = await tisByKeys(db.sql, cleared);
  return c.json({
    task_instances: tis.map((ti) => ({
      ...tiResponse(ti),
      state: before.get(`${ti.dagRunId}/${ti.taskId}/${ti.mapIndex}`) as ApiTi["state"] as never,
    })),
    total_entries: tis.length,
  });
});
