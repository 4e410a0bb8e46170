/**
 * The CLI as users run it: a separate process, its exit status, its text and its JSON.
 */
import assert from "node:assert/strict";
import { runGust } from "./cli_helpers.ts";
import { dagFolder } from "./helpers.ts";

const DAGS = {
  "good.ts": `
import { dag } from "gust";
import { z } from "zod";
export default dag({
  id: "cli_good",
  schedule: "@daily",
  startDate: "2025-01-01",
  tags: ["cli"],
  params: z.object({ who: z.string().default("world"), times: z.number().int().min(1).default(1) }),
}, (t) => {
  const hello = t.task("hello", (ctx) => {
    console.log("hello " + ctx.params.who);
    return ctx.params.times;
  });
  t.task("twice", { inputs: { n: hello } }, (_ctx, { n }) => n * 2);
});
`,
  "failing.ts": `
import { dag } from "gust";
export const failing = dag({
  id: "cli_failing",
  onFailure: (ctx) => console.log("told someone: " + ctx.state),
}, (t) => {
  const boom = t.task("boom", () => { throw new Error("kaboom"); });
  t.task("after", { dependsOn: [boom] }, () => 1);
});
`,
  "broken.ts": `
import { dag } from "gust";
export default dag({ id: "cli_broken" }, (t) => {
  t.task("a", { dependsOn: ["missing"] }, () => 1);
});
`,
};

const gust = (env: Record<string, string>, ...args: string[]) => runGust(env, args);

Deno.test({
  name: "the gust CLI as a process",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const folder = await dagFolder(DAGS);
    const home = await Deno.makeTempDir({ prefix: "gust_home_" });
    const env = { GUST_DAGS_FOLDER: folder, GUST_HOME: home };

    await t.step("dags list --json lists DAGs and import errors", async () => {
      const r = await gust(env, "dags", "list", "--json");
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout);
      assert.deepEqual(body.dags.map((d: { dag_id: string }) => d.dag_id), [
        "cli_failing",
        "cli_good",
      ]);
      const good = body.dags.find((d: { dag_id: string }) => d.dag_id === "cli_good");
      assert.equal(good.schedule, "@daily");
      assert.deepEqual(good.tags, ["cli"]);
      assert.equal(body.import_errors.length, 1);
      assert.equal(body.import_errors[0].filename, "broken.ts");
      assert.match(body.import_errors[0].message, /cli_broken.*unknown task "missing"/);
    });

    await t.step("dags list prints a table and the import errors", async () => {
      const r = await gust(env, "dags", "list");
      assert.equal(r.code, 0);
      assert.match(r.stdout, /cli_good\s+@daily\s+cli\s+good\.ts/);
      assert.match(r.stdout, /1 import error:\n\s+broken\.ts: /);
    });

    await t.step("dags test runs to success, prints states and logs, exits 0", async () => {
      const r = await gust(env, "dags", "test", "cli_good", "--conf", '{"who":"gust"}');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /hello \| hello gust/);
      assert.match(r.stdout, /hello success/);
      assert.match(r.stdout, /twice success/);
      assert.match(r.stdout, /: success$/m);
    });

    await t.step("dags test --json prints one object with every task", async () => {
      const r = await gust(
        env,
        "dags",
        "test",
        "cli_good",
        "--json",
        "--conf",
        '{"times": 3}',
        "--logical-date",
        "2025-03-01T00:00:00Z",
      );
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout);
      assert.equal(body.dag_id, "cli_good");
      assert.equal(body.state, "success");
      assert.equal(body.run_id, "manual__2025-03-01T00:00:00.000Z");
      assert.deepEqual(Object.keys(body.tasks).sort(), ["hello", "twice"]);
      assert.equal(body.tasks.twice.state, "success");
      assert.equal(body.tasks.twice.tries, 1);
      assert.equal(typeof body.tasks.twice.duration_ms, "number");
    });

    await t.step("dags test of a failing DAG exits 1 and shows the error", async () => {
      const r = await gust(env, "dags", "test", "cli_failing", "--json");
      assert.equal(r.code, 1);
      const body = JSON.parse(r.stdout);
      assert.equal(body.state, "failed");
      assert.equal(body.tasks.boom.state, "failed");
      assert.equal(body.tasks.after.state, "upstream_failed");
      assert.equal(body.callback.name, "onFailure");
      assert.match(body.callback.log, /told someone: failed/);
      const text = await gust(env, "dags", "test", "cli_failing");
      assert.match(text.stdout, /boom \| Error: kaboom\n.*boom \| +at .*failing\.ts:\d+:\d+/);
      // The stack is the task's own: no frames of the runner's machinery or of Deno's.
      assert.doesNotMatch(text.stdout, /runner_main\.ts|ext:core/);
      assert.match(text.stdout, /onFailure:\n.*told someone: failed/);
    });

    await t.step("bad input exits 2 and names the cause", async () => {
      const unknown = await gust(env, "dags", "test", "nope");
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /DAG "nope" not found; 1 file failed to import: broken\.ts/);
      const badJson = await gust(env, "dags", "test", "cli_good", "--conf", "{nope");
      assert.equal(badJson.code, 2);
      assert.match(badJson.stderr, /--conf is not valid JSON/);
      const badConf = await gust(env, "dags", "test", "cli_good", "--conf", '{"times": 0}');
      assert.equal(badConf.code, 2);
      assert.match(badConf.stderr, /Invalid conf for DAG "cli_good": times: /);
      const badDate = await gust(env, "dags", "test", "cli_good", "--logical-date", "soon");
      assert.equal(badDate.code, 2);
      assert.match(badDate.stderr, /--logical-date is not a date: "soon"/);
      const badCommand = await gust(env, "dags", "frobnicate");
      assert.equal(badCommand.code, 2);
      assert.match(badCommand.stderr, /Unknown command "dags frobnicate"/);
    });

    await t.step("tasks test runs one task alone, ignoring its upstream", async () => {
      const r = await gust(env, "tasks", "test", "cli_good", "twice", "--json");
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout);
      assert.equal(body.state, "success");
      assert.equal(body.result, 0); // its input from "hello" is null when run alone: null * 2
      const unknown = await gust(env, "tasks", "test", "cli_good", "nope");
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /Task "nope" not found in DAG "cli_good"/);
    });

    await t.step("dags show prints the graph as text and as Mermaid", async () => {
      const text = await gust(env, "dags", "show", "cli_good");
      assert.equal(text.code, 0);
      assert.match(text.stdout, /twice\s+<- hello/);
      const mermaid = await gust(env, "dags", "show", "cli_good", "--mermaid");
      assert.match(mermaid.stdout, /^graph LR/);
      assert.match(mermaid.stdout, /hello --> twice/);
    });

    await t.step("db migrate applies migrations once", async () => {
      const first = await gust(env, "db", "migrate");
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /Applied migration/);
      const second = await gust(env, "db", "migrate");
      assert.equal(second.code, 0);
      assert.match(second.stdout, /up to date/);
    });

    await Deno.remove(folder, { recursive: true });
    await Deno.remove(home, { recursive: true });
  },
});
