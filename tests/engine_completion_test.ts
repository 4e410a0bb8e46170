/**
 * What a worker does when its tasks end (worker/completion.ts): it records outcomes in batches,
 * moves narrow runs forward itself, hands the pool slots it frees to the next tasks only where
 * the scheduler would have, and claims work into them, all in one transaction.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { setPaused } from "../db/dags.ts";
import { Scheduler } from "../scheduler/scheduler.ts";
import { triggerRun } from "../scheduler/trigger_run.ts";
import { dagFolder, dbTest, loadDags, taskStates, testWorker } from "./helpers.ts";

const DAGS = {
  "chain.ts": `
    import { dag } from "gust";
    export default dag({ id: "chain" }, (t) => {
      t.chain(...["a", "b", "c", "d"].map((id) => t.task(id, (ctx) => ctx.taskId)));
    });
  `,
  "pooled.ts": `
    import { dag } from "gust";
    export const first = dag({ id: "pooled_a" }, (t) => {
      const a1 = t.task("a1", { pool: "solo" }, async () => {
        await new Promise((r) => setTimeout(r, 300));
        return 1;
      });
      t.task("a2", { pool: "solo", dependsOn: [a1] }, () => 2);
    });
    export const second = dag({ id: "pooled_b" }, (t) => {
      t.task("b1", { pool: "solo", priorityWeight: 10 }, () => 3);
    });
  `,
  "pausable.ts": `
    import { dag } from "gust";
    export default dag({ id: "pausable" }, (t) => {
      const slow = t.task("slow", async () => {
        await new Promise((r) => setTimeout(r, 500));
        return 1;
      });
      t.task("after", { dependsOn: [slow] }, () => 2);
    });
  `,
  "wide.ts": `
    import { dag } from "gust";
    export default dag({ id: "wide", maxActiveTasks: 64 }, (t) => {
      for (let i = 0; i < 40; i++) t.task("t" + i, () => i);
    });
  `,
  "odd_result.ts": `
    import { dag } from "gust";
    export default dag({ id: "odd_result" }, (t) => {
      t.task("nul", () => "a\\u0000b");
    });
  `,
  "mapped.ts": `
    import { dag } from "gust";
    export default dag({ id: "mapped" }, (t) => {
      const items = t.task("items", () => [10, 20, 30]);
      t.task("each", { expand: { n: items } }, (ctx, { n }) => ({ n, seen: Object.keys(ctx.upstream) }));
    });
  `,
};

let folder: Promise<string> | null = null;
const dags = () => (folder ??= dagFolder(DAGS));

async function setup(db: Db, concurrency = 4) {
  const dir = await dags();
  await loadDags(db, dir, new Date());
  await db.sql`INSERT INTO pool (name, slots) VALUES ('solo', 1) ON CONFLICT DO NOTHING`;
  const { runners, worker } = testWorker(db, dir, { concurrency });
  const scheduler = new Scheduler(db);
  /** One scheduling pass, then the worker claims what it may and runs it to the end. */
  const pass = async () => {
    await scheduler.tick();
    await worker.claim();
    await worker.drain();
  };
  return {
    worker,
    scheduler,
    pass,
    /** Passes until the runs succeed, at most `limit` of them. */
    async untilSuccess(dagRunIds: number[], limit = 20) {
      for (let i = 0; i < limit; i++) {
        const states = await Promise.all(dagRunIds.map((id) => runState(db, id)));
        if (states.every((state) => state === "success")) return;
        await pass();
      }
    },
    async close() {
      worker.stop();
      await runners.close();
    },
  };
}

async function runState(db: Db, dagRunId: number): Promise<string> {
  const [row] = await db.sql<{ state: string }>`SELECT state FROM dag_run WHERE id = ${dagRunId}`;
  return row.state;
}

async function starts(db: Db, dagId: string): Promise<Record<string, Date>> {
  const rows = await db.sql<{ taskId: string; start: Date }>`
    SELECT ti.task_id AS "taskId", t.start_date AS start FROM task_try t
    JOIN task_instance ti ON ti.id = t.ti_id WHERE ti.dag_id = ${dagId}`;
  return Object.fromEntries(rows.map((r) => [r.taskId, r.start]));
}

dbTest(
  "a trigger queues the first task and the worker alone carries the chain to its end",
  async (_t, db) => {
    const e = await setup(db);
    try {
      // The trigger itself starts the run and queues "a": no scheduler pass at all.
      const { dagRunId } = await triggerRun(db, { dagId: "chain", now: new Date() });
      assert.equal(await runState(db, dagRunId), "running");
      assert.equal((await taskStates(db, dagRunId)).a, "queued");
      assert.equal(await e.worker.claim(), 1);
      await e.worker.drain(); // "a" and every task its completion claimed, and so on
      assert.equal(await runState(db, dagRunId), "success");
      assert.deepEqual(await taskStates(db, dagRunId), {
        a: "success",
        b: "success",
        c: "success",
        d: "success",
      });
    } finally {
      await e.close();
    }
  },
);

dbTest(
  "a freed slot goes to the next task of the same DAG only when it is the pool's next by priority",
  async (_t, db) => {
    const e = await setup(db, 1);
    try {
      const a = await triggerRun(db, { dagId: "pooled_a", now: new Date() });
      await e.scheduler.tick();
      assert.equal(await e.worker.claim(), 1); // a1 holds the pool's one slot
      const b = await triggerRun(db, { dagId: "pooled_b", now: new Date() });
      await e.scheduler.tick(); // b1 is scheduled, waiting for the slot
      await e.worker.drain(); // a1 ends: a2 is ready, but b1 outranks it in the pool
      // The worker leaves both to the scheduler: the slot is b1's, and b1 is another DAG's, whose
      // maxActiveTasks the worker's hand-over does not count.
      assert.equal((await taskStates(db, a.dagRunId)).a2, "scheduled");
      assert.equal((await taskStates(db, b.dagRunId)).b1, "scheduled");
      await e.untilSuccess([a.dagRunId, b.dagRunId], 50);
      const s = { ...(await starts(db, "pooled_a")), ...(await starts(db, "pooled_b")) };
      assert.ok(s.a1 < s.b1 && s.b1 < s.a2, `order by start: ${JSON.stringify(s)}`);
    } finally {
      await e.close();
    }
  },
);

dbTest("a paused DAG's run does not move on when its running task ends", async (_t, db) => {
  const e = await setup(db);
  try {
    const { dagRunId } = await triggerRun(db, { dagId: "pausable", now: new Date() });
    await e.scheduler.tick();
    assert.equal(await e.worker.claim(), 1);
    await setPaused(db.sql, "pausable", true);
    await e.worker.drain(); // "slow" ends while paused
    await e.pass();
    const paused = await taskStates(db, dagRunId);
    assert.equal(paused.slow, "success");
    assert.ok(paused.after === null || paused.after === "scheduled", `after: ${paused.after}`);
    await setPaused(db.sql, "pausable", false);
    await e.untilSuccess([dagRunId]);
    assert.equal(await runState(db, dagRunId), "success");
  } finally {
    await e.close();
  }
});

dbTest("tries that end together are each recorded once", async (_t, db) => {
  const e = await setup(db, 8);
  try {
    const { dagRunId } = await triggerRun(db, { dagId: "wide", now: new Date() });
    for (let i = 0; i < 100 && (await runState(db, dagRunId)) !== "success"; i++) {
      await e.scheduler.tick();
      await e.worker.claim();
      await e.worker.nextFinish();
    }
    await e.worker.drain();
    assert.equal(await runState(db, dagRunId), "success");
    const [counts] = await db.sql<{ tis: number; tries: number; results: number; maxTry: number }>`
      SELECT count(*)::int AS tis, max(try_number)::int AS "maxTry",
        (SELECT count(*)::int FROM task_try t JOIN task_instance i ON i.id = t.ti_id
          WHERE i.dag_run_id = ${dagRunId}) AS tries,
        (SELECT count(*)::int FROM xcom x JOIN task_instance i ON i.id = x.ti_id
          WHERE i.dag_run_id = ${dagRunId}) AS results
      FROM task_instance WHERE dag_run_id = ${dagRunId} AND state = 'success'`;
    assert.deepEqual(counts, { tis: 40, tries: 40, results: 40, maxTry: 1 });
  } finally {
    await e.close();
  }
});

dbTest("a result the database cannot store fails the task with the reason", async (_t, db) => {
  const e = await setup(db);
  try {
    const { dagRunId } = await triggerRun(db, { dagId: "odd_result", now: new Date() });
    await e.pass();
    assert.equal((await taskStates(db, dagRunId)).nul, "failed");
    const [tried] = await db.sql<{ error: { name: string; message: string } }>`
      SELECT t.error FROM task_try t JOIN task_instance i ON i.id = t.ti_id
      WHERE i.dag_run_id = ${dagRunId}`;
    assert.equal(tried.error.name, "ResultNotStored");
    assert.match(tried.error.message, /could not be stored/);
  } finally {
    await e.close();
  }
});

dbTest(
  "a mapped instance gets its own element, not the whole list in its upstream",
  async (_t, db) => {
    const e = await setup(db);
    try {
      const { dagRunId } = await triggerRun(db, { dagId: "mapped", now: new Date() });
      await e.untilSuccess([dagRunId]);
      const rows = await db.sql<{ value: unknown }>`
      SELECT x.value FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
      WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = 'each' ORDER BY ti.map_index`;
      assert.deepEqual(rows.map((r) => r.value), [
        { n: 10, seen: [] },
        { n: 20, seen: [] },
        { n: 30, seen: [] },
      ]);
    } finally {
      await e.close();
    }
  },
);

dbTest(
  "a task whose claim is in flight when the worker hands back is given back, not run",
  async (_t, db) => {
    const e = await setup(db);
    try {
      const { dagRunId } = await triggerRun(db, { dagId: "pausable", now: new Date() });
      await e.scheduler.tick();
      const claiming = e.worker.claim(); // its answer has not arrived yet
      await e.worker.handBack();
      assert.equal(await claiming, 1);
      await e.worker.drain();
      const [ti] = await db.sql<{ state: string; tryNumber: number }>`
      SELECT state, try_number AS "tryNumber" FROM task_instance
      WHERE dag_run_id = ${dagRunId} AND task_id = 'slow'`;
      assert.deepEqual(ti, { state: "queued", tryNumber: 0 });
    } finally {
      await e.close();
    }
  },
);

dbTest(
  "a worker with prefetch holds tasks beyond its concurrency, running no more at once",
  async (_t, db) => {
    const dir = await dags();
    await loadDags(db, dir, new Date());
    const events: string[] = [];
    const { runners, worker } = testWorker(db, dir, { concurrency: 2, prefetch: 2 });
    try {
      const { dagRunId } = await triggerRun(db, { dagId: "wide", now: new Date() });
      await new Scheduler(db).tick();
      assert.equal(await worker.claim(), 4, "concurrency and prefetch");
      // No more than two in runners at a time: count the busy runners while the batch runs.
      let most = 0;
      const watch = setInterval(() => (most = Math.max(most, runners.size.busy)), 1);
      for (let i = 0; i < 100 && (await runState(db, dagRunId)) !== "success"; i++) {
        await new Scheduler(db).tick();
        await worker.claim();
        await worker.nextFinish();
      }
      await worker.drain();
      clearInterval(watch);
      events.push(await runState(db, dagRunId));
      assert.deepEqual(events, ["success"]);
      assert.ok(most <= 2, `at most 2 runners busy, saw ${most}`);
    } finally {
      worker.stop();
      await runners.close();
    }
  },
);
