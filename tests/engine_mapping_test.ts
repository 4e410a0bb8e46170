/**
 * Dynamic task mapping end to end: expansion from a task's result or a literal list, the cross
 * product of several keys, the order results reach downstream in, empty lists and bad sources.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { recordRunChanges } from "../db/run_changes.ts";
import { Scheduler } from "../scheduler/scheduler.ts";
import { triggerRun } from "../scheduler/trigger_run.ts";
import { dagFolder, dbTest, loadDags, startEngine, taskLog, taskStates } from "./helpers.ts";

const DAGS = {
  "map_order.ts": `
    import { dag } from "gust";
    export default dag({ id: "map_order" }, (t) => {
      // Three tasks at once leave three warm runners, so the instances below start together.
      const warm = ["warm_a", "warm_b", "warm_c"].map((id) => t.task(id, () => id));
      const numbers = t.task("numbers", { dependsOn: warm }, () => [3, 2, 1]);
      const tens = t.task("times_ten", { expand: { n: numbers } }, async (_ctx, { n }) => {
        // The first instances sleep longest, so they finish last.
        await new Promise((resolve) => setTimeout(resolve, n * 200));
        return n * 10;
      });
      t.task("collect", { inputs: { values: tens } }, (_ctx, { values }) => values);
    });
  `,
  "map_literal.ts": `
    import { dag } from "gust";
    export default dag({ id: "map_literal" }, (t) => {
      t.task("literal", { expand: { x: [1, 2, 3] } }, (ctx, { x }) => ctx.mapIndex + ":" + x * 2);
      t.task("pairs", { expand: { a: [1, 2], b: ["x", "y", "z"] } }, (_ctx, { a, b }) => a + b);
      const letters = t.task("letters", () => ["p", "q"]);
      t.task("mixed", { expand: { n: [1, 2], l: letters } }, (_ctx, { n, l }) => n + l);
    });
  `,
  "map_empty.ts": `
    import { dag } from "gust";
    export default dag({ id: "map_empty" }, (t) => {
      const nothing = t.task("nothing", () => []);
      const each = t.task("each", { expand: { x: nothing } }, (_ctx, { x }) => x);
      t.task("after_each", { inputs: { xs: each } }, (_ctx, { xs }) => xs.length);
      t.task("after_all_done", { dependsOn: [each], triggerRule: "all_done" }, () => "ran");
    });
  `,
  "map_wide.ts": `
    import { dag } from "gust";
    export default dag({ id: "map_wide" }, (t) => {
      const items = t.task("items", () => [] as number[]);
      t.task("each", { expand: { i: items }, maxMapLength: 5000 }, (_ctx, { i }) => i);
    });
  `,
  "map_bad.ts": `
    import { dag } from "gust";
    export default dag({ id: "map_bad" }, (t) => {
      const text = t.task("not_a_list", () => "abc");
      t.task("each_char", { expand: { c: text } }, (_ctx, { c }) => c);
      const many = t.task("too_many", () => [1, 2, 3]);
      t.task("each_number", { expand: { n: many }, maxMapLength: 2 }, (_ctx, { n }) => n);
    });
  `,
};

let folder: Promise<string> | null = null;
const dags = () => (folder ??= dagFolder(DAGS));

async function result(db: Db, dagRunId: number, taskId: string): Promise<unknown> {
  const rows = await db.sql<{ value: unknown }>`
    SELECT x.value FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
    WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = ${taskId} ORDER BY ti.map_index`;
  return rows.length === 1 ? rows[0].value : rows.map((r) => r.value);
}

dbTest(
  "mapped results reach downstream in map-index order, not in finishing order",
  async (_t, db) => {
    const engine = await startEngine(db, await dags());
    try {
      const { dagRunId, state } = await engine.run("map_order");
      assert.equal(state, "success");
      assert.deepEqual(await taskStates(db, dagRunId), {
        collect: "success",
        numbers: "success",
        "times_ten[0]": "success",
        "times_ten[1]": "success",
        "times_ten[2]": "success",
        warm_a: "success",
        warm_b: "success",
        warm_c: "success",
      });
      const ends = await db.sql<{ mapIndex: number }>`
      SELECT map_index AS "mapIndex" FROM task_instance
      WHERE dag_run_id = ${dagRunId} AND task_id = 'times_ten' ORDER BY end_date`;
      assert.deepEqual(ends.map((e) => e.mapIndex), [2, 1, 0], "instances finished in reverse");
      assert.deepEqual(await result(db, dagRunId, "collect"), [30, 20, 10]);
    } finally {
      await engine.close();
    }
  },
);

dbTest("literal lists expand, and several keys expand to their cross product", async (_t, db) => {
  const engine = await startEngine(db, await dags());
  try {
    const { dagRunId, state } = await engine.run("map_literal");
    assert.equal(state, "success");
    assert.deepEqual(await result(db, dagRunId, "literal"), ["0:2", "1:4", "2:6"]);
    // The last key varies fastest, as in Airflow.
    assert.deepEqual(await result(db, dagRunId, "pairs"), ["1x", "1y", "1z", "2x", "2y", "2z"]);
    assert.deepEqual(await result(db, dagRunId, "mixed"), ["1p", "1q", "2p", "2q"]);
    const states = await taskStates(db, dagRunId);
    assert.equal(Object.keys(states).filter((k) => k.startsWith("pairs[")).length, 6);
  } finally {
    await engine.close();
  }
});

dbTest("an empty list skips the mapped task and its all_success downstream", async (_t, db) => {
  const engine = await startEngine(db, await dags());
  try {
    const { dagRunId, state } = await engine.run("map_empty");
    assert.equal(state, "success");
    assert.deepEqual(await taskStates(db, dagRunId), {
      after_all_done: "success",
      after_each: "skipped",
      each: "skipped",
      nothing: "success",
    });
  } finally {
    await engine.close();
  }
});

dbTest(
  "mapping over a non-array or too long a list fails the source, saying why",
  async (_t, db) => {
    const engine = await startEngine(db, await dags());
    try {
      const { dagRunId, state } = await engine.run("map_bad");
      assert.equal(state, "failed");
      assert.deepEqual(await taskStates(db, dagRunId), {
        each_char: "upstream_failed",
        each_number: "upstream_failed",
        not_a_list: "failed",
        too_many: "failed",
      });
      assert.match(
        (await taskLog(db, dagRunId, "not_a_list")).join("\n"),
        /Task "each_char" maps over the result of "not_a_list", which must be an array, not string/,
      );
      assert.match(
        (await taskLog(db, dagRunId, "too_many")).join("\n"),
        /Task "each_number" would expand to 3 instances, over its maxMapLength of 2/,
      );
    } finally {
      await engine.close();
    }
  },
);

/** The planner's estimate of how many task instances are scheduled. */
async function estimatedScheduled(db: Db): Promise<number> {
  const [row] = await db.sql<{ plan: unknown }>`
    EXPLAIN (FORMAT JSON) SELECT id FROM task_instance WHERE state = 'scheduled'`.then((rows) =>
    rows.map((r) => ({ plan: Object.values(r as object)[0] }))
  );
  const plan = typeof row.plan === "string" ? JSON.parse(row.plan) : row.plan;
  return plan[0].Plan["Plan Rows"];
}

dbTest(
  "a wide expansion refreshes the planner's statistics, so slots are handed out by index",
  async (_t, db) => {
    const now = new Date();
    await loadDags(db, await dags(), now);
    const { dagRunId } = await triggerRun(db, { dagId: "map_wide", now });
    // The source task "succeeds" with 1,500 items, as a worker would record it.
    const [items] = await db.sql<{ id: number }>`
      UPDATE task_instance SET state = 'success', end_date = ${now}
      WHERE dag_run_id = ${dagRunId} AND task_id = 'items' RETURNING id`;
    const list = JSON.stringify(Array.from({ length: 1500 }, (_, i) => i));
    await db.sql`INSERT INTO xcom (ti_id, key, value, created_at)
      VALUES (${items.id}, 'return_value', ${list}::text::jsonb, ${now})`;
    await recordRunChanges(db.sql, [dagRunId]);
    assert.ok(await estimatedScheduled(db) < 100, "a new table: the planner guesses few rows");

    const scheduler = new Scheduler(db);
    const tick = await scheduler.tick();
    assert.equal(tick.runs[0].scheduled, 1500);
    await scheduler.statistics.settled();
    const estimate = await estimatedScheduled(db);
    assert.ok(estimate > 1000, `the planner expects ${estimate} scheduled rows, not about 1,500`);
  },
);
