/**
 * Hand edits of a run (mark, clear) against a worker recording its tries, interleaved at the
 * worst moment on a real Postgres, whose sessions here wait 30 s before looking for deadlocks:
 * a deadlock shows as a hang, not as an abort that a retry would hide. Both cases were seen in
 * the dashboard benchmark, as `PATCH .../dagRuns/{id}` failing with 500 after three deadlocks
 * against the workers finishing the run's tasks.
 */
import assert from "node:assert/strict";
import { type Db, postgresDb } from "../db/client.ts";
import { finishTries } from "../db/completions.ts";
import { claimTasks } from "../db/task_instances.ts";
import { markRun } from "../scheduler/mark.ts";
import { fakeDag, storeFakeRun, task } from "./ui_helpers.ts";
import { BACKENDS, openTestDb, within } from "./helpers.ts";

/** A database of its own whose sessions wait 30 s before looking for deadlocks. */
async function patientDb(): Promise<{ db: Db; close: () => Promise<void> }> {
  const info = await openTestDb("postgres");
  await info.db.sql.exec(`ALTER DATABASE ${new URL(info.url!).pathname.slice(1)}
    SET deadlock_timeout = '30s'`);
  const db = postgresDb(info.url!); // new sessions, which have the setting
  const [{ deadlock_timeout }] = await db.sql<{ deadlock_timeout: string }>`
    SHOW deadlock_timeout`;
  assert.equal(deadlock_timeout, "30s");
  return {
    db,
    async close() {
      await db.close();
      await info.close();
    },
  };
}

/** Resolves once a session of the database waits for a lock. */
function someoneWaits(db: Db, what: string): Promise<void> {
  return within(
    10,
    what,
    (async () => {
      for (;;) {
        const [row] = await db.sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`;
        if (row.n > 0) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    })(),
  );
}

/** A pause inside a transaction: `reached` once it gets there; `go` lets it on. */
function gate() {
  let arrive!: () => void;
  let go!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const opened = new Promise<void>((r) => (go = r));
  return { reached, arrive: () => arrive(), opened, go: () => go() };
}

const postgresOnly = {
  ignore: !BACKENDS.includes("postgres"),
  sanitizeResources: false,
  sanitizeOps: false,
};

/**
 * Finishing tries locks their task instances in id order, as a hand edit does, whatever plan
 * the update gets (here one that reads the table in its physical order, where the newer version
 * of the lower id comes last); otherwise each can hold an instance the other waits for.
 */
Deno.test({
  name: "finishing tries locks their task instances in id order, whatever the plan",
  ...postgresOnly,
  async fn() {
    const { db, close } = await patientDb();
    try {
      const dag = fakeDag("busy", { tasks: [task("a"), task("b")] });
      const dagRunId = await storeFakeRun(db, dag, "r1");
      const tis = await db.sql<{ id: number }>`
        UPDATE task_instance SET state = 'running', try_number = 1, lease_owner = 'w1'
        WHERE dag_run_id = ${dagRunId} RETURNING id`;
      const [low, high] = tis.map((t) => t.id).sort((x, y) => x - y);
      await db.sql`UPDATE task_instance SET start_date = now() WHERE id = ${low}`;
      const order = await db.sql<{ id: number }>`SELECT id FROM task_instance ORDER BY ctid`;
      assert.deepEqual(order.map((r) => r.id).slice(-2), [high, low]);

      // A hand edit holds the lower one, as a mark holds the first instances of its run, and
      // then takes the higher one: the worker must not hold it while it waits for the lower.
      const paused = gate();
      const edit = db.begin(async (tx) => {
        await tx`SELECT id FROM task_instance WHERE id = ${low} FOR UPDATE`;
        paused.arrive();
        await paused.opened;
        await tx`SELECT id FROM task_instance WHERE id = ${high} FOR UPDATE`;
        await tx`UPDATE task_instance SET state = 'failed' WHERE id = ANY(${[low, high]}::int[])`;
      });
      await within(10, "the edit's first lock", paused.reached);
      const worker = db.begin(async (tx) => {
        await tx.exec("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off");
        return await finishTries(tx, "w1", [
          { id: low, tryNumber: 1, endedAt: new Date(), resultJson: "1" },
          { id: high, tryNumber: 1, endedAt: new Date(), resultJson: "2" },
        ], new Date());
      });
      await someoneWaits(db, "the worker's lock wait");
      paused.go();
      await within(10, "the edit", edit);
      // The edit failed both before the worker could finish them: the worker records neither.
      assert.deepEqual([...await within(10, "the worker's finish", worker)], []);
    } finally {
      await close();
    }
  },
});

/**
 * A worker that hands a freed slot to a scheduled instance and claims it in one transaction
 * updates that row twice, and the second update checks the row's foreign key to its run (FOR
 * KEY SHARE: Postgres skips the check for an unchanged key unless the row version is the
 * transaction's own). A mark that held the run FOR UPDATE while it waited for the instance
 * deadlocked with it; the hand edits now take FOR NO KEY UPDATE, which a key share passes.
 */
Deno.test({
  name:
    "marking a run failed while a worker hands a slot to one of its instances and claims it does not deadlock",
  ...postgresOnly,
  async fn() {
    const { db, close } = await patientDb();
    try {
      const dagRunId = await storeFakeRun(db, fakeDag("busy", { tasks: [task("a")] }), "r1");
      await db.sql`UPDATE dag_run SET state = 'running' WHERE id = ${dagRunId}`;
      const [ti] = await db.sql<{ id: number }>`
        UPDATE task_instance SET state = 'scheduled' WHERE dag_run_id = ${dagRunId} RETURNING id`;

      const paused = gate();
      const worker = db.begin(async (tx) => {
        // The hand-over, as transferSlots writes it; then the claim of the same instance.
        await tx`UPDATE task_instance SET state = 'queued', queued_at = now() WHERE id = ${ti.id}`;
        paused.arrive();
        await paused.opened;
        return await claimTasks(tx, {
          worker: "w1",
          hostname: "h",
          queues: ["default"],
          limit: 1,
          leaseMs: 60_000,
          now: new Date(),
        });
      });
      await within(10, "the hand-over", paused.reached);
      const mark = markRun(db, { dagRunId, state: "failed", now: new Date() });
      await someoneWaits(db, "the mark's lock wait");
      paused.go();
      const claimed = await within(10, "the worker's claim", worker);
      assert.deepEqual(claimed.map((c) => c.id), [ti.id]);
      assert.equal(await within(10, "the mark", mark), true);
      // The mark came second: it found the instance running and failed it, and the run.
      const [after] = await db.sql<{ state: string }>`
        SELECT state FROM task_instance WHERE id = ${ti.id}`;
      assert.equal(after.state, "failed");
      const [run] = await db.sql<{ state: string }>`
        SELECT state FROM dag_run WHERE id = ${dagRunId}`;
      assert.equal(run.state, "failed");
    } finally {
      await close();
    }
  },
});
