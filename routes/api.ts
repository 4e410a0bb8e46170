/**
 * The REST API: the part of Airflow's stable API (`/api/v2`, Airflow 3) that Gust implements,
 * with its paths, parameters and JSON shapes, so tools written for Airflow work. Bodies are
 * checked with zod; a bad one is a 422 in FastAPI's shape, as Airflow answers.
 */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { getDag, setPaused } from "../db/dags.ts";
import { type DagRun, findRun } from "../db/runs.ts";
import { backfill } from "../scheduler/backfill.ts";
import { ClearError, clearTaskInstances } from "../scheduler/clear.ts";
import { TriggerError, triggerRun } from "../scheduler/trigger_run.ts";
import { RUN_CHANGED_CHANNEL } from "../worker/task_worker.ts";
import type { AppEnv } from "./mod.ts";

const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

const triggerBody = z.strictObject({
  dag_run_id: z.string().min(1).max(250).nullish(),
  logical_date: isoDate.nullish(),
  conf: z.record(z.string(), z.unknown()).nullish(),
  note: z.string().nullish(),
});

const clearBody = z.strictObject({
  dry_run: z.boolean().default(true),
  only_failed: z.boolean().default(true),
  reset_dag_runs: z.boolean().default(true),
  task_ids: z.array(z.string()).nullish(),
  dag_run_id: z.string().nullish(),
  include_upstream: z.boolean().default(false),
  include_downstream: z.boolean().default(false),
});

const backfillBody = z.strictObject({
  dag_id: z.string(),
  from_date: isoDate,
  to_date: isoDate,
  run_backwards: z.literal(false).default(false),
  dag_run_conf: z.record(z.string(), z.unknown()).default({}),
  reprocess_behavior: z.enum(["failed", "completed", "none"]).default("none"),
  max_active_runs: z.number().int().min(1).default(10),
});

/** Parses a JSON body or answers 422 with each problem's location, as FastAPI does. */
async function body<T extends z.ZodType>(
  c: { req: { json: () => Promise<unknown> } },
  schema: T,
): Promise<z.output<T>> {
  const raw = await c.req.json().catch(() => undefined);
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const detail = raw === undefined
    ? [{ type: "json_invalid", loc: ["body"], msg: "Request body is not valid JSON" }]
    : parsed.error.issues.map((i) => ({ type: i.code, loc: ["body", ...i.path], msg: i.message }));
  throw new HTTPException(422, { res: Response.json({ detail }, { status: 422 }) });
}

function notFound(message: string): never {
  throw new HTTPException(404, { res: Response.json({ detail: message }, { status: 404 }) });
}

async function requireDag(db: Db, dagId: string) {
  const dag = await getDag(db.sql, dagId);
  if (!dag?.isActive) notFound(`The Dag with ID: \`${dagId}\` was not found`);
  return dag!;
}

function runResponse(run: DagRun) {
  const duration = run.startDate && run.endDate
    ? (run.endDate.getTime() - run.startDate.getTime()) / 1000
    : null;
  return {
    dag_run_id: run.runId,
    dag_id: run.dagId,
    logical_date: run.logicalDate,
    queued_at: run.queuedAt,
    start_date: run.startDate,
    end_date: run.endDate,
    duration,
    data_interval_start: run.dataIntervalStart,
    data_interval_end: run.dataIntervalEnd,
    run_after: run.runAfter,
    last_scheduling_decision: null,
    run_type: run.runType,
    state: run.state,
    triggered_by: run.runType === "scheduled"
      ? "timetable"
      : run.runType === "backfill"
      ? "backfill"
      : "rest_api",
    triggering_user_name: null,
    conf: run.conf,
    note: null,
    dag_versions: [],
    bundle_version: null,
    dag_display_name: run.dagId,
  };
}

const wakeScheduler = (db: Db) => db.notify(RUN_CHANGED_CHANNEL, "api").catch(() => {});

export const api = new Hono<AppEnv>()
  .get("/dags/:dag_id/dagRuns", async (c) => {
    const { db } = c.get("deps");
    const dagId = c.req.param("dag_id");
    await requireDag(db, dagId);
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 50) || 50, 1), 1000);
    const offset = Math.max(Number(c.req.query("offset") ?? 0) || 0, 0);
    const [{ total }] = await db.sql<{ total: number }>`
      SELECT count(*)::int AS total FROM dag_run WHERE dag_id = ${dagId}`;
    const ids = await db.sql<{ runId: string }>`
      SELECT run_id AS "runId" FROM dag_run WHERE dag_id = ${dagId}
      ORDER BY run_after DESC, id DESC LIMIT ${limit} OFFSET ${offset}`;
    const runs = await Promise.all(ids.map((r) => findRun(db.sql, dagId, r.runId)));
    return c.json({ dag_runs: runs.map((r) => runResponse(r!)), total_entries: total });
  })
  .post("/dags/:dag_id/dagRuns", async (c) => {
    const { db } = c.get("deps");
    const dagId = c.req.param("dag_id");
    await requireDag(db, dagId);
    const b = await body(c, triggerBody);
    try {
      const t = await triggerRun(db, {
        dagId,
        conf: b.conf ?? {},
        runId: b.dag_run_id ?? undefined,
        logicalDate: b.logical_date ?? undefined,
        triggeredBy: "rest_api",
        now: new Date(),
      });
      if (!t.created) {
        throw new HTTPException(409, {
          res: Response.json({ detail: `DAG run ${t.runId} already exists` }, { status: 409 }),
        });
      }
      await wakeScheduler(db);
      return c.json(runResponse((await findRun(db.sql, dagId, t.runId))!));
    } catch (error) {
      if (!(error instanceof TriggerError)) throw error;
      const status = error.problem === "conflict"
        ? 409
        : error.problem === "unknown_dag"
        ? 404
        : 422;
      const detail = status === 422
        ? error.issues.map((msg) => ({ type: "value_error", loc: ["body", "conf"], msg }))
        : error.message;
      throw new HTTPException(status, { res: Response.json({ detail }, { status }) });
    }
  })
  .patch("/dags/:dag_id", async (c) => {
    const { db } = c.get("deps");
    const dagId = c.req.param("dag_id");
    await requireDag(db, dagId);
    const b = await body(c, z.strictObject({ is_paused: z.boolean() }));
    await setPaused(db.sql, dagId, b.is_paused);
    if (!b.is_paused) await wakeScheduler(db);
    const dag = await getDag(db.sql, dagId);
    return c.json({
      dag_id: dagId,
      dag_display_name: dagId,
      is_paused: dag!.isPaused,
      is_active: dag!.isActive,
      fileloc: dag!.fileloc,
    });
  })
  .post("/dags/:dag_id/clearTaskInstances", async (c) => {
    const { db } = c.get("deps");
    const dagId = c.req.param("dag_id");
    await requireDag(db, dagId);
    const b = await body(c, clearBody);
    try {
      const cleared = await clearTaskInstances(db, {
        dagId,
        runId: b.dag_run_id ?? undefined,
        taskIds: b.task_ids ?? undefined,
        includeDownstream: b.include_downstream,
        includeUpstream: b.include_upstream,
        onlyFailed: b.only_failed,
        dryRun: b.dry_run,
        now: new Date(),
      });
      if (!b.dry_run) await wakeScheduler(db);
      return c.json({
        task_instances: cleared.map((t) => ({
          dag_id: dagId,
          dag_run_id: t.runId,
          task_id: t.taskId,
          map_index: t.mapIndex,
          state: t.state,
        })),
        total_entries: cleared.length,
      });
    } catch (error) {
      if (error instanceof ClearError) notFound(error.message);
      throw error;
    }
  })
  .post("/backfills", (c) => runBackfill(c, false))
  .post("/backfills/dry_run", (c) => runBackfill(c, true));

async function runBackfill(c: Context<AppEnv>, dryRun: boolean) {
  const { db } = c.get("deps");
  const b = await body(c, backfillBody);
  await requireDag(db, b.dag_id);
  const now = new Date();
  try {
    const result = await backfill(db, {
      dagId: b.dag_id,
      from: b.from_date,
      to: b.to_date,
      reprocess: b.reprocess_behavior,
      conf: b.dag_run_conf,
      maxActiveRuns: b.max_active_runs,
      dryRun,
      now,
    });
    if (dryRun) {
      const backfills = result.plan.filter((p) => p.action !== "skip").map((p) => ({
        logical_date: p.logicalDate,
      }));
      return c.json({ backfills, total_entries: backfills.length });
    }
    await wakeScheduler(db);
    return c.json({
      id: result.backfillId,
      dag_id: b.dag_id,
      from_date: b.from_date,
      to_date: b.to_date,
      dag_run_conf: b.dag_run_conf,
      is_paused: false,
      reprocess_behavior: b.reprocess_behavior,
      max_active_runs: b.max_active_runs,
      created_at: now,
      completed_at: null,
      updated_at: now,
      dag_display_name: b.dag_id,
    });
  } catch (error) {
    if (!(error instanceof TriggerError)) throw error;
    const detail = error.issues.length
      ? error.issues.map((msg) => ({ type: "value_error", loc: ["body"], msg }))
      : [{ type: "value_error", loc: ["body"], msg: error.message }];
    throw new HTTPException(422, { res: Response.json({ detail }, { status: 422 }) });
  }
}
