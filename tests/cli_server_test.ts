/**
 * The CLI acting on a running installation on the embedded database: PGlite serves one
 * process, so the commands reach it through the server's API, with the local credential the
 * server wrote into GUST_HOME, or with GUST_API_TOKEN. The server and the CLI are real
 * processes, started as users start them; the server creates the first Admin and prints its
 * password once.
 */
import { localCredential } from "./auth_helpers.ts";
import assert from "node:assert/strict";
import { runGust } from "./cli_helpers.ts";
import { dagFolder } from "./helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;

const DAGS = {
  "ops.ts": `
import { dag } from "gust";
import { z } from "zod";
export default dag({
  id: "ops", schedule: "@daily", startDate: "2025-01-01", catchup: false,
  params: z.object({ n: z.number().default(1) }),
}, (t) => {
  const first = t.task("first", (ctx) => ctx.params.n);
  t.task("second", { inputs: { n: first } }, (_ctx, { n }) => n + 1);
});
`,
};

const gust = (env: Record<string, string>, ...args: string[]) => runGust(env, args);

async function until<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await fn();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

Deno.test({
  name: "the CLI triggers, lists, clears, backfills and pauses through a running embedded server",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const folder = await dagFolder(DAGS);
    const home = await Deno.makeTempDir({ prefix: "gust_home_" });
    const port = 20000 + Math.floor(Math.random() * 20000);
    const env = { GUST_DAGS_FOLDER: folder, GUST_HOME: home, GUST_PORT: String(port) };
    const server = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-worker-options",
        `--config=${ROOT}deno.json`,
        `${ROOT}main.ts`,
      ],
      env: { ...env, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let output = "";
    (async () => {
      for await (
        const chunk of server.stdout.pipeThrough(
          new TextDecoderStream() as TransformStream<Uint8Array, string>,
        )
      ) {
        output += chunk;
      }
    })();
    server.stderr.cancel();
    let viewerToken = "";
    try {
      await until(
        "the server",
        () => Promise.resolve(output.includes("Gust is running") || null),
        60_000,
      );
      // The server answers before its first parse of the DAG folder has stored the DAGs.
      await until("the DAG", async () => {
        const response = await fetch(`http://127.0.0.1:${port}/api/v2/dags/ops`, {
          headers: await localCredential(home),
        });
        await response.body?.cancel();
        return response.ok || null;
      });
      const runs = async () =>
        JSON.parse((await gust(env, "runs", "list", "ops", "--json")).stdout).dag_runs as {
          dag_run_id: string;
          state: string;
          run_type: string;
          conf: Record<string, unknown>;
        }[];

      await t.step("the first start made an Admin and printed its password, once", async () => {
        const printed = [...output.matchAll(/"admin" \(Admin\) with password (\S+)/g)];
        assert.equal(printed.length, 1, output);
        const res = await fetch(`http://127.0.0.1:${port}/auth/token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "admin", password: printed[0][1] }),
        });
        assert.equal(res.status, 201);
        assert.ok((await res.json()).access_token);
      });

      await t.step(
        "the local credential and the key are readable by this account only",
        async () => {
          for (const file of ["cli_credential.json", "secret_key"]) {
            const info = await Deno.stat(`${home}/${file}`);
            assert.equal(info.mode! & 0o777, 0o600, file);
          }
          const anonymous = await fetch(`http://127.0.0.1:${port}/api/v2/dags`);
          assert.equal(anonymous.status, 401, "the API wants credentials");
          await anonymous.body?.cancel();
        },
      );

      await t.step(
        "a second process cannot open the embedded database the server holds",
        async () => {
          const r = await gust(env, "dags", "test", "ops", "--record");
          assert.equal(r.code, 2);
          assert.match(r.stderr, /holds the embedded database/);
        },
      );

      await t.step("dags trigger starts a run that the server runs to success", async () => {
        const r = await gust(
          env,
          "dags",
          "trigger",
          "ops",
          "--conf",
          '{"n": 41}',
          "--run-id",
          "by_cli",
        );
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /Triggered ops: run by_cli/);
        const run = await until(
          "the run to succeed",
          async () =>
            (await runs()).find((r) => r.dag_run_id === "by_cli" && r.state === "success") ?? null,
        );
        assert.deepEqual(run.conf, { n: 41 });
      });

      await t.step("the same run id again is refused as bad input", async () => {
        const r = await gust(env, "dags", "trigger", "ops", "--run-id", "by_cli");
        assert.equal(r.code, 2);
        assert.match(r.stderr, /already exists/);
      });

      await t.step("tasks clear re-runs a task and its downstream", async () => {
        const r = await gust(
          env,
          "tasks",
          "clear",
          "ops",
          "by_cli",
          "--task",
          "first",
          "--downstream",
        );
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /Cleared 2 task instances/);
        await until("the cleared run to succeed again", async () => {
          const run = (await runs()).find((r) => r.dag_run_id === "by_cli");
          return run?.state === "success" ? run : null;
        });
      });

      await t.step("dags backfill creates the runs of a past window", async () => {
        const dry = await gust(
          env,
          "dags",
          "backfill",
          "ops",
          "--from",
          "2025-01-01",
          "--to",
          "2025-01-03",
          "--dry-run",
        );
        assert.equal(dry.code, 0, dry.stderr);
        assert.match(dry.stdout, /3 runs would be created/);
        const r = await gust(
          env,
          "dags",
          "backfill",
          "ops",
          "--from",
          "2025-01-01",
          "--to",
          "2025-01-03",
        );
        assert.equal(r.code, 0, r.stderr);
        await until("three successful backfill runs", async () => {
          const done = (await runs()).filter((r) =>
            r.run_type === "backfill" && r.state === "success"
          );
          return done.length === 3 ? done : null;
        });
      });

      await t.step("dags pause stops new runs from starting", async () => {
        assert.equal((await gust(env, "dags", "pause", "ops")).code, 0);
        const r = await gust(env, "dags", "trigger", "ops", "--run-id", "while_paused");
        assert.equal(r.code, 0);
        await new Promise((res) => setTimeout(res, 1500));
        assert.equal((await runs()).find((r) => r.dag_run_id === "while_paused")?.state, "queued");
        assert.equal((await gust(env, "dags", "unpause", "ops")).code, 0);
        await until(
          "the queued run to run after unpausing",
          async () =>
            (await runs()).find((r) => r.dag_run_id === "while_paused" && r.state === "success") ??
              null,
        );
      });
      await t.step("users and tokens are managed through the running server", async () => {
        const made = await gust(env, "users", "create", "--username", "ops", "--role", "Op");
        assert.equal(made.code, 0, made.stderr);
        assert.match(made.stdout, /Created ops \(Op\)\nPassword \(shown only now\): \S+/);
        const token = await gust(env, "tokens", "create", "--name", "reader", "--role", "Viewer");
        assert.equal(token.code, 0, token.stderr);
        viewerToken = /Token \(shown only now\): (\S+)/.exec(token.stdout)![1];
      });

      await t.step("GUST_API_TOKEN is used instead, with its role", async () => {
        const as = { ...env, GUST_API_TOKEN: viewerToken };
        const list = await gust(as, "runs", "list", "ops", "--json");
        assert.equal(list.code, 0, list.stderr);
        const refused = await gust(as, "dags", "trigger", "ops");
        assert.equal(refused.code, 2);
        assert.match(refused.stderr, /refused: the role of GUST_API_TOKEN does not allow this/);
        const bad = await gust(
          { ...env, GUST_API_TOKEN: "gust_not-a-token" },
          "runs",
          "list",
          "ops",
        );
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /refused GUST_API_TOKEN: Invalid token/);
      });

      await t.step("without a credential for the server, the CLI says what to do", async () => {
        const elsewhere = await Deno.makeTempDir({ prefix: "gust_home_" });
        const r = await gust({ ...env, GUST_HOME: elsewhere }, "runs", "list", "ops");
        await Deno.remove(elsewhere, { recursive: true });
        assert.equal(r.code, 2);
        assert.match(r.stderr, /needs credentials: set GUST_API_TOKEN/);
      });
    } finally {
      server.kill("SIGTERM");
      const status = await server.status;
      assert.equal(status.code, 0, output);
      assert.equal(
        await Deno.stat(`${home}/cli_credential.json`).then(() => true, () => false),
        false,
        "the server removes its local credential when it stops",
      );
      await Deno.remove(folder, { recursive: true });
      await Deno.remove(home, { recursive: true });
    }
  },
});
