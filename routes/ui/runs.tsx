/** `/dags/:dagId/runs/:runId`: one run, and its actions: clear it, mark it success or failed. */
import { Hono } from "hono";
import { z } from "zod";
import { getDagVersion } from "../../db/dags.ts";
import { getRunDetail, runTaskInstances } from "../../db/ui_runs.ts";
import { clearTaskInstances } from "../../scheduler/clear.ts";
import { markRun } from "../../scheduler/mark.ts";
import { urls } from "../../views/format.ts";
import { RunDetails, type RunDetailsProps, RunPage } from "../../views/run_page.tsx";
import { insertAudit } from "../../db/audit_log.ts";
import { auditClear, auditEntry } from "../auth_audit.ts";
import type { AppEnv } from "../mod.ts";
import {
  answer,
  formFields,
  fragment,
  loadDag,
  notFound,
  page,
  type UiContext,
  wakeScheduler,
  wantsFragment,
} from "./common.tsx";

async function runProps(c: UiContext, notice?: string): Promise<RunDetailsProps | null> {
  const { db } = c.get("deps");
  const dagId = c.req.param("dagId")!;
  const base = await loadDag(db, dagId);
  if (!base) return null;
  const run = await getRunDetail(db.sql, dagId, c.req.param("runId")!);
  if (!run) return null;
  const [tis, version] = await Promise.all([
    runTaskInstances(db.sql, run.id),
    getDagVersion(db.sql, run.dagVersionId),
  ]);
  return { ...base, run, runDag: version.serialized, tis, now: new Date(), notice };
}

const markForm = z.object({ state: z.enum(["success", "failed"]) });

function missing(c: UiContext) {
  return notFound(c, `DAG "${c.req.param("dagId")}" has no run "${c.req.param("runId")}"`);
}

export const runUi = new Hono<AppEnv>()
  .get("/", async (c) => {
    const props = await runProps(c);
    if (!props) return missing(c);
    if (wantsFragment(c)) return fragment(c, <RunDetails {...props} />);
    return page(c, <RunPage {...props} />);
  })
  .post("/clear", async (c) => {
    const { db } = c.get("deps");
    const dagId = c.req.param("dagId")!;
    const runId = c.req.param("runId")!;
    if (!await getRunDetail(db.sql, dagId, runId)) return missing(c);
    const cleared = await clearTaskInstances(
      db,
      { dagId, runId, now: new Date() },
      auditClear(c, dagId),
    );
    await wakeScheduler(db);
    return await answer(
      c,
      async () => (
        <RunDetails {...(await runProps(c, `Cleared ${cleared.length} task instance(s)`))!} />
      ),
      urls.run(dagId, runId),
    );
  })
  .post("/mark", async (c) => {
    const { db } = c.get("deps");
    const dagId = c.req.param("dagId")!;
    const runId = c.req.param("runId")!;
    const form = markForm.safeParse(await formFields(c));
    if (!form.success) return c.text("Expected state=success or state=failed", 400);
    const run = await getRunDetail(db.sql, dagId, runId);
    if (!run) return missing(c);
    const target = { dagId, runId, logicalDate: run.logicalDate };
    await markRun(
      db,
      { dagRunId: run.id, state: form.data.state, now: new Date() },
      (tx) => insertAudit(tx, auditEntry(c, "mark_run", target, { state: form.data.state })),
    );
    await wakeScheduler(db);
    return await answer(
      c,
      async () => <RunDetails {...(await runProps(c, `Marked ${form.data.state}`))!} />,
      urls.run(dagId, runId),
    );
  });
