/**
 * The runner sandbox end to end: timeouts kill the runner process (a busy loop included), a
 * task gets only the network, environment and files it declares, and a task that exhausts its
 * heap fails alone.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { dagFolder, dbTest, type Engine, startEngine, taskLog, taskStates } from "./helpers.ts";

/**
 * Live runner processes of a DAG folder, as `ps` lines. Test files share this process when
 * they run in parallel, so runners are told apart by the folder they may read.
 */
async function runnerProcesses(folder: string): Promise<string[]> {
  const out = await new Deno.Command("ps", {
    args: ["--ppid", String(Deno.pid), "-o", "pid=,stat=,args="],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((line) => line.includes("runner_main.ts") && line.includes(`--allow-read=${folder}`));
}

async function errorLines(db: Db, dagRunId: number, taskId: string): Promise<string> {
  return (await taskLog(db, dagRunId, taskId)).join("\n");
}

async function result(db: Db, dagRunId: number, taskId: string): Promise<unknown> {
  const [row] = await db.sql<{ value: unknown }>`
    SELECT x.value FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
    WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = ${taskId}`;
  return row?.value;
}

const TIMEOUT_DAGS = {
  "timeouts.ts": `
    import { dag } from "gust";
    export default dag({ id: "timeouts" }, (t) => {
      // Two warm runners first: a cold runner's start counts against the timeout.
      const warm = t.task("warm_1", () => 1);
      const warmToo = t.task("warm_2", () => 2);
      t.task("hangs", { timeout: "1s", dependsOn: [warm, warmToo] }, async (ctx) => {
        ctx.log.info("waiting forever");
        await new Promise(() => {});
      });
      t.task("spins", { timeout: "1s", dependsOn: [warm, warmToo] }, (ctx) => {
        ctx.log.info("spinning forever");
        while (true) { /* burn CPU */ }
      });
    });
  `,
  "after.ts": `
    import { dag } from "gust";
    export default dag({ id: "after" }, (t) => {
      t.task("works", () => "still serving");
    });
  `,
};

dbTest(
  "a task past its timeout is killed, hanging or spinning, and the worker keeps serving",
  async (_t, db) => {
    const engine = await startEngine(db, await dagFolder(TIMEOUT_DAGS));
    try {
      const { dagRunId, state } = await engine.run("timeouts");
      assert.equal(state, "failed");
      assert.deepEqual(await taskStates(db, dagRunId), {
        hangs: "failed",
        spins: "failed",
        warm_1: "success",
        warm_2: "success",
      });
      // Both were stopped at their 1 s limit, not later.
      const durations = await db.sql<{ ms: number }>`
        SELECT duration_ms AS ms FROM task_instance
        WHERE dag_run_id = ${dagRunId} AND task_id IN ('hangs', 'spins')`;
      for (const { ms } of durations) assert.ok(ms >= 1_000 && ms < 5_000, `took ${ms} ms`);
      for (const [task, line] of [["hangs", "waiting forever"], ["spins", "spinning forever"]]) {
        const log = await errorLines(db, dagRunId, task);
        assert.match(log, /TaskTimeout: Task timed out after 1 s and was stopped/);
        assert.ok(log.includes(line), log);
      }
      const [error] = await db.sql<{ error: { name: string } }>`
        SELECT tt.error FROM task_try tt JOIN task_instance ti ON ti.id = tt.ti_id
        WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = 'spins'`;
      assert.equal(error.error.name, "TaskTimeout");

      // The killed runners are gone: no process left burning CPU, none kept for reuse.
      assert.deepEqual(engine.runners.size, { idle: 0, busy: 0 });
      assert.deepEqual(await runnerProcesses(engine.folder), []);

      const next = await engine.run("after");
      assert.equal(next.state, "success");
      assert.equal(await result(db, next.dagRunId, "works"), "still serving");
      assert.deepEqual(engine.runners.size, { idle: 1, busy: 0 });
      assert.equal((await runnerProcesses(engine.folder)).length, 1);
    } finally {
      await engine.close();
    }
  },
);

function sandboxDags(port: number, outside: string): Record<string, string> {
  return {
    "data.txt": "inside the DAG folder",
    "sandbox.ts": `
      import { dag } from "gust";
      const env = (name) => {
        try {
          return Deno.env.get(name) ?? null;
        } catch (error) {
          return error.name;
        }
      };
      export default dag({ id: "sandbox" }, (t) => {
        t.task("no_net", async () => {
          await fetch("http://127.0.0.1:${port}/");
        });
        t.task("net_allowed", { permissions: { net: ["127.0.0.1:${port}"] } }, async () => {
          return await (await fetch("http://127.0.0.1:${port}/")).text();
        });
        t.task("net_other_port", { permissions: { net: ["127.0.0.1:${port}"] } }, async () => {
          (await Deno.connect({ hostname: "127.0.0.1", port: 9 })).close();
        });
        t.task("env_declared", {
          permissions: { env: ["SOME_VAR", "DATABASE_URL", "DENO_AUTH_TOKENS"] },
        }, () => ({
          some: env("SOME_VAR"),
          database: env("DATABASE_URL"),
          tokens: env("DENO_AUTH_TOKENS"),
          home: env("HOME"),
        }));
        t.task("through_proxy", { permissions: { net: ["gust-proxied.invalid"] } }, async () => {
          return await (await fetch("http://gust-proxied.invalid/page")).text();
        });
        t.task("env_undeclared", () => ({ some: env("SOME_VAR") }));
        t.task("read_inside", () => Deno.readTextFile(new URL("./data.txt", import.meta.url)));
        t.task("read_outside", () => Deno.readTextFile(${JSON.stringify(outside)}));
      });
    `,
  };
}

dbTest("a task gets only the network, environment and files it declares", async (t, db) => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    // Through the proxy, a request names the whole address it is for.
    (request) =>
      new Response(
        request.url.includes("gust-proxied") ? `proxied ${request.url}` : "hello from the test",
      ),
  );
  const outside = await Deno.makeTempFile({ prefix: "gust_secret_" });
  await Deno.writeTextFile(outside, "secret");
  let engine: Engine | null = null;
  try {
    engine = await startEngine(db, await dagFolder(sandboxDags(server.addr.port, outside)), {
      env: {
        SOME_VAR: "visible",
        DATABASE_URL: "postgres://user:password@db/gust",
        DENO_AUTH_TOKENS: "secret@registry.example",
        HTTP_PROXY: `http://127.0.0.1:${server.addr.port}`,
      },
    });
    const { dagRunId, state } = await engine.run("sandbox");
    assert.equal(state, "failed");
    const states = await taskStates(db, dagRunId);

    await t.step("without net, a task reaches no host", async () => {
      assert.equal(states.no_net, "failed");
      const log = await errorLines(db, dagRunId, "no_net");
      const address = `127.0.0.1:${server.addr.port}`;
      assert.ok(log.includes(`NotCapable: Requires net access to "${address}"`), log);
    });

    await t.step("with net: [host:port], a task reaches that address and no other", async () => {
      assert.equal(states.net_allowed, "success");
      assert.equal(await result(db, dagRunId, "net_allowed"), "hello from the test");
      assert.equal(states.net_other_port, "failed");
      const log = await errorLines(db, dagRunId, "net_other_port");
      assert.match(log, /NotCapable: Requires net access to "127\.0\.0\.1:9"/);
    });

    await t.step("a task sees the variables it declares, never DATABASE_URL", async () => {
      assert.equal(states.env_declared, "success");
      assert.deepEqual(await result(db, dagRunId, "env_declared"), {
        some: "visible",
        database: "NotCapable",
        tokens: "NotCapable",
        home: "NotCapable",
      });
      assert.deepEqual(await result(db, dagRunId, "env_undeclared"), { some: "NotCapable" });
    });

    await t.step(
      "a runner gets Gust's proxy settings, so a task's request goes through the proxy",
      async () => {
        assert.equal(states.through_proxy, "success");
        assert.equal(
          await result(db, dagRunId, "through_proxy"),
          "proxied http://gust-proxied.invalid/page",
        );
      },
    );

    await t.step("a task reads its DAG folder but nothing outside it", async () => {
      assert.equal(await result(db, dagRunId, "read_inside"), "inside the DAG folder");
      assert.equal(states.read_outside, "failed");
      const log = await errorLines(db, dagRunId, "read_outside");
      assert.match(log, /NotCapable: Requires read access to/);
      assert.ok(!log.includes("secret\n") && !log.endsWith("secret"));
    });
  } finally {
    await engine?.close();
    await server.shutdown();
    await Deno.remove(outside);
  }
});

const MEMORY_DAGS = {
  "memory.ts": `
    import { dag } from "gust";
    export default dag({ id: "memory" }, (t) => {
      const hog = t.task("hog", { memoryMb: 64 }, () => {
        const chunks = [];
        while (true) chunks.push(new Array(1_000_000).fill(chunks.length));
      });
      t.task("bystander", async () => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        return "unharmed";
      });
      t.task("next", { dependsOn: [hog], triggerRule: "all_done", memoryMb: 64 }, () => "ran");
    });
  `,
};

dbTest("a task that exhausts its heap fails alone and the next task runs", async (_t, db) => {
  const engine = await startEngine(db, await dagFolder(MEMORY_DAGS));
  try {
    const { dagRunId, state } = await engine.run("memory");
    assert.deepEqual(await taskStates(db, dagRunId), {
      bystander: "success",
      hog: "failed",
      next: "success",
    });
    assert.equal(state, "success");
    const log = await errorLines(db, dagRunId, "hog");
    assert.match(log, /Runner ran out of memory \(heap limit 64 MiB\)/);
    assert.equal(await result(db, dagRunId, "bystander"), "unharmed");
    assert.equal(await result(db, dagRunId, "next"), "ran");
  } finally {
    await engine.close();
  }
});
