/**
 * The REST API as an Airflow client sees it: every answer is checked against Airflow's published
 * OpenAPI document (required fields, types, enums, no unknown fields) and against the document
 * Gust publishes at /api/v2/openapi.json; and the behaviour behind it: filters, pages, ordering,
 * `~`, encoded ids, 4xx bodies, marking, clearing, logs and results.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { recordImportError } from "../db/dags.ts";
import { api } from "../routes/api.ts";
import { OPERATIONS } from "../routes/api/operations.ts";
import { airflowDoc, check } from "./openapi_check.ts";
import { Client, METHODS } from "./api_client.ts";
import { adminApp } from "./auth_helpers.ts";
import { dagFolder, dbTest, startEngine } from "./helpers.ts";

const DAGS = {
  "api_dags.ts": `
import { dag } from "gust";
import { z } from "zod";
export const etl = dag({
  id: "api_etl",
  schedule: "@daily",
  startDate: "2025-01-01",
  tags: ["etl", "daily"],
  description: "Extract and load",
  params: z.object({ rows: z.number().int().min(0).default(3), label: z.string().default("") }),
}, (t) => {
  const extract = t.task("extract", (ctx) => {
    console.log("extracting " + ctx.params.rows);
    return Array.from({ length: ctx.params.rows }, (_, i) => i);
  });
  const double = t.task("double", { expand: { n: extract } }, (_ctx, { n }) => n * 2);
  t.task("load", { inputs: { rows: double } }, (_ctx, { rows }) => rows.length);
});
export const failing = dag({ id: "api_failing", tags: ["ops"] }, (t) => {
  const boom = t.task("boom", () => { throw new Error("kaboom"); });
  t.task("after", { dependsOn: [boom] }, () => "after ran");
});
`,
};

const DAG = "/api/v2/dags/{dag_id}";
const RUNS = `${DAG}/dagRuns`;
const RUN = `${RUNS}/{dag_run_id}`;
const TIS = `${RUN}/taskInstances`;
const TI = `${TIS}/{task_id}`;

async function setup(db: Db) {
  const folder = await dagFolder(DAGS);
  const engine = await startEngine(db, folder);
  const etl = await engine.run("api_etl");
  const failed = await engine.run("api_failing");
  await engine.close();
  // As the DAG processor records a file that fails to import.
  await recordImportError(db.sql, {
    filename: "broken.ts",
    message: 'DAG "api_broken" is invalid: task "a" depends on unknown task "missing"',
    stack: null,
    now: new Date(),
  });
  assert.equal(etl.state, "success");
  assert.equal(failed.state, "failed");
  const ids = await db.sql<{ id: number; runId: string }>`
    SELECT id, run_id AS "runId" FROM dag_run ORDER BY id`;
  const runId = (id: number) => ids.find((r) => r.id === id)!.runId;
  const app = adminApp({ db, roles: [], startedAt: new Date() });
  const gustDoc = await (await app.request("/api/v2/openapi.json")).json();
  const client = new Client(app, await airflowDoc(), gustDoc);
  return { app, client, gustDoc, etlRun: runId(etl.dagRunId), failedRun: runId(failed.dagRunId) };
}

Deno.test("Gust's OpenAPI document describes exactly the routes it serves, as Airflow names them", async () => {
  const airflow = await airflowDoc();
  const served = api.routes
    .filter((r) => (METHODS as readonly string[]).includes(r.method))
    .map((r) => `${r.method} /api/v2${r.path.replace(/\/$/, "")}`.replace(/:(\w+)/g, "{$1}"))
    .sort();
  const documented = OPERATIONS.filter((op) => op.path.startsWith("/api/v2"))
    .map((op) => `${op.method.toUpperCase()} ${op.path}`)
    .sort();
  assert.deepEqual(documented, served);
  for (const op of OPERATIONS) {
    if (!op.path.startsWith("/api/v2") || op.operationId === "get_openapi") continue;
    const theirs = airflow.paths[op.path]?.[op.method];
    assert.ok(theirs, `Airflow has no ${op.method} ${op.path}`);
    assert.equal(op.operationId, theirs.operationId, op.path);
    for (const p of op.parameters ?? []) {
      const known = (theirs.parameters ?? []).some((q: { name: string; in: string }) =>
        q.name === p.name && q.in === p.in
      );
      assert.ok(known, `${op.operationId}: Airflow has no ${p.in} parameter ${p.name}`);
    }
  }
});

Deno.test("the schema checker finds missing, mistyped, unknown and out-of-enum fields", async () => {
  const doc = await airflowDoc();
  const version = { $ref: "#/components/schemas/VersionInfo" };
  assert.deepEqual(check(doc, version, { version: "1", git_version: null }), []);
  assert.deepEqual(check(doc, version, { version: "1" }), ["$.git_version: required, missing"]);
  assert.equal(check(doc, version, { version: 1, git_version: null }).length, 1);
  assert.equal(check(doc, version, { version: "1", git_version: null, extra: 1 }).length, 1);
  // Airflow has no "webhook" run type: that is why Gust reports webhook runs as manual ones.
  assert.equal(check(doc, { $ref: "#/components/schemas/DagRunType" }, "webhook").length, 1);
  const when = { $ref: "#/components/schemas/DAGRunResponse" };
  assert.ok(check(doc, when, { run_after: "yesterday" }).some((e) => /date-time/.test(e)));
});

dbTest("the REST API answers in Airflow's shapes", async (t, db) => {
  const { app, client, etlRun, failedRun } = await setup(db);

  await t.step("GET /dags lists, filters, pages and orders", async () => {
    const all = await client.call("GET", "/api/v2/dags");
    assert.equal(all.total_entries, 2);
    assert.deepEqual(all.dags.map((d: { dag_id: string }) => d.dag_id), ["api_etl", "api_failing"]);
    const etl = all.dags[0];
    assert.deepEqual(etl.tags.map((x: { name: string }) => x.name), ["etl", "daily"]);
    assert.equal(etl.timetable_summary, "@daily");
    assert.equal(etl.description, "Extract and load");
    assert.ok(etl.next_dagrun_run_after, "a scheduled DAG shows its next run");
    const by = async (query: string) =>
      (await client.call("GET", "/api/v2/dags", { query })).dags.map((d: { dag_id: string }) =>
        d.dag_id
      );
    assert.deepEqual(await by("tags=ops"), ["api_failing"]);
    assert.deepEqual(await by("tags=etl&tags=ops"), ["api_etl", "api_failing"]);
    assert.deepEqual(await by("tags=etl&tags=ops&tags_match_mode=all"), []);
    assert.deepEqual(await by("dag_id_pattern=FAIL"), ["api_failing"]);
    assert.deepEqual(await by("dag_id_pattern=api%25etl"), ["api_etl"]);
    assert.deepEqual(await by("order_by=-dag_id"), ["api_failing", "api_etl"]);
    assert.deepEqual(await by("last_dag_run_state=failed"), ["api_failing"]);
    assert.deepEqual(await by("paused=true"), []);
    const page = await client.call("GET", "/api/v2/dags", { query: "limit=1&offset=1" });
    assert.equal(page.total_entries, 2);
    assert.deepEqual(page.dags.map((d: { dag_id: string }) => d.dag_id), ["api_failing"]);
    // Injection through a filter is a string to match, nothing more.
    assert.deepEqual(await by("dag_id_pattern=" + encodeURIComponent("'; DROP TABLE dag; --")), []);
    assert.equal((await client.call("GET", "/api/v2/dags")).total_entries, 2);
  });

  await t.step(
    "bad query parameters are 422 in FastAPI's shape; a bad order_by is 400",
    async () => {
      const bad = await client.call("GET", "/api/v2/dags", {
        query: "limit=ten&offset=-1&paused=maybe&tags_match_mode=some",
        status: 422,
      });
      assert.deepEqual(bad.detail.map((d: { loc: string[] }) => d.loc.join(".")).sort(), [
        "query.limit",
        "query.offset",
        "query.paused",
        "query.tags_match_mode",
      ]);
      await client.call("GET", "/api/v2/dags", { query: "limit=1001", status: 422 });
      const order = await client.call("GET", "/api/v2/dags", {
        query: "order_by=fileloc",
        status: 400,
      });
      assert.match(order.detail, /Ordering with 'fileloc' is disallowed/);
    },
  );

  await t.step("GET and PATCH /dags/{dag_id}", async () => {
    const etl = await client.call("GET", DAG, { params: { dag_id: "api_etl" } });
    assert.equal(etl.is_paused, false);
    const missing = await client.call("GET", DAG, { params: { dag_id: "nope" }, status: 404 });
    assert.equal(typeof missing.detail, "string");
    await client.call("GET", DAG, { params: { dag_id: "~" }, status: 404 });
    const paused = await client.call("PATCH", DAG, {
      params: { dag_id: "api_etl" },
      body: { is_paused: true },
    });
    assert.equal(paused.is_paused, true);
    assert.deepEqual(
      (await client.call("GET", "/api/v2/dags", { query: "paused=true" })).dags.map((
        d: { dag_id: string },
      ) => d.dag_id),
      ["api_etl"],
    );
    const unpaused = await client.call("PATCH", DAG, {
      params: { dag_id: "api_etl" },
      query: "update_mask=is_paused",
      body: { is_paused: false },
    });
    assert.equal(unpaused.is_paused, false);
    await client.call("PATCH", DAG, {
      params: { dag_id: "api_etl" },
      query: "update_mask=description",
      body: { is_paused: true },
      status: 400,
    });
    const problems = await client.call("PATCH", DAG, {
      params: { dag_id: "api_etl" },
      body: { is_paused: "yes", owner: "me" },
      status: 422,
    });
    assert.deepEqual(problems.detail.map((d: { type: string }) => d.type).sort(), [
      "extra_forbidden",
      "invalid_type",
    ]);
    const missingField = await client.call("PATCH", DAG, {
      params: { dag_id: "api_etl" },
      body: {},
      status: 422,
    });
    assert.deepEqual(missingField.detail, [{
      type: "missing",
      loc: ["body", "is_paused"],
      msg: "Field required",
    }]);
    const notJson = await app.request("/api/v2/dags/api_etl", { method: "PATCH", body: "{" });
    assert.equal(notJson.status, 422);
    assert.equal((await notJson.json()).detail[0].type, "json_invalid");
  });

  await t.step("hostile ids in paths are looked up as data and answered in JSON", async () => {
    for (
      const id of ["<script>alert(1)</script>", "'; DROP TABLE dag_run; --", "a/b", "%00", "~"]
    ) {
      const dag = await client.call("GET", DAG, { params: { dag_id: id }, status: 404 });
      assert.equal(typeof dag.detail, "string");
      await client.call("GET", RUN, { params: { dag_id: "api_etl", dag_run_id: id }, status: 404 });
    }
    assert.equal((await client.call("GET", RUNS, { params: { dag_id: "~" } })).total_entries, 2);
  });

  await t.step("GET dagRuns: one DAG or `~`, filters, pages, order", async () => {
    const all = await client.call("GET", RUNS, { params: { dag_id: "~" } });
    assert.equal(all.total_entries, 2);
    const one = await client.call("GET", RUNS, { params: { dag_id: "api_etl" } });
    assert.deepEqual(one.dag_runs.map((r: { dag_run_id: string }) => r.dag_run_id), [etlRun]);
    const run = one.dag_runs[0];
    assert.equal(run.state, "success");
    assert.deepEqual(run.conf, { rows: 3, label: "" });
    assert.equal(run.dag_versions.length, 1);
    const failed = await client.call("GET", RUNS, {
      params: { dag_id: "~" },
      query: "state=failed",
    });
    assert.deepEqual(failed.dag_runs.map((r: { dag_id: string }) => r.dag_id), ["api_failing"]);
    const newest = await client.call("GET", RUNS, {
      params: { dag_id: "~" },
      query: "order_by=-id&limit=1",
    });
    assert.equal(newest.total_entries, 2);
    assert.equal(newest.dag_runs[0].dag_run_id, failedRun);
    const future = await client.call("GET", RUNS, {
      params: { dag_id: "~" },
      query: "logical_date_gte=2999-01-01T00:00:00Z",
    });
    assert.equal(future.total_entries, 0);
    await client.call("GET", RUNS, { params: { dag_id: "~" }, query: "state=done", status: 400 });
    await client.call("GET", RUNS, {
      params: { dag_id: "~" },
      query: "run_after_gte=tomorrow",
      status: 422,
    });
    await client.call("GET", RUNS, { params: { dag_id: "nope" }, status: 404 });
  });

  await t.step(
    "POST dagRuns triggers with conf; ids are checked, kept and found encoded",
    async () => {
      const runId = "manual__2025-01-01T00:00:00+00:00";
      const hostile = `<script>alert(1)</script>'; DROP TABLE dag_run; --`;
      const created = await client.call("POST", RUNS, {
        params: { dag_id: "api_etl" },
        body: {
          dag_run_id: runId,
          logical_date: "2025-01-01T00:00:00Z",
          conf: { rows: 2, label: hostile },
          note: hostile,
        },
      });
      assert.equal(created.dag_run_id, runId);
      // Started at once, since the DAG may run it now (it is queued when it must wait).
      assert.equal(created.state, "running");
      assert.equal(created.logical_date, "2025-01-01T00:00:00.000Z");
      assert.deepEqual(created.conf, { rows: 2, label: hostile });
      assert.equal(created.note, hostile);
      assert.equal(created.triggered_by, "rest_api");
      const found = await client.call("GET", RUN, {
        params: { dag_id: "api_etl", dag_run_id: runId },
      });
      assert.equal(found.dag_run_id, runId);
      // `+` and `:` sent as they are, unencoded, find the same run.
      const raw = await app.request(`/api/v2/dags/api_etl/dagRuns/${runId}`);
      assert.equal((await raw.json()).dag_run_id, runId);
      await client.call("POST", RUNS, {
        params: { dag_id: "api_etl" },
        body: { dag_run_id: runId, logical_date: null },
        status: 409,
      });
      for (const bad of ["<script>alert(1)</script>", "~", "../etc", "a b", "x".repeat(251)]) {
        const res = await client.call("POST", RUNS, {
          params: { dag_id: "api_etl" },
          body: { dag_run_id: bad, logical_date: null },
          status: 400,
        });
        assert.match(res.detail, /does not match regex pattern/);
      }
      const conf = await client.call("POST", RUNS, {
        params: { dag_id: "api_etl" },
        body: { logical_date: null, conf: { rows: -1 } },
        status: 422,
      });
      assert.deepEqual(conf.detail[0].loc, ["body", "conf"]);
      assert.match(conf.detail[0].msg, /rows/);
      const noDate = await client.call("POST", RUNS, {
        params: { dag_id: "api_etl" },
        body: { conf: {} },
        status: 422,
      });
      assert.deepEqual(noDate.detail[0], {
        type: "missing",
        loc: ["body", "logical_date"],
        msg: "Field required",
      });
      await client.call("POST", RUNS, {
        params: { dag_id: "api_etl" },
        body: { logical_date: "2025-01-01T00:00:00" },
        status: 422,
      });
      await client.call("POST", RUNS, {
        params: { dag_id: "api_etl" },
        body: { logical_date: null, data_interval_start: "2025-01-01T00:00:00Z" },
        status: 422,
      });
      await client.call("POST", RUNS, {
        params: { dag_id: "nope" },
        body: { logical_date: null },
        status: 404,
      });
      const missingRun = await client.call("GET", RUN, {
        params: { dag_id: "api_etl", dag_run_id: "nope" },
        status: 404,
      });
      assert.match(missingRun.detail, /was not found/);
    },
  );

  await t.step("taskInstances: list, one, `~`, filters", async () => {
    const list = await client.call("GET", TIS, {
      params: { dag_id: "api_etl", dag_run_id: etlRun },
    });
    assert.equal(list.total_entries, 5);
    const names = list.task_instances.map((x: { task_id: string; map_index: number }) =>
      `${x.task_id}[${x.map_index}]`
    );
    assert.deepEqual(names.sort(), [
      "double[0]",
      "double[1]",
      "double[2]",
      "extract[-1]",
      "load[-1]",
    ]);
    const everywhere = await client.call("GET", TIS, { params: { dag_id: "~", dag_run_id: "~" } });
    // 5 + 2 in the runs that ran, and 3 in the run triggered above (its mapped task unexpanded).
    assert.equal(everywhere.total_entries, 10);
    const failed = await client.call("GET", TIS, {
      params: { dag_id: "~", dag_run_id: "~" },
      query: "state=failed&state=upstream_failed&order_by=task_id",
    });
    assert.deepEqual(
      failed.task_instances.map((x: { task_id: string; state: string }) =>
        `${x.task_id}:${x.state}`
      ),
      ["after:upstream_failed", "boom:failed"],
    );
    const paged = await client.call("GET", TIS, {
      params: { dag_id: "api_etl", dag_run_id: etlRun },
      query: "task_id=double&order_by=-map_index&limit=2&offset=1",
    });
    assert.equal(paged.total_entries, 3);
    assert.deepEqual(paged.task_instances.map((x: { map_index: number }) => x.map_index), [1, 0]);
    await client.call("GET", TIS, {
      params: { dag_id: "api_etl", dag_run_id: etlRun },
      query: "state=exploded",
      status: 400,
    });
    await client.call("GET", TIS, {
      params: { dag_id: "api_etl", dag_run_id: "nope" },
      status: 404,
    });

    const one = await client.call("GET", TI, {
      params: { dag_id: "api_etl", dag_run_id: etlRun, task_id: "extract" },
    });
    assert.equal(one.state, "success");
    assert.equal(one.try_number, 1);
    const mapped = await client.call("GET", TI, {
      params: { dag_id: "api_etl", dag_run_id: etlRun, task_id: "double" },
      status: 404,
    });
    assert.match(mapped.detail, /mapped/);
    await client.call("GET", TI, {
      params: { dag_id: "api_etl", dag_run_id: etlRun, task_id: "nope" },
      status: 404,
    });
  });

  await t.step("logs of a try, as JSON and NDJSON", async () => {
    const params = { dag_id: "api_etl", dag_run_id: etlRun, task_id: "extract" };
    const log = await client.call("GET", `${TI}/logs/{try_number}`, {
      params: { ...params, try_number: "1" },
    });
    assert.ok(
      log.content.some((m: { event: string }) => m.event === "extracting 3"),
      JSON.stringify(log),
    );
    assert.equal(log.continuation_token, null);
    const none = await client.call("GET", `${TI}/logs/{try_number}`, {
      params: { ...params, try_number: "2" },
    });
    assert.deepEqual(none.content, []);
    await client.call("GET", `${TI}/logs/{try_number}`, {
      params: { ...params, try_number: "first" },
      status: 422,
    });
    await client.call("GET", `${TI}/logs/{try_number}`, {
      params: { ...params, try_number: "1" },
      query: "token=forged",
      status: 400,
    });
    const mapped = await client.call("GET", `${TI}/logs/{try_number}`, {
      params: { ...params, task_id: "double", try_number: "1" },
      query: "map_index=2",
    });
    assert.deepEqual(mapped.content, []);
    const failedLog = await client.call("GET", `${TI}/logs/{try_number}`, {
      params: { dag_id: "api_failing", dag_run_id: failedRun, task_id: "boom", try_number: "1" },
    });
    assert.match(JSON.stringify(failedLog.content), /kaboom/);
    const ndjson = await app.request(
      `/api/v2/dags/api_etl/dagRuns/${encodeURIComponent(etlRun)}/taskInstances/extract/logs/1`,
      { headers: { accept: "application/x-ndjson" } },
    );
    assert.equal(ndjson.headers.get("content-type"), "application/x-ndjson");
    const lines = (await ndjson.text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.some((m) => m.event === "extracting 3"));
  });

  await t.step("xcomEntries: the results, listed and one by one", async () => {
    const params = { dag_id: "api_etl", dag_run_id: etlRun, task_id: "extract" };
    const list = await client.call("GET", `${TI}/xcomEntries`, { params });
    assert.equal(list.total_entries, 1);
    assert.equal(list.xcom_entries[0].key, "return_value");
    const run = await client.call("GET", `${TI}/xcomEntries`, {
      params: { ...params, task_id: "~" },
    });
    assert.equal(run.total_entries, 5);
    const everywhere = await client.call("GET", `${TI}/xcomEntries`, {
      params: { dag_id: "~", dag_run_id: "~", task_id: "~" },
      query: "limit=2",
    });
    assert.equal(everywhere.xcom_entries.length, 2);
    const entry = await client.call("GET", `${TI}/xcomEntries/{xcom_key}`, {
      params: { ...params, xcom_key: "return_value" },
    });
    assert.deepEqual(entry.value, [0, 1, 2]);
    const text = await client.call("GET", `${TI}/xcomEntries/{xcom_key}`, {
      params: { ...params, task_id: "double", xcom_key: "return_value" },
      query: "map_index=2&stringify=true",
    });
    assert.equal(text.value, "4");
    await client.call("GET", `${TI}/xcomEntries/{xcom_key}`, {
      params: { ...params, xcom_key: "nope" },
      status: 404,
    });
  });

  await t.step("PATCH a task instance: mark success resumes what it failed", async () => {
    const params = { dag_id: "api_failing", dag_run_id: failedRun, task_id: "boom" };
    const marked = await client.call("PATCH", TI, {
      params,
      body: { new_state: "success", note: "fixed by hand" },
    });
    assert.deepEqual(
      marked.task_instances.map((x: { task_id: string; state: string; note: string }) => [
        x.task_id,
        x.state,
        x.note,
      ]),
      [["boom", "success", "fixed by hand"]],
    );
    const after = await client.call("GET", TI, { params: { ...params, task_id: "after" } });
    assert.equal(after.state, null, "the upstream_failed task downstream was cleared");
    const run = await client.call("GET", RUN, { params });
    assert.equal(run.state, "queued");
    const again = await client.call("PATCH", TI, {
      params,
      body: { new_state: "success" },
      status: 409,
    });
    assert.match(again.detail, /already in success state/);
    await client.call("PATCH", TI, { params, body: { new_state: "running" }, status: 422 });
    await client.call("PATCH", TI, { params, body: { include_future: true }, status: 422 });
    await client.call("PATCH", TI, { params, query: "update_mask=state", body: {}, status: 400 });
    await client.call("PATCH", TI, {
      params: { ...params, task_id: "nope" },
      body: {},
      status: 404,
    });
  });

  await t.step("PATCH a run: mark failed or success, set its note", async () => {
    const params = { dag_id: "api_failing", dag_run_id: failedRun };
    const failed = await client.call("PATCH", RUN, { params, body: { state: "failed" } });
    assert.equal(failed.state, "failed");
    const tis = await client.call("GET", TIS, { params, query: "order_by=task_id" });
    assert.deepEqual(
      tis.task_instances.map((x: { task_id: string; state: string }) => `${x.task_id}:${x.state}`),
      ["after:skipped", "boom:success"],
    );
    const noted = await client.call("PATCH", RUN, {
      params,
      query: "update_mask=note",
      body: { state: "success", note: "looked at" },
    });
    assert.equal(noted.state, "failed", "the mask leaves the state alone");
    assert.equal(noted.note, "looked at");
    const success = await client.call("PATCH", RUN, { params, body: { state: "success" } });
    assert.equal(success.state, "success");
    const all = await client.call("GET", TIS, { params });
    assert.ok(all.task_instances.every((x: { state: string }) => x.state === "success"));
    await client.call("PATCH", RUN, { params, body: { state: "running" }, status: 422 });
    await client.call("PATCH", RUN, { params, query: "update_mask=conf", body: {}, status: 400 });
  });

  await t.step("clear a run, and clearTaskInstances", async () => {
    const params = { dag_id: "api_etl", dag_run_id: etlRun };
    const dry = await client.call("POST", `${RUN}/clear`, { params, body: {} });
    assert.equal(dry.total_entries, 5, "a dry run by default");
    const selected = await client.call("POST", `${DAG}/clearTaskInstances`, {
      params,
      body: {
        dag_run_id: etlRun,
        task_ids: ["double"],
        include_downstream: true,
        only_failed: false,
      },
    });
    assert.deepEqual(
      selected.task_instances.map((x: { task_id: string }) => x.task_id).sort(),
      ["double", "double", "double", "load"],
    );
    const stillThere = await client.call("GET", RUN, { params });
    assert.equal(stillThere.state, "success", "clearTaskInstances is a dry run by default");
    const cleared = await client.call("POST", `${RUN}/clear`, { params, body: { dry_run: false } });
    assert.equal(cleared.state, "queued");
    const none = await client.call("GET", TIS, { params, query: "state=none" });
    assert.equal(none.total_entries, 5);
    await client.call("POST", `${DAG}/clearTaskInstances`, {
      params,
      body: { task_ids: ["nope"] },
      status: 404,
    });
    await client.call("POST", `${DAG}/clearTaskInstances`, {
      params,
      body: { reset_dag_runs: false },
      status: 422,
    });
    await client.call("POST", `${RUN}/clear`, {
      params: { ...params, dag_run_id: "nope" },
      body: {},
      status: 404,
    });
  });

  await t.step("importErrors, health, version and the document itself", async () => {
    const errors = await client.call("GET", "/api/v2/importErrors");
    assert.equal(errors.total_entries, 1);
    assert.equal(errors.import_errors[0].filename, "broken.ts");
    assert.equal(typeof errors.import_errors[0].import_error_id, "number");
    assert.match(errors.import_errors[0].stack_trace, /missing/);
    const health = await client.call("GET", "/api/v2/monitor/health");
    assert.equal(health.metadatabase.status, "healthy");
    const version = await client.call("GET", "/api/v2/version");
    assert.equal(typeof version.version, "string");
    const missing = await app.request("/api/v2/variables");
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { detail: "Not Found" });
  });
});
