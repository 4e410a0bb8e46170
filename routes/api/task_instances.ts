/**
 * `/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances`: list (`~` for every DAG or run),
 * read one, mark it or set its note, read a try's log, and read its results (XComs).
 */
import { Hono } from "hono";
import {
  type ApiTi,
  listTisPage,
  listXcomsPage,
  setTiNotes,
  TI_DURATION,
  tisByIds,
  tisOfTask,
} from "../../db/api_task_instances.ts";
import { readLogs } from "../../db/logs.ts";
import { MarkError, markTaskInstances } from "../../scheduler/mark.ts";
import { insertAudit } from "../../db/audit_log.ts";
import { auditEntry, auditMarkTasks } from "../auth_audit.ts";
import type { AppEnv } from "../mod.ts";
import {
  type ApiContext,
  apiError,
  badRequest,
  body,
  intPath,
  notFound,
  orAll,
  QueryReader,
} from "./common.ts";
import { requireDag, requireRun } from "./dag_runs.ts";
import { PatchTaskInstanceBody, TaskInstanceState } from "./schemas.ts";
import { tiResponse, xcomResponse } from "./shapes.ts";
import { now, wakeScheduler } from "./util.ts";

const TI_ORDER: Record<string, string> = {
  id: "ti.id",
  task_id: "ti.task_id",
  map_index: "ti.map_index",
  state: "ti.state",
  start_date: "ti.start_date",
  end_date: "ti.end_date",
  duration: TI_DURATION,
  try_number: "ti.try_number",
  logical_date: "r.logical_date",
  run_after: "r.run_after",
  pool: "ti.pool",
  queue: "ti.queue",
  priority_weight: "ti.priority_weight",
  queued_when: "ti.queued_at",
  dag_id: "ti.dag_id",
  run_id: "ti.run_id",
  dag_run_id: "ti.run_id",
};

/** Lines of a log page; a longer log is read in several requests with the continuation token. */
const LOG_PAGE_LINES = 10_000;

const TI_STATES = [...TaskInstanceState.options, "none", "no_status"];

async function requireTi(c: ApiContext, mapIndex = -1): Promise<ApiTi> {
  const dagId = c.req.param("dag_id")!;
  const runId = c.req.param("dag_run_id")!;
  const taskId = c.req.param("task_id")!;
  const run = await requireRun(c, dagId, runId);
  const tis = await tisOfTask(c.get("deps").db.sql, run.id, taskId);
  const ti = tis.find((t) => t.mapIndex === mapIndex);
  if (!ti && mapIndex === -1 && tis.length > 0) {
    notFound("Task instance is mapped, add the map_index value to the URL");
  }
  if (!ti) {
    notFound(
      `The Task Instance with dag_id: \`${dagId}\`, run_id: \`${runId}\`, task_id: \`${taskId}\` and map_index: \`${mapIndex}\` was not found`,
    );
  }
  return ti!;
}

/** A log position as an opaque token, and back; a token that is not one is a 400. */
const encodeToken = (afterId: number) => btoa(JSON.stringify({ after: afterId }));
function decodeToken(token: string | null): number {
  if (!token) return 0;
  try {
    const after = JSON.parse(atob(token)).after;
    if (Number.isSafeInteger(after) && after >= 0) return after;
  } catch { /* answered below */ }
  return badRequest("Bad Signature. Please use only the tokens provided by the API.");
}

export const taskInstances = new Hono<AppEnv>()
  .get("/", async (c) => {
    const dagId = orAll(c.req.param("dag_id")!);
    const runId = orAll(c.req.param("dag_run_id")!);
    const q = new QueryReader(c);
    const { limit, offset } = q.page();
    const filter = {
      dagId,
      runId,
      taskId: q.string("task_id"),
      taskIdPattern: q.string("task_display_name_pattern"),
      states: q.list("state"),
      pools: q.list("pool"),
      queues: q.list("queue"),
      tryNumbers: q.intList("try_number"),
      startDate: q.range("start_date"),
      endDate: q.range("end_date"),
      logicalDate: q.range("logical_date"),
      runAfter: q.range("run_after"),
      durationGte: q.number("duration_gte"),
      durationLte: q.number("duration_lte"),
    };
    q.done();
    const order = q.orderBy(TI_ORDER, "map_index", "ti.id");
    const badState = filter.states.find((s) => !TI_STATES.includes(s));
    if (badState !== undefined) {
      badRequest(`Invalid value for state. Valid values are ${TI_STATES.join(", ")}`);
    }
    if (dagId !== null) await requireDag(c, dagId);
    if (dagId !== null && runId !== null) await requireRun(c, dagId, runId);
    const page = await listTisPage(c.get("deps").db.sql, filter, order, limit, offset);
    return c.json({ task_instances: page.tis.map(tiResponse), total_entries: page.total });
  })
  .get("/:task_id", async (c) => c.json(tiResponse(await requireTi(c))))
  .patch("/:task_id", async (c) => {
    const dagId = c.req.param("dag_id")!;
    const taskId = c.req.param("task_id");
    const { db } = c.get("deps");
    const q = new QueryReader(c);
    const mapIndex = q.int("map_index", { min: -1 });
    const mask = q.list("update_mask");
    q.done();
    const b = await body(c, PatchTaskInstanceBody);
    const unknown = mask.find((f) => f !== "new_state" && f !== "note");
    if (unknown !== undefined) badRequest(`Invalid field \`${unknown}\` in update mask`);
    const wants = (field: string) => mask.length === 0 || mask.includes(field);
    const run = await requireRun(c, dagId, c.req.param("dag_run_id")!);
    const all = await tisOfTask(db.sql, run.id, taskId);
    const tis = all.filter((t) => mapIndex === null || t.mapIndex === mapIndex);
    if (tis.length === 0) {
      notFound(
        `The Task Instance with dag_id: \`${dagId}\`, run_id: \`${run.runId}\`, task_id: \`${taskId}\` and map_index: \`${
          mapIndex ?? -1
        }\` was not found`,
      );
    }
    let ids = tis.map((t) => t.id);
    if (wants("new_state") && b.new_state != null) {
      let marked;
      try {
        marked = await markTaskInstances(db, {
          dagRunId: run.id,
          taskId,
          mapIndex,
          state: b.new_state,
          includeUpstream: b.include_upstream,
          includeDownstream: b.include_downstream,
          now: now(c),
        }, auditMarkTasks(c, dagId, run.runId, b.new_state));
      } catch (error) {
        if (error instanceof MarkError) notFound(error.message);
        throw error;
      }
      if (marked!.length === 0) {
        apiError(409, `Task id ${taskId} is already in ${b.new_state} state`);
      }
      ids = marked!.map((m) => m.id);
      await wakeScheduler(db);
    }
    if (wants("note") && b.note !== undefined) {
      const target = { dagId, runId: run.runId, taskId, mapIndex };
      await db.begin(async (tx) => {
        await setTiNotes(tx, tis.map((t) => t.id), b.note ?? null);
        await insertAudit(tx, auditEntry(c, "set_note", target));
      });
    }
    const fresh = await tisByIds(db.sql, ids);
    return c.json({ task_instances: fresh.map(tiResponse), total_entries: fresh.length });
  })
  .get("/:task_id/logs/:try_number", async (c) => {
    const q = new QueryReader(c);
    const mapIndex = q.int("map_index") ?? -1;
    q.bool("full_content");
    q.done();
    const tryNumber = intPath(c, "try_number");
    const afterId = decodeToken(q.string("token"));
    const ti = await requireTi(c, mapIndex);
    const lines = await readLogs(c.get("deps").db.sql, ti.id, tryNumber, afterId, LOG_PAGE_LINES);
    const content = lines.map((l) => ({
      timestamp: new Date(l.ts).toISOString(),
      event: l.line,
      level: l.level,
    }));
    // More may come while this try runs (or when a page was full): hand back where to go on.
    const live = ti.tryNumber === tryNumber && ti.state === "running";
    const last = lines.at(-1)?.id ?? afterId;
    const token = live || lines.length === LOG_PAGE_LINES ? encodeToken(last) : null;
    if ((c.req.header("accept") ?? "").includes("application/x-ndjson")) {
      const text = content.map((m) => JSON.stringify(m) + "\n").join("");
      return c.body(text, 200, { "content-type": "application/x-ndjson" });
    }
    return c.json({ content, continuation_token: token });
  })
  .get("/:task_id/xcomEntries", async (c) => {
    const q = new QueryReader(c);
    const { limit, offset } = q.page();
    const mapIndex = q.int("map_index", { min: -1 });
    const key = q.string("xcom_key");
    q.done();
    const page = await listXcomsPage(
      c.get("deps").db.sql,
      {
        dagId: orAll(c.req.param("dag_id")!),
        runId: orAll(c.req.param("dag_run_id")!),
        taskId: orAll(c.req.param("task_id")),
        key,
        mapIndex,
      },
      limit,
      offset,
    );
    return c.json({ xcom_entries: page.xcoms.map(xcomResponse), total_entries: page.total });
  })
  .get("/:task_id/xcomEntries/:xcom_key", async (c) => {
    const q = new QueryReader(c);
    const mapIndex = q.int("map_index", { min: -1 }) ?? -1;
    const stringify = q.bool("stringify") ?? false;
    q.bool("deserialize");
    q.done();
    const key = c.req.param("xcom_key");
    const { xcoms } = await listXcomsPage(
      c.get("deps").db.sql,
      {
        dagId: c.req.param("dag_id")!,
        runId: c.req.param("dag_run_id")!,
        taskId: c.req.param("task_id"),
        key,
        mapIndex,
      },
      1,
      0,
      true,
    );
    if (xcoms.length === 0) notFound(`XCom entry with key: \`${key}\` not found`);
    const x = xcoms[0];
    return c.json({
      ...xcomResponse(x),
      value: stringify ? JSON.stringify(x.value) : x.value,
    });
  });
