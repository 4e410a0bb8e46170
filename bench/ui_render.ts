/**
 * How long the dashboard takes to answer, queries and rendering together, on the sizes the
 * dashboard issue names: 500 DAGs (each with 10 runs), and a DAG of 200 tasks in 10 groups with
 * 25 runs in its grid, one task with a 2,000-line log. Requests go through `app.request()`, so
 * no network time is counted.
 *
 *   deno run -A bench/ui_render.ts                      # embedded PGlite
 *   DATABASE_URL=postgres://... deno run -A bench/ui_render.ts   # a scratch Postgres database
 *
 * Prints the median and the 95th percentile of 30 requests per page, after 3 warm-up requests,
 * and the size of the answer. `--only <text>` times only the pages whose name contains it,
 * `--n <count>` sets the number of timed requests, `--gzip` asks for compression as a browser
 * does.
 */
import { parseArgs } from "node:util";
import { json } from "../db/client.ts";
import { insertLogs } from "../db/logs.ts";
import { openDb } from "../db/open.ts";
import { createDagRun } from "../db/runs.ts";
import { LOCAL_TOKEN_PREFIX, randomToken } from "../auth/secrets.ts";
import { createApp } from "../routes/mod.ts";
import { urls } from "../views/format.ts";
import { fakeDag, linked, storeFakeDag, task } from "../tests/ui_helpers.ts";

const url = Deno.env.get("DATABASE_URL");
const db = url ? await openDb({ url }) : await openDb({ memory: true });
const counted = await db.sql<{ n: number }>`SELECT count(*)::int AS n FROM dag`;
if (counted[0].n > 0) throw new Error("Use an empty database: this benchmark fills it");

console.log(`Seeding (${url ? "Postgres" : "PGlite"})…`);
const small = fakeDag("template", { tags: ["bench"], description: "A DAG among many" });
await db.sql`
  INSERT INTO dag (dag_id, fileloc)
  SELECT 'dag_' || lpad(i::text, 3, '0'), 'many.ts' FROM generate_series(1, 500) AS i`;
await db.sql`
  INSERT INTO dag_version (dag_id, version_number, hash, fileloc, serialized, source,
    max_active_runs, max_active_tasks)
  SELECT dag_id, 1, md5(dag_id), 'many.ts', jsonb_set(${json(small)}, '{dagId}', to_jsonb(dag_id)),
    '// many', 16, 16
  FROM dag`;
await db
  .sql`UPDATE dag d SET latest_version_id = v.id FROM dag_version v WHERE v.dag_id = d.dag_id`;
await db.sql`
  INSERT INTO dag_run (dag_id, run_id, run_type, logical_date, run_after, state, dag_version_id)
  SELECT d.dag_id, 'run_' || r, 'scheduled', now() - r * interval '1 day',
    now() - r * interval '1 day', CASE WHEN r % 7 = 0 THEN 'failed' ELSE 'success' END,
    d.latest_version_id
  FROM dag d, generate_series(1, 10) AS r`;

// The big DAG: 10 groups of 20 tasks, each group a chain fed by the previous group's last task.
const ids: string[] = [];
const edges: [string, string][] = [];
for (let g = 0; g < 10; g++) {
  for (let i = 0; i < 20; i++) {
    const id = `group_${g}.task_${String(i).padStart(2, "0")}`;
    if (i > 0) edges.push([ids[ids.length - 1], id]);
    else if (g > 0) edges.push([`group_${g - 1}.task_19`, id]);
    ids.push(id);
  }
}
const big = fakeDag("big", {
  groups: Array.from({ length: 10 }, (_, g) => `group_${g}`),
  tasks: linked(ids.map((id) => task(id, { group: id.split(".")[0] })), edges),
  paramsSchema: {
    type: "object",
    properties: { size: { type: "integer", default: 10 }, label: { type: "string" } },
  },
});
const versionId = await storeFakeDag(db, big, "// big\n".repeat(200));
const states = ["success", "success", "success", "failed", "skipped", "running", null];
let lastRun = "";
for (let r = 0; r < 25; r++) {
  const at = new Date(Date.now() - (25 - r) * 3_600_000);
  lastRun = `manual__${at.toISOString()}`;
  const { id } = await db.begin((tx) =>
    createDagRun(
      tx,
      {
        dagId: "big",
        runId: lastRun,
        runType: "manual",
        logicalDate: at,
        dataInterval: null,
        runAfter: at,
        conf: { size: r },
        versionId,
        triggeredBy: "bench",
      },
      big,
      at,
    )
  );
  await db.sql`
    UPDATE task_instance SET try_number = 1, start_date = ${at},
      end_date = ${new Date(at.getTime() + 60_000)}, duration_ms = 60000,
      state = (${states}::text[])[1 + (id % ${states.length})]
    WHERE dag_run_id = ${id}`;
  await db.sql`UPDATE dag_run SET state = 'running', start_date = ${at} WHERE id = ${id}`;
}
const [ti] = await db.sql<{ id: number }>`
  SELECT ti.id FROM task_instance ti JOIN dag_run r ON r.id = ti.dag_run_id
  WHERE r.run_id = ${lastRun} AND ti.task_id = 'group_0.task_00'`;
await db.sql`
  INSERT INTO task_try (ti_id, try_number, state, start_date, end_date)
  VALUES (${ti.id}, 1, 'success', now(), now())`;
await insertLogs(
  db.sql,
  Array.from({ length: 2000 }, (_, i) => ({
    tiId: ti.id,
    tryNumber: 1,
    ts: new Date(),
    level: "info",
    line: `line ${i}: processed a batch of rows`,
  })),
);

// Pages need a signed-in caller: the local credential, as the CLI presents it.
const localToken = randomToken(LOCAL_TOKEN_PREFIX);
const app = createApp({ db, roles: ["web"], startedAt: new Date(), auth: { localToken } });
const signedIn = { authorization: `Bearer ${localToken}` };
/** Sets a cell of the latest run to another state, as a worker would while the run goes on. */
let flips = 0;
async function changeACell() {
  await db.sql`
    UPDATE task_instance SET state = ${flips++ % 2 ? "running" : "success"}
    WHERE run_id = ${lastRun} AND task_id = 'group_9.task_19'`;
}

const HX = { "HX-Request": "true" };
const etag = (await app.request(urls.dag("big"), { headers: { ...signedIn, ...HX } })).headers.get(
  "etag",
);

// Each page: its name, address, headers, and what to do before each request.
const pages: [string, string, Record<string, string>?, (() => Promise<void>)?][] = [
  ["DAG list (500 DAGs, page 1)", "/"],
  ["DAG list, page 10", "/?page=10"],
  ["DAG list, search", "/?q=dag_4&tag=bench"],
  ["grid page (200 tasks x 25 runs)", urls.dag("big")],
  ["grid fragment (htmx poll)", urls.dag("big"), HX],
  ["grid fragment, a cell changed before each", urls.dag("big"), HX, changeACell],
  ["grid fragment, revalidated (304 once conditional)", urls.dag("big"), {
    ...HX,
    ...(etag ? { "If-None-Match": etag } : {}),
  }],
  ["graph (200 tasks)", urls.dagTab("big", "graph")],
  ["runs", urls.dagTab("big", "runs")],
  ["code", urls.dagTab("big", "code")],
  ["versions", urls.dagTab("big", "versions")],
  ["run page (200 tasks, Gantt)", urls.run("big", lastRun)],
  ["task instance (2,000 log lines)", `${urls.ti("big", lastRun, "group_0.task_00")}?try=1`],
  ["log tail fragment", `${urls.tiAction("big", lastRun, "group_0.task_00", "log")}?try=1&after=0`],
];

const { values: opt } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    n: { type: "string", default: "30" },
    gzip: { type: "boolean", default: false },
  },
});
const n = Number(opt.n);
console.log("page | median ms | p95 ms | KiB");
for (const [name, path, extra, before] of pages) {
  if (opt.only && !name.includes(opt.only)) continue;
  const headers = { ...extra, ...(opt.gzip ? { "Accept-Encoding": "gzip" } : {}) };
  const times: number[] = [];
  let size = 0;
  for (let i = 0; i < n + 3; i++) {
    await before?.();
    const t0 = performance.now();
    const res = await app.request(path, { headers: { ...signedIn, ...headers } });
    const body = await res.arrayBuffer();
    if (res.status !== 200 && res.status !== 304) throw new Error(`${path}: ${res.status}`);
    if (i >= 3) times.push(performance.now() - t0);
    size = body.byteLength;
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const p95 = times[Math.floor(times.length * 0.95)];
  console.log(`${name} | ${median.toFixed(1)} | ${p95.toFixed(1)} | ${(size / 1024).toFixed(0)}`);
}
await db.close();
