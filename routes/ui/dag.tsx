/**
 * `/dags/:dagId/...`: one DAG's grid (with its trigger form), graph, runs, code and versions,
 * and its actions: trigger a run, pause or unpause.
 */
import { Hono } from "hono";
import { z } from "zod";
import { getVersionSource, listDagVersions } from "../../db/ui_dags.ts";
import { getRunDetail, listRecentRuns, runTaskStates } from "../../db/ui_runs.ts";
import { TriggerError, triggerRun } from "../../scheduler/trigger_run.ts";
import {
  CodePage,
  GraphPage,
  GridPage,
  RUNS_PER_PAGE,
  RunsPage,
  VersionsPage,
} from "../../views/dag_pages.tsx";
import type { DagPageBase } from "../../views/dag_header.tsx";
import { urls } from "../../views/format.ts";
import { Graph, type GraphProps } from "../../views/graph.tsx";
import { Grid } from "../../views/grid.tsx";
import { PauseToggle } from "../../views/pause_toggle.tsx";
import { issuesByField, paramFields, parseTriggerForm } from "../../views/param_fields.ts";
import { TriggerForm, type TriggerFormProps } from "../../views/trigger_form.tsx";
import { auditTrigger, setPausedAudited } from "../auth_audit.ts";
import type { AppEnv } from "../mod.ts";
import { conditional } from "./cache.ts";
import {
  answer,
  formFields,
  fragment,
  intParam,
  loadDag,
  notFound,
  page,
  safeBack,
  type UiContext,
  wakeScheduler,
  wantsFragment,
} from "./common.tsx";
import { GRID_RUNS, gridProps, readGridMarker } from "./grid_data.ts";

async function withDag(c: UiContext): Promise<DagPageBase | null> {
  return await loadDag(c.get("deps").db, c.req.param("dagId")!);
}

/** The grid page with the trigger form as given (open when it has something to show). */
async function gridPage(
  c: UiContext,
  base: DagPageBase,
  trigger: TriggerFormProps,
  status: 200 | 422,
) {
  const open = c.req.query("trigger") !== undefined || Boolean(trigger.errors || trigger.created);
  return page(
    c,
    <GridPage {...base} grid={await gridProps(c, base)} trigger={trigger} triggerOpen={open} />,
    status,
  );
}

const pauseForm = z.object({ paused: z.enum(["true", "false"]), back: z.string().optional() });

export const dagUi = new Hono<AppEnv>()
  .get("/", conditional(readGridMarker), async (c) => {
    const base = await withDag(c);
    if (!base) return notFound(c, `DAG "${c.req.param("dagId")}" does not exist`);
    if (wantsFragment(c)) return fragment(c, <Grid {...await gridProps(c, base)} />);
    const trigger = {
      dagId: base.header.dagId,
      paramsSchema: base.dag.paramsSchema,
      isPaused: base.header.isPaused,
    };
    return await gridPage(c, base, trigger, 200);
  })
  .post("/trigger", async (c) => {
    const { db } = c.get("deps");
    const base = await withDag(c);
    if (!base?.header.isActive) return notFound(c, `DAG "${c.req.param("dagId")}" does not exist`);
    const dagId = base.header.dagId;
    const fields = paramFields(base.dag.paramsSchema);
    const parsed = parseTriggerForm(fields, await formFields(c));
    const props: TriggerFormProps = {
      dagId,
      paramsSchema: base.dag.paramsSchema,
      isPaused: base.header.isPaused,
      values: parsed.values,
    };
    const refuse = (errors: TriggerFormProps["errors"]) =>
      wantsFragment(c)
        ? fragment(c, <TriggerForm {...props} errors={errors} />, 422)
        : gridPage(c, base, { ...props, errors }, 422);
    if (Object.keys(parsed.errors).length) {
      return await refuse({ fields: parsed.errors, general: [] });
    }
    let runId: string;
    try {
      ({ runId } = await triggerRun(db, {
        dagId,
        conf: parsed.conf,
        triggeredBy: "ui",
        now: new Date(),
      }, auditTrigger(c, dagId)));
    } catch (error) {
      if (!(error instanceof TriggerError)) throw error;
      return await refuse(
        error.problem === "invalid_conf"
          ? issuesByField(fields, error.issues)
          : { fields: {}, general: [error.message] },
      );
    }
    await wakeScheduler(db);
    if (!wantsFragment(c)) return c.redirect(urls.run(dagId, runId), 303);
    c.header("HX-Trigger", "runs-changed"); // the grid on the same page refreshes at once
    return fragment(c, <TriggerForm {...props} values={undefined} created={{ runId }} />);
  })
  .post("/pause", async (c) => {
    const { db } = c.get("deps");
    const dagId = c.req.param("dagId")!;
    const form = pauseForm.safeParse(await formFields(c));
    if (!form.success) return c.text("Expected paused=true or paused=false", 400);
    if (await setPausedAudited(c, dagId, form.data.paused === "true") === null) {
      return notFound(c, `DAG "${dagId}" does not exist`);
    }
    if (form.data.paused === "false") await wakeScheduler(db);
    return await answer(
      c,
      () => (
        <PauseToggle dagId={dagId} isPaused={form.data.paused === "true"} back={form.data.back} />
      ),
      safeBack(form.data.back, urls.dag(dagId)),
    );
  })
  .get("/graph", async (c) => {
    const { db } = c.get("deps");
    const base = await withDag(c);
    if (!base) return notFound(c, `DAG "${c.req.param("dagId")}" does not exist`);
    const dagId = base.header.dagId;
    const { runs } = await listRecentRuns(db.sql, dagId, GRID_RUNS);
    const wanted = c.req.query("run");
    const run = wanted
      ? runs.find((r) => r.runId === wanted) ?? await getRunDetail(db.sql, dagId, wanted)
      : runs[0] ?? null;
    if (wanted && !run) return notFound(c, `DAG "${dagId}" has no run "${wanted}"`);
    const graph: GraphProps = {
      dagId,
      dag: base.dag,
      run: run ?? null,
      states: run ? await runTaskStates(db.sql, run.id) : new Map(),
    };
    if (wantsFragment(c)) return fragment(c, <Graph {...graph} />);
    return page(c, <GraphPage {...base} graph={graph} runs={runs} />);
  })
  .get("/runs", async (c) => {
    const { db } = c.get("deps");
    const base = await withDag(c);
    if (!base) return notFound(c, `DAG "${c.req.param("dagId")}" does not exist`);
    const pageNumber = Math.max(1, intParam(c.req.query("page")) ?? 1);
    const { runs, more } = await listRecentRuns(
      db.sql,
      base.header.dagId,
      RUNS_PER_PAGE,
      (pageNumber - 1) * RUNS_PER_PAGE,
    );
    return page(c, <RunsPage {...base} runs={runs} page={pageNumber} more={more} />);
  })
  .get("/code", async (c) => {
    const { db } = c.get("deps");
    const base = await withDag(c);
    if (!base) return notFound(c, `DAG "${c.req.param("dagId")}" does not exist`);
    const version = await getVersionSource(
      db.sql,
      base.header.dagId,
      intParam(c.req.query("version")),
    );
    if (!version) return notFound(c, `DAG "${base.header.dagId}" has no such version`);
    return page(c, <CodePage {...base} version={version} />);
  })
  .get("/versions", async (c) => {
    const { db } = c.get("deps");
    const base = await withDag(c);
    if (!base) return notFound(c, `DAG "${c.req.param("dagId")}" does not exist`);
    const versions = await listDagVersions(db.sql, base.header.dagId);
    return page(c, <VersionsPage {...base} versions={versions} />);
  });
