/**
 * Claiming queued task instances: a worker takes only its own queues' instances, highest
 * priority first (then the earliest queued, then the oldest), at most as many as it asks for;
 * one queue and several are read by two forms of the query (see `claimTasks`), so both are here.
 */
import assert from "node:assert/strict";
import { claimTasks } from "../db/task_instances.ts";
import { dbTest } from "./helpers.ts";
import { fakeDag, storeFakeRun, task } from "./ui_helpers.ts";

dbTest(
  "a claim takes its queues' instances by priority, then queue time, up to its limit",
  async (_t, db) => {
    const tasks = [
      task("a_low", { queue: "a", priorityWeight: 1 }),
      task("a_high", { queue: "a", priorityWeight: 5 }),
      task("a_late", { queue: "a", priorityWeight: 5 }),
      task("b_top", { queue: "b", priorityWeight: 9 }),
      task("c_mid", { queue: "c", priorityWeight: 3 }),
    ];
    const dagRunId = await storeFakeRun(db, fakeDag("claimed", { tasks }), "r1");
    const t0 = new Date("2026-01-01T00:00:00Z");
    await db.sql`UPDATE task_instance SET state = 'queued', queued_at = CASE task_id
      WHEN 'a_late' THEN ${new Date(t0.getTime() + 1000)}::timestamptz ELSE ${t0}::timestamptz END
    WHERE dag_run_id = ${dagRunId}`;
    const claim = async (queues: string[], limit: number) =>
      (await db.begin((tx) =>
        claimTasks(tx, { worker: "w", hostname: "h", queues, limit, leaseMs: 60_000, now: t0 })
      )).map((c) => c.taskId);

    assert.deepEqual(
      await claim(["a"], 2),
      ["a_high", "a_late"],
      "one queue, by priority then time",
    );
    assert.deepEqual(await claim(["a", "b", "c"], 2), ["b_top", "c_mid"], "several queues at once");
    assert.deepEqual(await claim(["b", "c"], 5), [], "taken already: nothing is claimed twice");
    assert.deepEqual(await claim(["a"], 5), ["a_low"]);
    const running = await db.sql<{ n: number }>`
    SELECT count(*)::int AS n FROM task_instance
    WHERE dag_run_id = ${dagRunId} AND state = 'running' AND lease_owner = 'w'`;
    assert.equal(running[0].n, 5);
  },
);
