/**
 * A DAG's own onSuccess and onFailure: enqueued with the run's end, run by a worker in a runner
 * with the permissions of the DAG's defaults, at least once, with their log and outcome kept.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { claimDagCallback } from "../db/dag_callbacks.ts";
import { runDagCallbacks } from "../worker/dag_callbacks.ts";
import { dagFolder, dbTest, startEngine } from "./helpers.ts";

const DAGS = {
  "callbacks.ts": `
    import { dag } from "gust";
    export const ok = dag({
      id: "cb_ok",
      defaults: { permissions: { env: ["CB_SECRET"] } },
      onSuccess: (ctx) => console.log("onSuccess of " + ctx.runId + ": " + ctx.state + ", " + Deno.env.get("CB_SECRET")),
      onFailure: () => console.log("not this one"),
    }, (t) => {
      t.task("work", () => 1);
    });
    export const failing = dag({
      id: "cb_failed",
      onFailure: (ctx) => console.log("onFailure: " + ctx.state),
    }, (t) => {
      t.task("work", () => { throw new Error("boom"); });
    });
    export const sandboxed = dag({
      id: "cb_sandboxed",
      onSuccess: () => console.log(Deno.env.get("CB_SECRET")),
    }, (t) => {
      t.task("work", () => 1);
    });
    export const none = dag({ id: "cb_none" }, (t) => {
      t.task("work", () => 1);
    });
  `,
};

let folder: Promise<string> | null = null;
const dags = () => (folder ??= dagFolder(DAGS));

interface CallbackRow {
  state: string;
  attempts: number;
  done: boolean;
  log: string | null;
  error: { name: string; message: string } | null;
}

async function callbacks(db: Db, dagRunId: number): Promise<CallbackRow[]> {
  return await db.sql<CallbackRow>`
    SELECT state, attempts, done_at IS NOT NULL AS done, log, error FROM dag_callback
    WHERE dag_run_id = ${dagRunId}`;
}

dbTest("a run's end runs the DAG's matching callback once, in its sandbox", async (t, db) => {
  const engine = await startEngine(db, await dags(), { env: { CB_SECRET: "s3cret" } });
  const run = (o: { dbWorker?: string } = {}) =>
    runDagCallbacks({
      db,
      runners: engine.runners,
      dagsFolder: engine.folder,
      workerId: o.dbWorker ?? "w",
    });
  try {
    await t.step("onSuccess after a success, with the env its defaults allow", async () => {
      const { dagRunId, state } = await engine.run("cb_ok");
      assert.equal(state, "success");
      assert.equal(await run(), 1);
      const [row] = await callbacks(db, dagRunId);
      assert.equal(row.state, "success");
      assert.equal(row.done, true);
      assert.equal(row.error, null);
      assert.match(row.log!, /onSuccess of manual__.*: success, s3cret/);
      assert.doesNotMatch(row.log!, /not this one/);
      assert.equal(await run(), 0, "ran once");
    });

    await t.step("onFailure after a failure", async () => {
      const { dagRunId, state } = await engine.run("cb_failed");
      assert.equal(state, "failed");
      await run();
      const [row] = await callbacks(db, dagRunId);
      assert.equal(row.state, "failed");
      assert.match(row.log!, /onFailure: failed/);
    });

    await t.step("a callback without the permission is refused, and the refusal kept", async () => {
      const { dagRunId } = await engine.run("cb_sandboxed");
      await run();
      const [row] = await callbacks(db, dagRunId);
      assert.equal(row.done, true);
      assert.equal(row.error?.name, "NotCapable");
    });

    await t.step("a DAG without callbacks enqueues nothing", async () => {
      const { dagRunId } = await engine.run("cb_none");
      assert.equal((await callbacks(db, dagRunId)).length, 0);
    });

    await t.step("a callback whose worker died is run again by another", async () => {
      const { dagRunId } = await engine.run("cb_ok");
      // A worker takes it and dies: its lease runs out at once.
      assert.ok(await claimDagCallback(db.sql, "dead", 0, new Date()));
      await new Promise((r) => setTimeout(r, 10));
      assert.equal(await run({ dbWorker: "alive" }), 1);
      const [row] = await callbacks(db, dagRunId);
      assert.equal(row.done, true);
      assert.equal(row.attempts, 2);
      assert.match(row.log!, /onSuccess of/);
    });
  } finally {
    await engine.close();
  }
});
