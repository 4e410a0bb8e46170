/**
 * How a run flows end to end: branches, short-circuits, task groups, setup and teardown, the
 * data passed between tasks (typed inputs, `ctx.upstream`, `ctx.params`), captured output and
 * the result size limit.
 */
import assert from "node:assert/strict";
import type { Db, Sql } from "../db/client.ts";
import { recordRunChanges } from "../db/run_changes.ts";
import { runToCompletion } from "../scheduler/local_run.ts";
import { Scheduler } from "../scheduler/scheduler.ts";
import { triggerRun } from "../scheduler/trigger_run.ts";
import { RunnerPool } from "../worker/runner_pool.ts";
import { TaskWorker } from "../worker/task_worker.ts";
import { dagFolder, dbTest, loadDags, startEngine, taskLog, taskStates } from "./helpers.ts";

const DAGS = {
  "branching.ts": `
    import { dag } from "gust";
    import { z } from "zod";
    export default dag({
      id: "branching",
      params: z.object({ pick: z.union([z.string(), z.array(z.string())]) }),
    }, (t) => {
      const choose = t.branch("choose", null, (ctx) => ctx.params.pick);
      const a = t.task("a", { dependsOn: [choose] }, () => "a");
      const b = t.task("b", { dependsOn: [choose] }, () => "b");
      const grp = t.group("grp", (g) => {
        const x = g.task("x", () => "x");
        g.task("y", { dependsOn: [x] }, () => "y");
      });
      t.chain(choose, grp);
      t.task("after_a", { dependsOn: [a] }, () => "after a");
      t.task("join", { dependsOn: [a, b, grp], triggerRule: "none_failed_min_one_success" },
        (ctx) => Object.keys(ctx.upstream).sort());
    });
  `,
  "short_circuit.ts": `
    import { dag } from "gust";
    import { z } from "zod";
    export default dag({ id: "short_circuit", params: z.object({ open: z.boolean() }) }, (t) => {
      const all = t.shortCircuit("skip_all", null, (ctx) => ctx.params.open ? "yes" : 0);
      const a1 = t.task("a1", { dependsOn: [all] }, () => 1);
      t.task("a2", { dependsOn: [a1], triggerRule: "all_done" }, () => 2);
      const direct = t.shortCircuit("skip_direct", { ignoreDownstreamTriggerRules: false },
        (ctx) => ctx.params.open);
      const d1 = t.task("d1", { dependsOn: [direct] }, () => 1);
      t.task("d2", { dependsOn: [d1], triggerRule: "all_done" }, () => 2);
    });
  `,
  "groups.ts": `
    import { dag } from "gust";
    export default dag({ id: "groups" }, (t) => {
      const start = t.task("start", () => 1);
      const etl = t.group("etl", (g) => {
        const extract = g.task("extract", { inputs: { n: start } }, (_ctx, { n }) => n + 1);
        g.task("load", { inputs: { n: extract } }, (_ctx, { n }) => n * 10);
        g.task("audit", { dependsOn: [extract] }, () => "audited");
        g.task("check", () => "checked");
      }, { defaults: { retries: 2 } });
      t.chain(start, etl);
      t.task("done", { dependsOn: [etl] }, (ctx) => ctx.upstream);
    });
  `,
  "setup_teardown.ts": `
    import { dag } from "gust";
    import { z } from "zod";
    export default dag({
      id: "setup_teardown",
      params: z.object({ fail: z.enum(["none", "setup", "work", "teardown"]).default("none") }),
    }, (t) => {
      const create = t.setup("create_cluster", null, (ctx) => {
        if (ctx.params.fail === "setup") throw new Error("setup failed");
        return "cluster-1";
      });
      const work = t.task("work", { dependsOn: [create] }, (ctx) => {
        if (ctx.params.fail === "work") throw new Error("work failed");
        return "worked";
      });
      t.teardown("delete_cluster", { setups: [create], dependsOn: [work], inputs: { cluster: create } },
        (ctx, { cluster }) => {
          if (ctx.params.fail === "teardown") throw new Error("teardown failed");
          return "deleted " + cluster;
        });
    });
  `,
  "context.ts": `
    import { dag } from "gust";
    import { z } from "zod";
    interface Row { id: number; tags: string[] }
    export default dag({
      id: "context",
      params: z.object({ who: z.string().default("world"), times: z.number().int().default(2) }),
    }, (t) => {
      const rows = t.task("rows", (): Row[] => [{ id: 1, tags: ["a", "b"] }, { id: 2, tags: [] }]);
      const squares = t.task("squares", { expand: { n: [1, 2, 3] } }, (_ctx, { n }) => n * n);
      const label = t.task("label", (ctx) => "hello " + ctx.params.who);
      t.task("combine", { inputs: { rows, greeting: label }, dependsOn: [squares] },
        (ctx, { rows, greeting }) => ({
          ids: rows.map((r) => r.id),
          tags: rows[0].tags.length,
          greeting,
          upstream: ctx.upstream,
          params: ctx.params,
          taskId: ctx.taskId,
          mapIndex: ctx.mapIndex,
          tryNumber: ctx.tryNumber,
        }));
      t.task("chatty", (ctx) => {
        console.log("plain console.log", { nested: [1, 2] });
        console.warn("a warning");
        console.error("an error line");
        ctx.log.debug("debug through ctx.log");
        Deno.stdout.writeSync(new TextEncoder().encode("raw stdout line\\n"));
      });
    });
  `,
  "race.ts": `
    import { dag } from "gust";
    export default dag({ id: "race" }, (t) => {
      const gate = t.shortCircuit("gate", null, () => "go");
      t.task("after", { dependsOn: [gate] }, () => "ran");
    });
  `,
  "results.ts": `
    import { dag } from "gust";
    export default dag({ id: "results" }, (t) => {
      t.task("small", () => "x".repeat(100));
      t.task("big", () => "x".repeat(5000));
    });
  `,
};

let folder: Promise<string> | null = null;
const dags = () => (folder ??= dagFolder(DAGS));

async function result(db: Db, dagRunId: number, taskId: string): Promise<unknown> {
  const [row] = await db.sql<{ value: unknown }>`
    SELECT x.value FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
    WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = ${taskId}`;
  return row?.value;
}

dbTest(
  "a branch follows the tasks or group it returns and skips its other direct downstream",
  async (t, db) => {
    const engine = await startEngine(db, await dags());
    try {
      await t.step("a single task id", async () => {
        const { dagRunId, state } = await engine.run("branching", { conf: { pick: "a" } });
        assert.equal(state, "success");
        assert.deepEqual(await taskStates(db, dagRunId), {
          a: "success",
          after_a: "success",
          b: "skipped",
          choose: "success",
          "grp.x": "skipped",
          "grp.y": "skipped",
          join: "success",
        });
        assert.deepEqual(await result(db, dagRunId, "join"), ["a"]);
      });

      await t.step("a list of task ids", async () => {
        const { dagRunId, state } = await engine.run("branching", { conf: { pick: ["a", "b"] } });
        assert.equal(state, "success");
        const states = await taskStates(db, dagRunId);
        assert.equal(states.a, "success");
        assert.equal(states.b, "success");
        assert.equal(states["grp.x"], "skipped");
        assert.deepEqual(await result(db, dagRunId, "join"), ["a", "b"]);
      });

      await t.step("a group id follows the group's roots and what follows them", async () => {
        const { dagRunId, state } = await engine.run("branching", { conf: { pick: "grp" } });
        assert.equal(state, "success");
        assert.deepEqual(await taskStates(db, dagRunId), {
          a: "skipped",
          after_a: "skipped",
          b: "skipped",
          choose: "success",
          "grp.x": "success",
          "grp.y": "success",
          join: "success",
        });
        assert.deepEqual(await result(db, dagRunId, "join"), ["grp.y"]);
      });

      await t.step("an id the branch does not lead to fails the branch, naming it", async () => {
        const { dagRunId, state } = await engine.run("branching", { conf: { pick: "nope" } });
        assert.equal(state, "failed");
        assert.deepEqual(await taskStates(db, dagRunId), {
          a: "upstream_failed",
          after_a: "upstream_failed",
          b: "upstream_failed",
          choose: "failed",
          "grp.x": "upstream_failed",
          "grp.y": "upstream_failed",
          join: "upstream_failed",
        });
        const log = (await taskLog(db, dagRunId, "choose")).join("\n");
        assert.match(
          log,
          /Branch "choose" returned "nope", which is not directly downstream \(downstream: a, b, grp\.x\)/,
        );
      });
    } finally {
      await engine.close();
    }
  },
);

dbTest(
  "a falsy short-circuit skips everything downstream, or only its direct downstream",
  async (t, db) => {
    const engine = await startEngine(db, await dags());
    try {
      await t.step(
        "falsy: ignoreDownstreamTriggerRules true skips all, false only direct",
        async () => {
          const { dagRunId, state } = await engine.run("short_circuit", { conf: { open: false } });
          assert.equal(state, "success");
          assert.deepEqual(await taskStates(db, dagRunId), {
            // true (the default): even an all_done task further down is skipped.
            skip_all: "success",
            a1: "skipped",
            a2: "skipped",
            // false: the direct downstream is skipped, the next one applies its own rule.
            skip_direct: "success",
            d1: "skipped",
            d2: "success",
          });
        },
      );

      await t.step("truthy: everything downstream runs", async () => {
        const { dagRunId, state } = await engine.run("short_circuit", { conf: { open: true } });
        assert.equal(state, "success");
        const states = await taskStates(db, dagRunId);
        assert.ok(Object.values(states).every((s) => s === "success"), JSON.stringify(states));
      });
    } finally {
      await engine.close();
    }
  },
);

dbTest(
  "a task group prefixes its ids, applies its defaults and stands for its leaves and roots",
  async (_t, db) => {
    const engine = await startEngine(db, await dags());
    try {
      const { dagRunId, state } = await engine.run("groups");
      assert.equal(state, "success");
      assert.deepEqual(await taskStates(db, dagRunId), {
        done: "success",
        "etl.audit": "success",
        "etl.check": "success",
        "etl.extract": "success",
        "etl.load": "success",
        start: "success",
      });
      // As an upstream the group stands for its leaves: `done` gets their results.
      assert.deepEqual(await result(db, dagRunId, "done"), {
        "etl.audit": "audited",
        "etl.check": "checked",
        "etl.load": 20,
      });
      const rows = await db.sql<{ taskId: string; maxTries: number; start: Date; end: Date }>`
      SELECT ti.task_id AS "taskId", ti.max_tries AS "maxTries", tt.start_date AS start,
        tt.end_date AS end
      FROM task_instance ti JOIN task_try tt ON tt.ti_id = ti.id
      WHERE ti.dag_run_id = ${dagRunId}`;
      const by = Object.fromEntries(rows.map((r) => [r.taskId, r]));
      // As a downstream it stands for its roots: `etl.check` waited for `start`.
      assert.ok(by["etl.check"].start >= by.start.end);
      for (const leaf of ["etl.audit", "etl.check", "etl.load"]) {
        assert.ok(by.done.start >= by[leaf].end, `done started before ${leaf} ended`);
      }
      // The group's defaults apply inside it only.
      assert.equal(by["etl.load"].maxTries, 2);
      assert.equal(by.done.maxTries, 0);
    } finally {
      await engine.close();
    }
  },
);

dbTest(
  "a teardown runs after its work fails, and its own failure does not fail the run",
  async (t, db) => {
    const engine = await startEngine(db, await dags());
    try {
      await t.step("the work fails: the teardown still runs and the run fails", async () => {
        const { dagRunId, state } = await engine.run("setup_teardown", { conf: { fail: "work" } });
        assert.deepEqual(await taskStates(db, dagRunId), {
          create_cluster: "success",
          delete_cluster: "success",
          work: "failed",
        });
        assert.equal(await result(db, dagRunId, "delete_cluster"), "deleted cluster-1");
        assert.equal(state, "failed");
      });

      await t.step("the teardown fails: the run still succeeds", async () => {
        const { dagRunId, state } = await engine.run("setup_teardown", {
          conf: { fail: "teardown" },
        });
        assert.deepEqual(await taskStates(db, dagRunId), {
          create_cluster: "success",
          delete_cluster: "failed",
          work: "success",
        });
        assert.equal(state, "success");
      });

      await t.step("the setup fails: neither the work nor the teardown runs", async () => {
        const { dagRunId, state } = await engine.run("setup_teardown", { conf: { fail: "setup" } });
        assert.deepEqual(await taskStates(db, dagRunId), {
          create_cluster: "failed",
          delete_cluster: "upstream_failed",
          work: "upstream_failed",
        });
        assert.equal(state, "failed");
      });
    } finally {
      await engine.close();
    }
  },
);

dbTest(
  "tasks get typed inputs, upstream results, defaulted params, and their output is logged",
  async (t, db) => {
    const engine = await startEngine(db, await dags());
    try {
      const before = new Date();
      const { dagRunId, state } = await engine.run("context", { conf: { who: "gust" } });
      const after = new Date();
      assert.equal(state, "success");
      const combined = await result(db, dagRunId, "combine") as Record<string, unknown>;

      await t.step("typed inputs carry the upstream task's result", () => {
        assert.deepEqual(combined.ids, [1, 2]);
        assert.equal(combined.tags, 2);
        assert.equal(combined.greeting, "hello gust");
      });

      await t.step(
        "ctx.upstream has every direct upstream's result, a mapped one as a list",
        () => {
          assert.deepEqual(combined.upstream, {
            label: "hello gust",
            rows: [{ id: 1, tags: ["a", "b"] }, { id: 2, tags: [] }],
            squares: [1, 4, 9],
          });
          assert.equal(combined.taskId, "combine");
          assert.equal(combined.mapIndex, -1);
          assert.equal(combined.tryNumber, 1);
        },
      );

      await t.step("ctx.params is the conf, defaulted by the params schema", async () => {
        assert.deepEqual(combined.params, { who: "gust", times: 2 });
        const other = await engine.run("context");
        const defaults = await result(db, other.dagRunId, "combine") as Record<string, unknown>;
        assert.deepEqual(defaults.params, { who: "world", times: 2 });
      });

      await t.step("console output becomes log lines with a level and a timestamp", async () => {
        const lines = await db.sql<{ ts: Date; level: string; line: string }>`
        SELECT l.ts, l.level, l.line FROM task_log l JOIN task_instance ti ON ti.id = l.ti_id
        WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = 'chatty' ORDER BY l.id`;
        assert.deepEqual(lines.map((l) => [l.level, l.line]), [
          ["info", "plain console.log { nested: [ 1, 2 ] }"],
          ["warn", "a warning"],
          ["error", "an error line"],
          ["debug", "debug through ctx.log"],
          ["info", "raw stdout line"],
        ]);
        for (const { ts } of lines) {
          assert.ok(ts >= new Date(before.getTime() - 1) && ts <= after, `bad timestamp ${ts}`);
        }
      });
    } finally {
      await engine.close();
    }
  },
);

dbTest(
  "a result over the size limit fails the task with a message naming its size",
  async (_t, db) => {
    const engine = await startEngine(db, await dags(), { maxResultBytes: 4096 });
    try {
      const { dagRunId, state } = await engine.run("results");
      assert.equal(state, "failed");
      assert.deepEqual(await taskStates(db, dagRunId), { big: "failed", small: "success" });
      assert.equal(await result(db, dagRunId, "big"), undefined);
      const log = (await taskLog(db, dagRunId, "big")).join("\n");
      assert.match(log, /Result is 4\.9 KiB \(5002 bytes\), over the 4\.0 KiB limit/);
    } finally {
      await engine.close();
    }
  },
);

/** A view of `db` whose writes of results wait until `open` is called. */
function holdResults(db: Db) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let held!: () => void;
  const writing = new Promise<void>((resolve) => (held = resolve));
  const wrap = (sql: Sql): Sql =>
    Object.assign(
      async <T>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]> => {
        if (strings.join("").includes("INSERT INTO xcom")) {
          held();
          await gate;
        }
        return await sql<T>(strings, ...values);
      },
      { exec: sql.exec, cache: sql.cache, concurrent: sql.concurrent },
    );
  const view: Db = { ...db, sql: wrap(db.sql), begin: (fn) => db.begin((tx) => fn(wrap(tx))) };
  return { view, writing, open };
}

dbTest("a scheduler never sees a task's success before its result", async (_t, db) => {
  // A short-circuit's result decides what runs next; read as missing, it skips everything.
  const folder = await dags();
  await loadDags(db, folder, new Date());
  const runners = new RunnerPool({ dagsFolder: folder, defaultMemoryMb: 128 });
  const results = holdResults(db);
  const worker = new TaskWorker({
    db: results.view,
    runners,
    dagsFolder: folder,
    workerId: "race-worker",
    hostname: "localhost",
    queues: ["default"],
    concurrency: 1,
    leaseMs: 60_000,
    maxResultBytes: 1_048_576,
  });
  const scheduler = new Scheduler(db);
  try {
    const { dagRunId } = await triggerRun(db, { dagId: "race", now: new Date() });
    await scheduler.tick();
    // Flag the run as another of its tasks finishing now would, so the next tick looks at it.
    await recordRunChanges(db.sql, [dagRunId]);
    assert.equal(await worker.claim(), 1);
    await results.writing; // the worker is storing `gate`'s result
    const tick = scheduler.tick();
    // PGlite runs one transaction at a time, so there the tick waits for the worker's: bound
    // the wait. On Postgres the tick runs now, while the result is not stored yet.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([tick, new Promise((resolve) => (timer = setTimeout(resolve, 300)))]);
    clearTimeout(timer);
    results.open();
    await tick;
    await worker.drain();
    const state = await runToCompletion({ db, worker, dagRunId, clock: () => new Date() });
    assert.deepEqual(await taskStates(db, dagRunId), { after: "success", gate: "success" });
    assert.equal(state, "success");
  } finally {
    worker.stop();
    await runners.close();
  }
});
