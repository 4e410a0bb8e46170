/**
 * Tasks that return nothing, as Airflow treats them: no stored result (no `return_value` XCom),
 * read as null downstream (a mapped task's list keeps its positions), and a try that returns
 * nothing after an earlier one returned a value leaves no stale result behind.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { clearTaskInstances } from "../scheduler/clear.ts";
import { runToCompletion } from "../scheduler/local_run.ts";
import { triggerRun } from "../scheduler/trigger_run.ts";
import { dagFolder, dbTest, loadDags, testWorker } from "./helpers.ts";

const DAGS = {
  "nothing.ts": `
    import { dag } from "gust";
    export default dag({ id: "nothing" }, (t) => {
      const quiet = t.task("quiet", () => {});
      const some = t.task("some", { expand: { n: [1, 2, 3] } }, (_ctx, { n }) => n === 2 ? undefined : n);
      const changes = t.task("changes", (ctx) => ctx.tryNumber === 1 ? "first try" : undefined);
      t.task("reader", { inputs: { quiet, some, changes } },
        (ctx, inputs) => ({ inputs, upstream: ctx.upstream }));
    });
  `,
};

/** Stored results of one run, as `task[i]` (or `task`) to value. */
async function storedResults(db: Db, dagRunId: number): Promise<Record<string, unknown>> {
  const rows = await db.sql<{ taskId: string; mapIndex: number; value: unknown }>`
    SELECT ti.task_id AS "taskId", ti.map_index AS "mapIndex", x.value
    FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
    WHERE ti.dag_run_id = ${dagRunId} AND x.key = 'return_value'
    ORDER BY ti.task_id, ti.map_index`;
  return Object.fromEntries(
    rows.map((r) => [r.mapIndex >= 0 ? `${r.taskId}[${r.mapIndex}]` : r.taskId, r.value]),
  );
}

dbTest(
  "a task that returns nothing stores no result and reads as null, in its place in a mapped list",
  async (_t, db) => {
    const folder = await dagFolder(DAGS);
    const clock = () => new Date();
    await loadDags(db, folder, clock());
    const { runners, worker } = testWorker(db, folder);
    try {
      const { dagRunId, runId } = await triggerRun(db, { dagId: "nothing", now: clock() });
      assert.equal(await runToCompletion({ db, worker, dagRunId, clock }), "success");
      const first = await storedResults(db, dagRunId);
      const read = {
        inputs: { quiet: null, some: [1, null, 3], changes: "first try" },
        upstream: { quiet: null, some: [1, null, 3], changes: "first try" },
      };
      assert.deepEqual(first, {
        "changes": "first try",
        "reader": read,
        "some[0]": 1,
        "some[2]": 3,
      });

      // Cleared, "changes" runs a second try that returns nothing: the first try's result goes.
      const cleared = await clearTaskInstances(db, {
        dagId: "nothing",
        runId,
        taskIds: ["changes"],
        includeDownstream: true,
        now: clock(),
      });
      assert.deepEqual(cleared.map((c) => c.taskId).sort(), ["changes", "reader"]);
      assert.equal(await runToCompletion({ db, worker, dagRunId, clock }), "success");
      const [changes] = await db.sql<{ tryNumber: number }>`
        SELECT try_number AS "tryNumber" FROM task_instance
        WHERE dag_run_id = ${dagRunId} AND task_id = 'changes'`;
      assert.equal(changes.tryNumber, 2);
      const nulls = { quiet: null, some: [1, null, 3], changes: null };
      assert.deepEqual(await storedResults(db, dagRunId), {
        "reader": { inputs: nulls, upstream: nulls },
        "some[0]": 1,
        "some[2]": 3,
      });
    } finally {
      worker.stop();
      await runners.close();
    }
  },
);
