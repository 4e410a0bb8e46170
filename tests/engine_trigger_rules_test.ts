/**
 * The example DAG `example_trigger_rules` run end to end: every rule's task ends in the state
 * Airflow gives it, propagation included, and the run is judged by its leaf.
 */
import assert from "node:assert/strict";
import { dbTest, startEngine, taskLog, taskStates } from "./helpers.ts";

const DAGS = new URL("../dags", import.meta.url).pathname;

dbTest("every trigger rule's task ends in the state Airflow gives it", async (_t, db) => {
  const engine = await startEngine(db, DAGS);
  try {
    const { dagRunId, state } = await engine.run("example_trigger_rules");
    assert.deepEqual(await taskStates(db, dagRunId), {
      // The sources.
      succeeds: "success",
      fails: "failed",
      gate: "success",
      skipped: "skipped",
      blocked: "upstream_failed",
      prepare: "success",
      // One task per rule.
      all_success: "skipped",
      all_failed: "success",
      all_done: "success",
      all_done_min_one_success: "upstream_failed",
      all_done_setup_success: "success",
      all_skipped: "success",
      one_success: "success",
      one_failed: "skipped",
      one_done: "success",
      none_failed: "upstream_failed",
      none_failed_min_one_success: "success",
      none_skipped: "skipped",
      always: "success",
      // Propagation below the rules.
      after_skipped: "skipped",
      after_upstream_failed: "upstream_failed",
      report: "success",
    });
    // `fails` failed, but the only leaf (`report`) succeeded: Airflow judges a run by its leaves.
    assert.equal(state, "success");

    const [report] = await db.sql<{ value: unknown }>`
      SELECT x.value FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
      WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = 'report'`;
    assert.deepEqual(report.value, [
      "all_done",
      "all_done_setup_success",
      "all_failed",
      "all_skipped",
      "always",
      "none_failed_min_one_success",
      "one_done",
      "one_success",
    ]);
    const [always] = await db.sql<{ value: unknown }>`
      SELECT x.value FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
      WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = 'always'`;
    assert.equal(always.value, "always ran");
    assert.ok(
      (await taskLog(db, dagRunId, "fails")).some((l) => l.includes("this task fails on purpose")),
    );
    // A task a rule finalised (skipped, upstream_failed) never ran: it has no try at all.
    const tried = await db.sql<{ taskId: string }>`
      SELECT DISTINCT ti.task_id AS "taskId" FROM task_try tt
      JOIN task_instance ti ON ti.id = tt.ti_id
      WHERE ti.dag_run_id = ${dagRunId} ORDER BY 1`;
    const ran = Object.entries(await taskStates(db, dagRunId))
      .filter(([, s]) => s === "success" || s === "failed").map(([id]) => id).sort();
    assert.deepEqual(tried.map((r) => r.taskId), ran);
  } finally {
    await engine.close();
  }
});
