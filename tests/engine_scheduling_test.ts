/**
 * What decides when a ready task may start: depends_on_past across runs, pool slots and
 * priority weights.
 */
import assert from "node:assert/strict";
import { dagFolder, dbTest, startEngine, taskLog, taskStates } from "./helpers.ts";

const DAGS = {
  "past.ts": `
    import { dag } from "gust";
    import { z } from "zod";
    export default dag({ id: "past", params: z.object({ fail: z.boolean().default(false) }) }, (t) => {
      t.task("step", { dependsOnPast: true }, (ctx) => {
        if (ctx.params.fail) throw new Error("failed on purpose");
        return "ok";
      });
      t.task("free", () => "ok");
    });
  `,
  "pools.ts": `
    import { dag } from "gust";
    export default dag({ id: "pools" }, (t) => {
      for (const id of ["a", "b", "c"]) {
        t.task(id, { pool: "single" }, async () => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return id;
        });
      }
    });
  `,
  "missing_pool.ts": `
    import { dag } from "gust";
    export default dag({ id: "missing_pool" }, (t) => {
      t.task("orphan", { pool: "no_such_pool" }, () => "never runs");
    });
  `,
  "priorities.ts": `
    import { dag } from "gust";
    export default dag({ id: "priorities" }, (t) => {
      t.task("low", { priorityWeight: 1 }, () => 1);
      t.task("mid", { priorityWeight: 5 }, () => 5);
      t.task("high", { priorityWeight: 10 }, () => 10);
      // Weights add up downstream, as Airflow's default rule: root weighs 1 + 20.
      const root = t.task("root", { priorityWeight: 1 }, () => 21);
      t.task("heavy_child", { dependsOn: [root], priorityWeight: 20 }, () => 20);
    });
  `,
};

let folder: Promise<string> | null = null;
const dags = () => (folder ??= dagFolder(DAGS));

class Idle extends Error {}

dbTest("a depends_on_past task waits while its previous run's instance failed", async (_t, db) => {
  const engine = await startEngine(db, await dags());
  try {
    const first = await engine.run("past");
    assert.equal(first.state, "success"); // no previous run: it runs

    const second = await engine.run("past", { conf: { fail: true } });
    assert.equal(second.state, "failed");
    assert.equal((await taskStates(db, second.dagRunId)).step, "failed");

    // The third run can only wait: stop driving it once nothing else can happen.
    await assert.rejects(
      engine.run("past", {
        onIdle: () => {
          throw new Idle();
        },
      }),
      Idle,
    );
    const [third] = await db.sql<{ id: number; state: string }>`
      SELECT id, state FROM dag_run WHERE dag_id = 'past' ORDER BY id DESC LIMIT 1`;
    assert.equal(third.state, "running");
    assert.deepEqual(await taskStates(db, third.id), { free: "success", step: null });
  } finally {
    await engine.close();
  }
});

dbTest(
  "tasks of a one-slot pool never overlap, and a missing pool fails its task",
  async (t, db) => {
    await db.sql`INSERT INTO pool (name, slots) VALUES ('single', 1)`;
    const engine = await startEngine(db, await dags(), { concurrency: 4 });
    try {
      await t.step("one slot: one task at a time", async () => {
        const { dagRunId, state } = await engine.run("pools");
        assert.equal(state, "success");
        const tries = await db.sql<{ taskId: string; start: Date; end: Date }>`
        SELECT ti.task_id AS "taskId", tt.start_date AS start, tt.end_date AS end
        FROM task_try tt JOIN task_instance ti ON ti.id = tt.ti_id
        WHERE ti.dag_run_id = ${dagRunId} ORDER BY tt.start_date`;
        assert.equal(tries.length, 3);
        for (let i = 1; i < tries.length; i++) {
          assert.ok(
            tries[i].start >= tries[i - 1].end,
            `${tries[i].taskId} started before ${tries[i - 1].taskId} ended`,
          );
        }
      });

      await t.step("a pool that does not exist fails the task, saying so", async () => {
        const { dagRunId, state } = await engine.run("missing_pool");
        assert.equal(state, "failed");
        assert.deepEqual(await taskStates(db, dagRunId), { orphan: "failed" });
        const [log] = await db.sql<{ line: string }>`
        SELECT l.line FROM task_log l JOIN task_instance ti ON ti.id = l.ti_id
        WHERE ti.dag_run_id = ${dagRunId}`;
        assert.match(log.line, /Pool "no_such_pool" does not exist/);
        assert.deepEqual(await taskLog(db, dagRunId, "orphan"), []); // it never had a try
      });
    } finally {
      await engine.close();
    }
  },
);

dbTest(
  "higher priority weights, summed downstream, are queued and started first",
  async (_t, db) => {
    const engine = await startEngine(db, await dags(), { concurrency: 1 });
    try {
      const { dagRunId, state } = await engine.run("priorities");
      assert.equal(state, "success");
      const weights = await db.sql<{ taskId: string; weight: number }>`
      SELECT task_id AS "taskId", priority_weight AS weight FROM task_instance
      WHERE dag_run_id = ${dagRunId} ORDER BY task_id`;
      assert.deepEqual(Object.fromEntries(weights.map((w) => [w.taskId, w.weight])), {
        heavy_child: 20,
        high: 10,
        low: 1,
        mid: 5,
        root: 21,
      });
      const started = engine.events.filter((e) => e.type === "started").map((e) => e.ti.taskId);
      assert.deepEqual(started, ["root", "heavy_child", "high", "mid", "low"]);
    } finally {
      await engine.close();
    }
  },
);
