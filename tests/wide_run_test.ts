/**
 * Wide runs (a thousand mapped instances and more): the scheduler asks such a run whether an
 * evaluation could change anything before it reads every instance. The question's answers, each
 * way, and wide runs that need the evaluation after all (a retry that comes due, a downstream
 * task, the run's end) still move on.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { takeChangesAndCheckWork } from "../db/task_instances.ts";
import { recordRunChanges } from "../db/run_changes.ts";
import { triggerRun } from "../scheduler/trigger_run.ts";
import { dagFolder, dbTest, loadDags, startEngine, TestClock, within } from "./helpers.ts";

const WIDTH = 1200; // above the scheduler's 1,000 instances of a wide run

const DAGS = {
  "three.ts": `
    import { dag } from "gust";
    export default dag({ id: "three" }, (t) => {
      const a = t.task("a", () => 1);
      t.task("b", { dependsOn: [a] }, () => 2);
      t.task("c", { dependsOn: [a] }, () => 3);
    });
  `,
  "wide_map.ts": `
    import { dag } from "gust";
    export default dag({ id: "wide_map", maxActiveTasks: ${WIDTH} }, (t) => {
      const items = t.task("items", () => Array.from({ length: ${WIDTH} }, (_, i) => i));
      t.task("each", { expand: { i: items }, maxMapLength: ${WIDTH}, retries: 1, retryDelay: "30s" },
        (ctx, { i }) => {
          if (i === 7 && ctx.tryNumber === 1) throw new Error("seven fails once");
          return i;
        });
    });
  `,
  "wide_reduce.ts": `
    import { dag } from "gust";
    export default dag({ id: "wide_reduce", maxActiveTasks: ${WIDTH} }, (t) => {
      const items = t.task("items", () => Array.from({ length: ${WIDTH} }, (_, i) => i));
      const doubled = t.task("double", { expand: { i: items }, maxMapLength: ${WIDTH} },
        (_ctx, { i }) => i * 2);
      t.task("total", { inputs: { doubled } },
        (_ctx, { doubled }) => doubled.reduce((a, b) => a + b, 0));
    });
  `,
};

let folder: Promise<string> | null = null;
const dags = () => (folder ??= dagFolder(DAGS));

async function setStates(db: Db, dagRunId: number, states: Record<string, string | null>) {
  for (const [taskId, state] of Object.entries(states)) {
    await db.sql`
      UPDATE task_instance SET state = ${state} WHERE dag_run_id = ${dagRunId} AND task_id = ${taskId}`;
  }
}

dbTest(
  "a run has work only with an instance in none, a due retry, or nothing unfinished",
  async (_t, db) => {
    const now = new Date("2025-06-01T00:00:00Z");
    await loadDags(db, await dags(), now);
    const { dagRunId } = await triggerRun(db, { dagId: "three", now });
    const work = () => takeChangesAndCheckWork(db.sql, dagRunId, now);

    assert.equal(await work(), true, "instances in none (a new run: b and c wait for a)");
    await setStates(db, dagRunId, { a: "success", b: "running", c: "queued" });
    await recordRunChanges(db.sql, [dagRunId]);
    assert.equal(await work(), false, "all scheduled, on their way or done");
    const [changes] = await db.sql<{ n: number }>`
    SELECT count(*)::int AS n FROM dag_run_change WHERE dag_run_id = ${dagRunId}`;
    assert.equal(changes.n, 0, "the run's changes are taken");

    await setStates(db, dagRunId, { c: null });
    assert.equal(await work(), true, "one instance back in none");
    await setStates(db, dagRunId, { c: "scheduled" });
    await db.sql`
    UPDATE task_instance SET state = 'up_for_retry', next_retry_at = ${new Date(
      now.getTime() + 1000,
    )}
    WHERE dag_run_id = ${dagRunId} AND task_id = 'b'`;
    assert.equal(await work(), false, "a retry that is not due yet");
    await db.sql`
    UPDATE task_instance SET next_retry_at = ${now} WHERE dag_run_id = ${dagRunId} AND task_id = 'b'`;
    assert.equal(await work(), true, "a retry that is due");
    await setStates(db, dagRunId, { b: "failed", c: "skipped" });
    assert.equal(await work(), true, "nothing unfinished: the run can end");
  },
);

dbTest(
  "a wide map moves on through a retry, to its end and to its downstream task",
  async (_t, db) => {
    const clock = new TestClock();
    const engine = await startEngine(db, await dags(), { clock, concurrency: 8 });
    try {
      const map = await within(
        120,
        "the wide map to end",
        engine.run("wide_map", {
          onIdle(next) {
            if (next) clock.set(next);
            return Promise.resolve();
          },
        }),
      );
      assert.equal(map.state, "success");
      const [each] = await db.sql<{ n: number; retried: number }>`
      SELECT count(*) FILTER (WHERE state = 'success')::int AS n,
        count(*) FILTER (WHERE try_number = 2)::int AS retried
      FROM task_instance WHERE dag_run_id = ${map.dagRunId} AND task_id = 'each'`;
      assert.deepEqual(each, { n: WIDTH, retried: 1 });
      // The grid's version of a finished run (migration 012) counts its ending, and nothing that
      // the run's own tasks wrote while it ran.
      const [versions] = await db.sql<{ n: number }>`
      SELECT count(*)::int AS n FROM finished_run_version WHERE dag_run_id = ${map.dagRunId}`;
      assert.equal(versions.n, 1);

      const reduce = await within(60, "the wide map-reduce to end", engine.run("wide_reduce"));
      assert.equal(reduce.state, "success");
      const [total] = await db.sql<{ value: number }>`
      SELECT x.value FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
      WHERE ti.dag_run_id = ${reduce.dagRunId} AND ti.task_id = 'total'`;
      assert.equal(total.value, WIDTH * (WIDTH - 1));
    } finally {
      await engine.close();
    }
  },
);
