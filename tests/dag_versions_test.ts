/**
 * Changing a DAG file takes effect without a restart: new runs use the new version, and a run
 * that started on the old version finishes on it, even with the file already rewritten.
 */
import assert from "node:assert/strict";
import { processDagFolder } from "../scheduler/dag_processor.ts";
import { runToCompletion } from "../scheduler/local_run.ts";
import { Scheduler } from "../scheduler/scheduler.ts";
import { triggerRun } from "../scheduler/trigger_run.ts";
import { RunnerPool } from "../worker/runner_pool.ts";
import { TaskWorker } from "../worker/task_worker.ts";
import { dagFolder, dbTest, startEngine } from "./helpers.ts";

const version = (label: string) => `
import { dag } from "gust";
import { helper } from "./_helper.ts";
export default dag({ id: "versioned" }, (t) => {
  const first = t.task("first", () => "${label}");
  // Its own queue: the first step's worker, serving only "default", leaves it for later.
  t.task("second", { inputs: { seen: first }, queue: "late" }, (_ctx, { seen }) => seen + " then ${label}" + helper);
});
`;

dbTest(
  "a run finishes on the DAG version it started with; new runs take the new one",
  async (t, db) => {
    const folder = await dagFolder({
      "versioned.ts": version("v1"),
      "_helper.ts": 'export const helper = "!";',
    });
    const runners = new RunnerPool({ dagsFolder: folder, defaultMemoryMb: 128 });
    const workerFor = (queues: string[]) =>
      new TaskWorker({
        db,
        runners,
        dagsFolder: folder,
        workerId: "w",
        hostname: "h",
        queues,
        concurrency: 2,
        leaseMs: 60_000,
        maxResultBytes: 1 << 20,
      });
    const firstOnly = workerFor(["default"]);
    const worker = workerFor(["default", "late"]);
    const result = async (dagRunId: number, taskId: string) => {
      const [row] = await db.sql<{ value: unknown }>`
      SELECT x.value FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
      WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = ${taskId}`;
      return row?.value;
    };
    try {
      await processDagFolder(db, folder, { timeoutMs: 20_000, now: new Date() });
      const old = await triggerRun(db, { dagId: "versioned", runId: "old", now: new Date() });

      await t.step("the old run's first task runs on version 1", async () => {
        // Drive only until "first" is done, leaving "second" for after the file changes.
        const scheduler = new Scheduler(db);
        while ((await result(old.dagRunId, "first")) === undefined) {
          await scheduler.tick();
          await firstOnly.claim();
          await firstOnly.drain();
        }
        assert.equal(await result(old.dagRunId, "first"), "v1");
      });

      await t.step("rewriting the file makes version 2 without a restart", async () => {
        await Deno.writeTextFile(`${folder}/versioned.ts`, version("v2"));
        const processed = await processDagFolder(db, folder, {
          timeoutMs: 20_000,
          now: new Date(),
        });
        assert.deepEqual(processed.newVersions, ["versioned"]);
        const versions = await db.sql<{ n: number }>`
        SELECT version_number AS n FROM dag_version WHERE dag_id = 'versioned' ORDER BY 1`;
        assert.deepEqual(versions.map((v) => v.n), [1, 2]);
      });

      await t.step("the old run finishes on version 1, a new run uses version 2", async () => {
        assert.equal(
          await runToCompletion({ db, worker, dagRunId: old.dagRunId, clock: () => new Date() }),
          "success",
        );
        assert.equal(await result(old.dagRunId, "second"), "v1 then v1!");
        const fresh = await triggerRun(db, { dagId: "versioned", runId: "new", now: new Date() });
        assert.equal(
          await runToCompletion({ db, worker, dagRunId: fresh.dagRunId, clock: () => new Date() }),
          "success",
        );
        assert.equal(await result(fresh.dagRunId, "second"), "v2 then v2!");
      });

      await t.step("the pinned copy is a dotfile the DAG processor does not import", async () => {
        const names = [...Deno.readDirSync(folder)].map((e) => e.name);
        assert.ok(
          names.some((n) => n.startsWith(".gust-") && n.endsWith("-versioned.ts")),
          names.join(", "),
        );
        const processed = await processDagFolder(db, folder, {
          timeoutMs: 20_000,
          now: new Date(),
        });
        assert.deepEqual(processed.files.map((f) => f.file), ["versioned.ts"]);
      });
    } finally {
      firstOnly.stop();
      worker.stop();
      await runners.close();
      await Deno.remove(folder, { recursive: true });
    }
  },
);

dbTest("the DAGs of one file share one import of it in a runner", async (_t, db) => {
  const folder = await dagFolder({
    "pair.ts": `
      import { dag } from "gust";
      // How many times this runner has evaluated the module.
      const g = globalThis as { pairLoads?: number };
      g.pairLoads = (g.pairLoads ?? 0) + 1;
      export const a = dag({ id: "pair_a" }, (t) => {
        t.task("loads", () => [Deno.pid, g.pairLoads]);
      });
      export const b = dag({ id: "pair_b" }, (t) => {
        t.task("loads", () => [Deno.pid, g.pairLoads]);
      });
    `,
  });
  const engine = await startEngine(db, folder, { concurrency: 1 });
  const loads = async (dagId: string) => {
    const { dagRunId, state } = await engine.run(dagId);
    assert.equal(state, "success");
    const [row] = await db.sql<{ value: [number, number] }>`
      SELECT x.value FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
      WHERE ti.dag_run_id = ${dagRunId}`;
    return row.value;
  };
  try {
    const [pidA, loadsA] = await loads("pair_a");
    const [pidB, loadsB] = await loads("pair_b");
    assert.equal(pidB, pidA, "one runner ran both tasks");
    assert.deepEqual([loadsA, loadsB], [1, 1], "the file was imported once for both DAGs");
  } finally {
    await engine.close();
    await Deno.remove(folder, { recursive: true });
  }
});
