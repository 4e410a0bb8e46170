/**
 * `/dags/:dagId/runs/:runId/tasks/:taskId`: a task instance (`?map=N` for one of a mapped
 * task's; `?try=N` picks the try whose log is shown), its live log, and its actions: clear
 * (with downstream), mark success or failed. `/ti/:id` redirects a numeric id to its page.
 */
import { Hono } from "hono";
import { z } from "zod";
import { getDagVersion } from "../../db/dags.ts";
import { readLogs } from "../../db/logs.ts";
import {
  findTaskInstances,
  getResultText,
  listTries,
  locateTaskInstance,
  slotUsage,
  type TiDetail,
  upstreamStates,
} from "../../db/ui_task_instances.ts";
import { clearTaskInstances } from "../../scheduler/clear.ts";
import { explainWaiting } from "../../scheduler/explain_waiting.ts";
import { markTaskInstances } from "../../scheduler/mark.ts";
import { isFinished } from "../../scheduler/states.ts";
import { LogLines, LogTail } from "../../views/task_log.tsx";
import {
  MappedPage,
  tiAddress,
  TiPage,
  TiSummary,
  type TiSummaryProps,
} from "../../views/ti_page.tsx";
import { auditClear, auditMarkTasks } from "../auth_audit.ts";
import type { AppEnv } from "../mod.ts";
import {
  answer,
  formFields,
  fragment,
  intParam,
  loadDag,
  notFound,
  page,
  type UiContext,
  wakeScheduler,
  wantsFragment,
} from "./common.tsx";

/** Lines a page shows at first; a live tail fetches at most this many per request. */
const LOG_PAGE_LINES = 10_000;
const LOG_CHUNK_LINES = 1_000;

function missing(c: UiContext) {
  const { dagId, runId, taskId } = c.req.param() as Record<string, string>;
  return notFound(c, `Run "${runId}" of DAG "${dagId}" has no task "${taskId}"`);
}

async function findInstances(c: UiContext, mapIndex: number | null): Promise<TiDetail[]> {
  const { dagId, runId, taskId } = c.req.param() as Record<string, string>;
  return await findTaskInstances(c.get("deps").db.sql, { dagId, runId, taskId, mapIndex });
}

/** The try whose log a page opens on: the current one, or the next one while it waits. */
function defaultTry(ti: TiDetail): number {
  const waiting = ti.state === null || ti.state === "scheduled" || ti.state === "queued";
  return waiting ? ti.tryNumber + 1 : ti.tryNumber;
}

/** Whether the log of `tryNumber` may still grow: it runs, or it is the next try and may start. */
function logIsLive(ti: TiDetail, tryNumber: number): boolean {
  if (tryNumber === ti.tryNumber) return ti.state === "running";
  return tryNumber === ti.tryNumber + 1 && !isFinished(ti.state) && ti.state !== "up_for_retry";
}

async function summaryProps(
  c: UiContext,
  ti: TiDetail,
  selectedTry: number | null,
  notice?: string,
): Promise<TiSummaryProps> {
  const { db } = c.get("deps");
  const { serialized: dag } = await getDagVersion(db.sql, ti.dagVersionId);
  const task = dag.tasks.find((t) => t.taskId === ti.taskId) ?? null;
  const [tries, result] = await Promise.all([
    listTries(db.sql, ti.id),
    getResultText(db.sql, ti.id),
  ]);
  let waiting: string[] = [];
  if (ti.state !== "running" && !isFinished(ti.state)) {
    const [upstream, usage] = await Promise.all([
      upstreamStates(db.sql, ti.dagRunId, task?.upstream ?? []),
      slotUsage(db.sql, ti.dagId, ti.pool),
    ]);
    waiting = explainWaiting({
      ...ti,
      triggerRule: task?.triggerRule ?? "all_success",
      upstream,
      poolSize: usage.poolSlots,
      poolUsed: usage.poolUsed,
      dagPaused: usage.dagPaused,
      dagActiveTasks: usage.dagActiveTasks,
      maxActiveTasks: dag.maxActiveTasks,
      dagRunningRuns: usage.dagRunningRuns,
      maxActiveRuns: dag.maxActiveRuns,
      now: new Date(),
    });
  }
  return {
    ti,
    task,
    tries,
    result,
    waiting,
    selectedTry: selectedTry ?? defaultTry(ti),
    now: new Date(),
    notice,
  };
}

/** After an action: the summary as it is now, with a notice. */
async function summaryAfter(c: UiContext, mapIndex: number | null, notice: string) {
  const [ti] = await findInstances(c, mapIndex ?? -1);
  return <TiSummary {...await summaryProps(c, ti, null, notice)} />;
}

const clearForm = z.object({ downstream: z.literal("true").optional() });
const markForm = z.object({ state: z.enum(["success", "failed"]) });

export const taskInstanceUi = new Hono<AppEnv>()
  .get("/", async (c) => {
    const { db } = c.get("deps");
    const mapIndex = intParam(c.req.query("map"));
    const instances = await findInstances(c, mapIndex);
    if (instances.length === 0) return missing(c);
    const base = await loadDag(db, c.req.param("dagId")!);
    if (!base) return missing(c);
    if (mapIndex === null && (instances.length > 1 || instances[0].mapIndex >= 0)) {
      return page(c, <MappedPage {...base} instances={instances} />);
    }
    const ti = instances[0];
    const summary = await summaryProps(c, ti, intParam(c.req.query("try")));
    if (wantsFragment(c)) return fragment(c, <TiSummary {...summary} />);
    const live = logIsLive(ti, summary.selectedTry);
    const lines = await readLogs(db.sql, ti.id, summary.selectedTry, 0, LOG_PAGE_LINES + 1);
    const log = {
      tiUrl: tiAddress(ti),
      tryNumber: summary.selectedTry,
      lines: lines.slice(0, LOG_PAGE_LINES),
      live,
      truncated: lines.length > LOG_PAGE_LINES,
    };
    return page(c, <TiPage {...base} summary={summary} log={log} />);
  })
  .get("/log", async (c) => {
    const { db } = c.get("deps");
    const [ti] = await findInstances(c, intParam(c.req.query("map")) ?? -1);
    const tryNumber = intParam(c.req.query("try"));
    if (!ti || tryNumber === null) return missing(c);
    const after = intParam(c.req.query("after")) ?? 0;
    // The state first, then the lines: a worker writes its last lines before it ends the try,
    // so lines read after seeing the try end are all of them.
    const live = logIsLive(ti, tryNumber);
    const lines = await readLogs(db.sql, ti.id, tryNumber, after, LOG_CHUNK_LINES + 1);
    const full = lines.length > LOG_CHUNK_LINES;
    const shown = lines.slice(0, LOG_CHUNK_LINES);
    return fragment(
      c,
      <>
        <LogLines lines={shown} />
        {live || full
          ? (
            <LogTail
              tiUrl={tiAddress(ti)}
              tryNumber={tryNumber}
              after={shown.at(-1)?.id ?? after}
              full={full}
            />
          )
          : <div class="muted ended">End of try {tryNumber}</div>}
      </>,
    );
  })
  .post("/clear", async (c) => {
    const { db } = c.get("deps");
    const { dagId, runId, taskId } = c.req.param() as Record<string, string>;
    const mapIndex = intParam(c.req.query("map"));
    const form = clearForm.safeParse(await formFields(c));
    if (!form.success) return c.text("Expected downstream=true or nothing", 400);
    const [ti] = await findInstances(c, mapIndex ?? -1);
    if (!ti) return missing(c);
    const cleared = await clearTaskInstances(db, {
      dagId,
      runId,
      taskIds: [taskId],
      includeDownstream: form.data.downstream === "true",
      now: new Date(),
    }, auditClear(c, dagId));
    await wakeScheduler(db);
    return await answer(
      c,
      () => summaryAfter(c, mapIndex, `Cleared ${cleared.length} task instance(s)`),
      tiAddress(ti),
    );
  })
  .post("/mark", async (c) => {
    const { db } = c.get("deps");
    const { taskId } = c.req.param() as Record<string, string>;
    const mapIndex = intParam(c.req.query("map"));
    const form = markForm.safeParse(await formFields(c));
    if (!form.success) return c.text("Expected state=success or state=failed", 400);
    const [ti] = await findInstances(c, mapIndex ?? -1);
    if (!ti) return missing(c);
    const marked = await markTaskInstances(db, {
      dagRunId: ti.dagRunId,
      taskId,
      mapIndex,
      state: form.data.state,
      now: new Date(),
    }, auditMarkTasks(c, ti.dagId, ti.runId, form.data.state));
    await wakeScheduler(db);
    const notice = marked.length ? `Marked ${form.data.state}` : `Already ${form.data.state}`;
    return await answer(c, () => summaryAfter(c, mapIndex, notice), tiAddress(ti));
  });

/** `/ti/:id`: the grid's short links. */
export const tiRedirect = new Hono<AppEnv>().get("/:id", async (c) => {
  const id = intParam(c.req.param("id"));
  const where = id === null ? null : await locateTaskInstance(c.get("deps").db.sql, id);
  if (!where) return notFound(c, `There is no task instance ${c.req.param("id")}`);
  return c.redirect(tiAddress(where), 302);
});
