/**
 * `/api/v2/dags/{dag_id}/dagRuns`: list runs (`~` for every DAG), trigger one, read one, mark
 * it or set its note, and clear it.
 */
import { Hono } from "hono";
import { getApiDag } from "../../db/api_dags.ts";
import type { Sql } from "../../db/client.ts";
import { type ApiRun, getApiRun, listRunsPage, setRunNote } from "../../db/api_runs.ts";
import { tisByKeys } from "../../db/api_task_instances.ts";
import { ClearError, clearTaskInstances } from "../../scheduler/clear.ts";
import { markRun } from "../../scheduler/mark.ts";
import { TriggerError, triggerRun } from "../../scheduler/trigger_run.ts";
import { insertAudit } from "../../db/audit_log.ts";
import { auditClear, auditEntry, auditTrigger } from "../auth_audit.ts";
import type { AppEnv } from "../mod.ts";
import {
  type ApiContext,
  apiError,
  badRequest,
  body,
  notFound,
  orAll,
  QueryReader,
  validationError,
} from "./common.ts";
import {
  DAGRunClearBody,
  DAGRunPatchBody,
  DagRunState,
  DagRunType,
  RUN_ID_PATTERN,
  TriggerDAGRunPostBody,
} from "./schemas.ts";
import { runResponse, tiResponse } from "./shapes.ts";
import { now, wakeScheduler } from "./util.ts";

const RUN_ORDER: Record<string, string> = {
  id: "r.id",
  state: "r.state",
  dag_id: "r.dag_id",
  run_id: "r.run_id",
  dag_run_id: "r.run_id",
  logical_date: "r.logical_date",
  run_after: "r.run_after",
  start_date: "r.start_date",
  end_date: "r.end_date",
  queued_at: "r.queued_at",
  duration: "r.end_date - r.start_date",
};

export async function requireDag(c: ApiContext, dagId: string, activeOnly = false) {
  const dag = await getApiDag(c.get("deps").db.sql, dagId);
  if (!dag || (activeOnly && !dag.isActive)) {
    notFound(`The Dag with ID: \`${dagId}\` was not found`);
  }
  return dag!;
}

export async function requireRun(c: ApiContext, dagId: string, runId: string): Promise<ApiRun> {
  const run = await getApiRun(c.get("deps").db.sql, dagId, runId);
  if (!run) notFound(`The DagRun with dag_id: \`${dagId}\` and run_id: \`${runId}\` was not found`);
  return run!;
}

/** Airflow's run id rule, plus: not `..`, and not `~`, which means "every run" in a path. */
function checkRunId(runId: string): void {
  if (!RUN_ID_PATTERN.test(runId) || runId.includes("..") || runId === "~") {
    badRequest(
      `The run_id provided '${runId}' does not match regex pattern '${RUN_ID_PATTERN.source}'`,
    );
  }
}

/** Each value must be one of `allowed`, or the request is a 400 naming them, as in Airflow. */
function checkValues(name: string, values: string[], allowed: readonly string[]): void {
  const bad = values.find((v) => !allowed.includes(v));
  if (bad !== undefined) {
    badRequest(`Invalid value for ${name}. Valid values are ${allowed.join(", ")}`);
  }
}

export const dagRuns = new Hono<AppEnv>()
  .get("/", async (c) => {
    const dagId = orAll(c.req.param("dag_id")!);
    const q = new QueryReader(c);
    const { limit, offset } = q.page();
    const filter = {
      dagId,
      runAfter: q.range("run_after"),
      logicalDate: q.range("logical_date"),
      startDate: q.range("start_date"),
      endDate: q.range("end_date"),
      runTypes: q.list("run_type"),
      states: q.list("state"),
      runIdPattern: q.string("run_id_pattern"),
    };
    q.done();
    const order = q.orderBy(RUN_ORDER, "id", "r.id");
    checkValues("run type", filter.runTypes, DagRunType.options);
    checkValues("state", filter.states, DagRunState.options);
    // Webhook runs are manual runs in Airflow's vocabulary.
    if (filter.runTypes.includes("manual")) filter.runTypes.push("webhook");
    if (dagId !== null) await requireDag(c, dagId);
    const page = await listRunsPage(c.get("deps").db.sql, filter, order, limit, offset);
    return c.json({ dag_runs: page.runs.map(runResponse), total_entries: page.total });
  })
  .post("/", async (c) => {
    const dagId = c.req.param("dag_id")!;
    const { db } = c.get("deps");
    const b = await body(c, TriggerDAGRunPostBody);
    if ((b.data_interval_start == null) !== (b.data_interval_end == null)) {
      validationError([{
        type: "value_error",
        loc: ["body"],
        msg:
          "Value error, Either both data_interval_start and data_interval_end must be provided or both must be None",
      }]);
    }
    await requireDag(c, dagId, true);
    if (b.dag_run_id != null) checkRunId(b.dag_run_id);
    try {
      const t = await triggerRun(db, {
        dagId,
        conf: b.conf ?? {},
        runId: b.dag_run_id ?? undefined,
        logicalDate: b.logical_date ? new Date(b.logical_date) : undefined,
        dataInterval: b.data_interval_start && b.data_interval_end
          ? { start: new Date(b.data_interval_start), end: new Date(b.data_interval_end) }
          : undefined,
        runAfter: b.run_after ? new Date(b.run_after) : undefined,
        triggeredBy: "rest_api",
        now: now(c),
      }, auditTrigger(c, dagId));
      if (!t.created) {
        apiError(409, `DAG Run with run_id: \`${t.runId}\` already exists`);
      }
      if (b.note != null) await setRunNote(db.sql, t.dagRunId, b.note);
      await wakeScheduler(db);
      return c.json(runResponse(await requireRun(c, dagId, t.runId)));
    } catch (error) {
      if (!(error instanceof TriggerError)) throw error;
      if (error.problem === "conflict") apiError(409, error.message);
      if (error.problem === "unknown_dag") notFound(error.message);
      validationError(
        error.issues.map((msg) => ({ type: "value_error", loc: ["body", "conf"], msg })),
      );
    }
  })
  .get("/:dag_run_id", async (c) => {
    const run = await requireRun(c, c.req.param("dag_id")!, c.req.param("dag_run_id"));
    return c.json(runResponse(run));
  })
  .patch("/:dag_run_id", async (c) => {
    const dagId = c.req.param("dag_id")!;
    const runId = c.req.param("dag_run_id");
    const { db } = c.get("deps");
    const b = await body(c, DAGRunPatchBody);
    await requireDag(c, dagId);
    const run = await requireRun(c, dagId, runId);
    const mask = new QueryReader(c).list("update_mask");
    const unknown = mask.find((f) => f !== "state" && f !== "note");
    if (unknown !== undefined) badRequest(`Invalid field \`${unknown}\` in update mask`);
    const wants = (field: "state" | "note") => mask.length === 0 || mask.includes(field);
    const target = { dagId, runId: run.runId, logicalDate: run.logicalDate };
    if (wants("state") && b.state != null) {
      const record = (tx: Sql) =>
        insertAudit(tx, auditEntry(c, "mark_run", target, { state: b.state }));
      await markRun(db, { dagRunId: run.id, state: b.state, now: now(c) }, record);
      await wakeScheduler(db);
    }
    if (wants("note") && b.note !== undefined) {
      await db.begin(async (tx) => {
        await setRunNote(tx, run.id, b.note ?? null);
        await insertAudit(tx, auditEntry(c, "set_note", target));
      });
    }
    return c.json(runResponse(await requireRun(c, dagId, runId)));
  })
  .post("/:dag_run_id/clear", async (c) => {
    const dagId = c.req.param("dag_id")!;
    const runId = c.req.param("dag_run_id");
    const { db } = c.get("deps");
    const b = await body(c, DAGRunClearBody);
    if (b.run_on_latest_version) badRequest("Gust keeps a run on its DAG version");
    await requireDag(c, dagId);
    await requireRun(c, dagId, runId);
    let cleared;
    try {
      cleared = await clearTaskInstances(db, {
        dagId,
        runId,
        onlyFailed: b.only_failed,
        dryRun: b.dry_run,
        now: now(c),
      }, auditClear(c, dagId));
    } catch (error) {
      if (error instanceof ClearError) notFound(error.message);
      throw error;
    }
    if (b.dry_run) {
      const tis = await tisByKeys(db.sql, cleared);
      return c.json({ task_instances: tis.map(tiResponse), total_entries: tis.length });
    }
    await wakeScheduler(db);
    return c.json(runResponse(await requireRun(c, dagId, runId)));
  });
