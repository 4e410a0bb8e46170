/** `/api/v2/backfills` and `/api/v2/backfills/dry_run`: runs for past logical dates. */
import { Hono } from "hono";
import { backfill } from "../../scheduler/backfill.ts";
import { TriggerError } from "../../scheduler/trigger_run.ts";
import { insertAudit } from "../../db/audit_log.ts";
import { auditEntry } from "../auth_audit.ts";
import type { AppEnv } from "../mod.ts";
import { type ApiContext, body, validationError } from "./common.ts";
import { requireDag } from "./dag_runs.ts";
import { BackfillPostBody } from "./schemas.ts";
import { now, wakeScheduler } from "./util.ts";

async function runBackfill(c: ApiContext, dryRun: boolean) {
  const { db } = c.get("deps");
  const b = await body(c, BackfillPostBody);
  await requireDag(c, b.dag_id, true);
  const at = now(c);
  try {
    const result = await backfill(db, {
      dagId: b.dag_id,
      from: new Date(b.from_date),
      to: new Date(b.to_date),
      reprocess: b.reprocess_behavior,
      conf: b.dag_run_conf,
      maxActiveRuns: b.max_active_runs,
      dryRun,
      now: at,
    }, (tx, backfillId) =>
      insertAudit(
        tx,
        auditEntry(c, "backfill", { dagId: b.dag_id }, {
          backfill_id: backfillId,
          from_date: b.from_date,
          to_date: b.to_date,
          reprocess_behavior: b.reprocess_behavior,
        }),
      ));
    if (dryRun) {
      const backfills = result.plan.filter((p) => p.action !== "skip").map((p) => ({
        logical_date: p.logicalDate.toISOString(),
      }));
      return c.json({ backfills, total_entries: backfills.length });
    }
    await wakeScheduler(db);
    return c.json({
      id: result.backfillId!,
      dag_id: b.dag_id,
      from_date: new Date(b.from_date).toISOString(),
      to_date: new Date(b.to_date).toISOString(),
      dag_run_conf: b.dag_run_conf,
      is_paused: false,
      reprocess_behavior: b.reprocess_behavior,
      max_active_runs: b.max_active_runs,
      created_at: at.toISOString(),
      completed_at: null,
      updated_at: at.toISOString(),
      dag_display_name: b.dag_id,
    });
  } catch (error) {
    if (!(error instanceof TriggerError)) throw error;
    validationError(
      error.issues.length
        ? error.issues.map((msg) => ({ type: "value_error", loc: ["body", "dag_run_conf"], msg }))
        : [{ type: "value_error", loc: ["body"], msg: error.message }],
    );
  }
}

export const backfills = new Hono<AppEnv>()
  .post("/", (c) => runBackfill(c, false))
  .post("/dry_run", (c) => runBackfill(c, true));
