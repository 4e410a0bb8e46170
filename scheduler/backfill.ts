/**
 * Backfills: one run per schedule interval between two dates, run oldest first under the
 * backfill's own concurrency limit. Existing runs are left alone, or cleared to run again when
 * they failed (`failed`) or whatever their state (`completed`), as Airflow 3's backfills do.
 */
import type { Db, Sql } from "../db/client.ts";
import { json } from "../db/client.ts";
import { getDag, getDagVersion } from "../db/dags.ts";
import { createDagRun, defaultRunId } from "../db/runs.ts";
import { clearTaskInstances } from "./clear.ts";
import { createTimetable } from "./timetable.ts";
import { TriggerError, validateConf } from "./trigger_run.ts";

export type ReprocessBehavior = "none" | "failed" | "completed";

export interface BackfillRequest {
  dagId: string;
  from: Date;
  to: Date;
  reprocess: ReprocessBehavior;
  conf?: unknown;
  maxActiveRuns?: number;
  dryRun?: boolean;
  now: Date;
}

export interface BackfillPlanItem {
  logicalDate: Date;
  /** What the backfill does for this date. */
  action: "create" | "clear" | "skip";
  existingState: string | null;
}

export interface BackfillResult {
  backfillId: number | null;
  plan: BackfillPlanItem[];
}

/** `audit` is called in the transaction that records the backfill (for the audit log). */
export async function backfill(
  db: Db,
  r: BackfillRequest,
  audit?: (tx: Sql, backfillId: number) => Promise<void>,
): Promise<BackfillResult> {
  const row = await getDag(db.sql, r.dagId);
  if (!row?.latestVersionId || !row.isActive) {
    throw new TriggerError(`DAG "${r.dagId}" does not exist`, "unknown_dag");
  }
  if (r.from > r.to) {
    throw new TriggerError("The backfill's from date is after its to date", "invalid_conf");
  }
  const version = await getDagVersion(db.sql, row.latestVersionId);
  const dag = version.serialized;
  if (!dag.schedule || dag.schedule === "@once") {
    throw new TriggerError(`DAG "${r.dagId}" has no schedule to backfill`, "invalid_conf");
  }
  const conf = validateConf(dag, r.conf);
  const infos = createTimetable({
    schedule: dag.schedule,
    timezone: dag.timezone,
    startDate: dag.startDate ? new Date(dag.startDate) : null,
    endDate: dag.endDate ? new Date(dag.endDate) : null,
  }).between(r.from, r.to);
  const existing = new Map(
    (await db.sql<{ logicalDate: Date; state: string; runId: string }>`
      SELECT logical_date AS "logicalDate", state, run_id AS "runId" FROM dag_run
      WHERE dag_id = ${r.dagId} AND logical_date BETWEEN ${r.from} AND ${r.to}`)
      .map((e) => [e.logicalDate.getTime(), e]),
  );
  const plan: BackfillPlanItem[] = infos.map((info) => {
    const found = existing.get(info.logicalDate.getTime());
    if (!found) return { logicalDate: info.logicalDate, action: "create", existingState: null };
    const rerun = found.state === "failed"
      ? r.reprocess !== "none"
      : found.state === "success" && r.reprocess === "completed";
    return {
      logicalDate: info.logicalDate,
      action: rerun ? "clear" : "skip",
      existingState: found.state,
    };
  });
  if (r.dryRun) return { backfillId: null, plan };

  const maxActiveRuns = r.maxActiveRuns ?? 10;
  const backfillId = await db.begin(async (tx) => {
    const [{ id }] = await tx<{ id: number }>`
    INSERT INTO backfill (dag_id, from_date, to_date, dag_run_conf, reprocess_behavior,
      max_active_runs, created_at, updated_at)
    VALUES (${r.dagId}, ${r.from}, ${r.to}, ${json(conf)}, ${r.reprocess}, ${maxActiveRuns},
      ${r.now}, ${r.now})
    RETURNING id`;
    await audit?.(tx, id);
    return id;
  });
  for (const [i, item] of plan.entries()) {
    if (item.action === "create") {
      const info = infos[i];
      await db.begin((tx) =>
        createDagRun(
          tx,
          {
            dagId: r.dagId,
            runId: defaultRunId("backfill", info.logicalDate),
            runType: "backfill",
            logicalDate: info.logicalDate,
            dataInterval: info.dataInterval,
            runAfter: r.now,
            conf,
            versionId: version.id,
            triggeredBy: "backfill",
            backfillId,
          },
          dag,
          r.now,
        )
      );
    } else if (item.action === "clear") {
      const run = existing.get(item.logicalDate.getTime())!;
      await clearTaskInstances(db, {
        dagId: r.dagId,
        runId: run.runId,
        onlyFailed: r.reprocess === "failed",
        now: r.now,
      });
      await db.sql`UPDATE dag_run SET backfill_id = ${backfillId}
        WHERE dag_id = ${r.dagId} AND run_id = ${run.runId}`;
    }
  }
  return { backfillId, plan };
}
