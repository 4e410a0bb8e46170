/**
 * The dashboard's pages through `app.request()`, asserted through selectors: the DAG list with
 * its filters and pages, a DAG's tabs, a run, a task instance, the trigger form, and the htmx
 * fragments the same URLs return.
 */
import assert from "node:assert/strict";
import htmxSource from "htmx.org/dist/htmx.min.js" with { type: "text" };
import { recordImportError } from "../db/dags.ts";
import { createDagRun } from "../db/runs.ts";
import { urls } from "../views/format.ts";
import { dagFolder, dbTest, startEngine } from "./helpers.ts";
import {
  fakeDag,
  FLOW_DAG,
  getPage,
  parse,
  postForm,
  storeFakeDag,
  testApp,
} from "./ui_helpers.ts";

const HX = { "HX-Request": "true" };

dbTest("the DAG list filters by search and tag, pages, and shows import errors", async (t, db) => {
  for (let i = 0; i < 60; i++) {
    const id = `dag_${String(i).padStart(2, "0")}`;
    await storeFakeDag(
      db,
      fakeDag(id, {
        description: i === 7 ? "finds the needle" : null,
        tags: [i % 2 ? "odd" : "even"],
        schedule: i === 0 ? "@daily" : null,
      }),
    );
  }
  await db
    .sql`UPDATE dag SET next_dagrun_create_after = '2030-01-02T00:00:00Z' WHERE dag_id = 'dag_00'`;
  const version = await db.sql<{ id: number }>`
    SELECT latest_version_id AS id FROM dag WHERE dag_id = 'dag_01'`;
  for (let i = 0; i < 7; i++) {
    const at = new Date(Date.UTC(2025, 0, i + 1));
    await db.begin((tx) =>
      createDagRun(
        tx,
        {
          dagId: "dag_01",
          runId: `r${i}`,
          runType: "manual",
          logicalDate: at,
          dataInterval: null,
          runAfter: at,
          conf: {},
          versionId: version[0].id,
          triggeredBy: null,
        },
        fakeDag("dag_01"),
        at,
      )
    );
  }
  await recordImportError(db.sql, {
    filename: "broken.ts",
    message: "SyntaxError: Unexpected token",
    stack: null,
    now: new Date(),
  });
  const app = testApp(db);

  await t.step("the first page: 50 rows, a pager, the banner, schedule and next run", async () => {
    const { res, doc } = await getPage(app, "/");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("vary")!, /HX-Request/);
    assert.equal(doc.querySelectorAll("#dags tbody tr").length, 50);
    assert.match(doc.querySelector(".pager")!.textContent!, /60 DAGs · page 1 of 2/);
    assert.equal(doc.querySelector(".pager a[rel=next]")?.getAttribute("href"), "/?page=2");
    assert.equal(doc.querySelector("#import-errors .filename")?.textContent, "broken.ts");
    const first = doc.querySelector('tr[data-dag-id="dag_00"]')!;
    assert.equal(first.querySelector("code")?.textContent, "@daily");
    assert.match(first.textContent!, /2030-01-02 00:00:00/);
    assert.equal(first.querySelector("button[role=switch]")?.getAttribute("aria-checked"), "true");
    const dots = doc.querySelectorAll('tr[data-dag-id="dag_01"] .dot');
    assert.equal(dots.length, 5, "the five latest runs");
    assert.equal(dots[0].getAttribute("href"), urls.run("dag_01", "r6"));
    const tags = [...doc.querySelectorAll("select[name=tag] option")].map((o) => o.textContent);
    assert.deepEqual(tags, ["All tags", "even", "odd"]);
  });

  await t.step("page 2 holds the rest", async () => {
    const { doc } = await getPage(app, "/?page=2");
    assert.equal(doc.querySelectorAll("#dags tbody tr").length, 10);
    assert.equal(doc.querySelector("#dags tbody tr")?.getAttribute("data-dag-id"), "dag_50");
  });

  await t.step("search matches ids and descriptions; the tag filter narrows", async () => {
    const ids = async (path: string) =>
      [...(await getPage(app, path)).doc.querySelectorAll("#dags tbody tr")].map((r) =>
        r.getAttribute("data-dag-id")
      );
    assert.deepEqual(await ids("/?q=needle"), ["dag_07"]);
    assert.equal((await ids("/?q=dag_5")).length, 10);
    assert.deepEqual(await ids("/?q=dag_5&tag=odd"), [
      "dag_51",
      "dag_53",
      "dag_55",
      "dag_57",
      "dag_59",
    ]);
    assert.deepEqual(await ids("/?q=%25"), [], "a % typed in the search matches itself");
  });

  await t.step("with HX-Request the same URL answers with the list fragment only", async () => {
    const { res, html, doc } = await getPage(app, "/?q=needle", HX);
    assert.match(res.headers.get("vary")!, /HX-Request/);
    assert.ok(!html.includes("<html"), "no page shell");
    assert.equal(doc.querySelectorAll("#dag-list #dags tbody tr").length, 1);
  });
});

dbTest("a DAG's tabs, a run and a task instance show what the engine did", async (t, db) => {
  const engine = await startEngine(db, await dagFolder({ "flow.ts": FLOW_DAG }));
  try {
    const { dagRunId, state } = await engine.run("flow", { conf: { name: "Gust" } });
    assert.equal(state, "success");
    const [{ runId }] = await db.sql<{ runId: string }>`
      SELECT run_id AS "runId" FROM dag_run WHERE id = ${dagRunId}`;
    const app = testApp(db);

    await t.step(
      "grid: a column per run, a row per task and group, cells linking by id",
      async () => {
        const { doc } = await getPage(app, urls.dag("flow"));
        assert.equal(doc.querySelector("#grid .runbar")?.getAttribute("data-state"), "success");
        const rows = [...doc.querySelectorAll("#grid .grow")].slice(1).map((row) =>
          row.querySelector(".label")!.textContent
        );
        assert.deepEqual(rows, ["hello", "▾ g", "inner", "last"]);
        const cells = doc.querySelectorAll("#grid a.c.s-success");
        assert.equal(cells.length, 3);
        const redirect = await app.request(cells[0].getAttribute("href")!);
        assert.equal(redirect.status, 302);
        assert.equal(redirect.headers.get("location"), urls.ti("flow", runId, "hello"));
        assert.equal(doc.querySelector("#grid")?.getAttribute("data-active"), "false");
        assert.match(doc.querySelector("#grid")!.getAttribute("hx-trigger")!, /every 10s/);
      },
    );

    await t.step("the grid's fragment is the grid alone", async () => {
      const { html, doc, res } = await getPage(app, urls.dag("flow"), HX);
      assert.match(res.headers.get("vary")!, /HX-Request/);
      assert.ok(html.startsWith('<section id="grid"'), html.slice(0, 80));
      assert.equal(doc.querySelectorAll("a.c").length, 3);
    });

    await t.step("graph: nodes coloured by the run, the group boxed, edges", async () => {
      const { doc } = await getPage(app, urls.dagTab("flow", "graph"));
      const nodes = [...doc.querySelectorAll("g.node")].map((n) =>
        `${n.getAttribute("data-task-id")}:${n.getAttribute("data-state")}`
      );
      assert.deepEqual(nodes.sort(), ["g.inner:success", "hello:success", "last:success"]);
      assert.equal(doc.querySelector("g.group")?.getAttribute("data-group-id"), "g");
      assert.equal(doc.querySelectorAll("path.edge").length, 2);
      assert.equal(
        doc.querySelector("select[name=run] option[selected]")?.getAttribute("value"),
        runId,
      );
    });

    await t.step("runs, code and versions", async () => {
      const runs = (await getPage(app, urls.dagTab("flow", "runs"))).doc;
      assert.equal(runs.querySelector("#runs tbody tr")?.getAttribute("data-run-id"), runId);
      const code = (await getPage(app, urls.dagTab("flow", "code"))).doc;
      assert.match(code.querySelector("#source")!.textContent!, /console\.log\("hello "/);
      const versions = (await getPage(app, urls.dagTab("flow", "versions"))).doc;
      assert.equal(versions.querySelector("#versions tbody tr")?.getAttribute("data-version"), "1");
    });

    await t.step(
      "run page: tasks with tries and durations, a Gantt bar each, the conf",
      async () => {
        const { doc } = await getPage(app, urls.run("flow", runId));
        const rows = [...doc.querySelectorAll("#run-tasks tbody tr[data-task-id]")];
        assert.deepEqual(rows.map((r) => r.getAttribute("data-state")), [
          "success",
          "success",
          "success",
        ]);
        assert.equal(rows[0].querySelectorAll("td")[2].textContent, "1/1");
        assert.equal(doc.querySelectorAll("#gantt rect.gantt-bar").length, 3);
        assert.equal(JSON.parse(doc.querySelector("#conf")!.textContent!).name, "Gust");
        assert.equal(
          doc.querySelector("#run-details")?.getAttribute("hx-trigger"),
          null,
          "no polling",
        );
      },
    );

    await t.step("task instance page: the try, its log line, the result", async () => {
      const { doc } = await getPage(app, urls.ti("flow", runId, "hello"));
      assert.equal(doc.querySelector("#ti-summary")?.getAttribute("data-state"), "success");
      assert.equal(doc.querySelectorAll("#tries tbody tr").length, 1);
      const lines = [...doc.querySelectorAll("#log-lines .line")].map((l) => l.textContent);
      assert.ok(lines.some((l) => l!.endsWith("hello Gust")), JSON.stringify(lines));
      assert.deepEqual(JSON.parse(doc.querySelector("#result")!.textContent!), { count: 2 });
      assert.equal(doc.querySelector("#log-tail"), null, "a finished try's log does not poll");
      assert.equal(doc.querySelector("#waiting"), null);
    });

    await t.step(
      "the trigger form: fields from the params schema with their defaults",
      async () => {
        const { doc } = await getPage(app, `${urls.dag("flow")}?trigger`);
        const form = doc.querySelector("#trigger-form")!;
        assert.equal(
          form.querySelector('input[name="param.name"]')?.getAttribute("value"),
          "world",
        );
        assert.equal(
          form.querySelector('input[name="param.count"]')?.getAttribute("type"),
          "number",
        );
        assert.equal(form.querySelector('input[name="param.count"]')?.getAttribute("min"), "1");
        assert.equal(
          form.querySelector('select[name="param.mode"] option[selected]')?.textContent,
          "fast",
        );
        assert.equal(
          form.querySelector('input[name="param.loud"]')?.getAttribute("type"),
          "checkbox",
        );
        assert.match(form.textContent!, /Who to greet/);
      },
    );

    await t.step("triggering from the form makes a run with the typed conf", async () => {
      const { res, doc } = await postForm(app, urls.trigger("flow"), {
        "param.name": "Ada",
        "param.count": "3",
        "param.mode": "slow",
        "param.loud": "true",
        conf: '{"extra": [1, 2]}',
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("hx-trigger"), "runs-changed");
      const created = doc.querySelector("#trigger-form a.created-run")!.textContent!;
      const [run] = await db.sql<{ conf: unknown; triggeredBy: string }>`
        SELECT conf, triggered_by AS "triggeredBy" FROM dag_run WHERE run_id = ${created}`;
      assert.deepEqual(run.conf, {
        name: "Ada",
        count: 3,
        mode: "slow",
        loud: true,
        extra: [1, 2],
      });
      assert.equal(run.triggeredBy, "ui");
    });

    await t.step(
      "invalid input comes back under its field with status 422, and no run",
      async () => {
        const before = await db.sql`SELECT id FROM dag_run`;
        const cases: [Record<string, string>, string, RegExp][] = [
          [{ "param.count": "0" }, "count", />=\s*1/],
          [{ "param.count": "abc" }, "count", /Enter a number/],
          [{ conf: "[1]" }, "conf", /JSON object/],
          [{ conf: "{" }, "conf", /not valid JSON/],
        ];
        for (const [fields, field, message] of cases) {
          const { res, doc } = await postForm(app, urls.trigger("flow"), fields);
          assert.equal(res.status, 422, JSON.stringify(fields));
          const box = field === "conf"
            ? doc.querySelector("#trigger-conf")!.parentElement!
            : doc.querySelector(`[data-param="${field}"]`)!;
          assert.equal(box.getAttribute("aria-invalid"), "true");
          assert.match(box.querySelector(".error")!.textContent!, message);
        }
        assert.equal((await db.sql`SELECT id FROM dag_run`).length, before.length);
      },
    );

    await t.step("a plain form post (no htmx) is redirected to the new run", async () => {
      const { res } = await postForm(app, urls.trigger("flow"), {}, { htmx: false });
      assert.equal(res.status, 303);
      assert.match(res.headers.get("location")!, /^\/dags\/flow\/runs\/manual__/);
      const bad = await postForm(app, urls.trigger("flow"), { "param.count": "0" }, {
        htmx: false,
      });
      assert.equal(bad.res.status, 422);
      assert.ok(bad.doc.querySelector("html"), "a whole page with the form open");
      assert.equal(bad.doc.querySelector("details#trigger")?.hasAttribute("open"), true);
    });

    await t.step("unknown DAGs, runs and tasks are 404 pages", async () => {
      for (
        const path of [
          "/dags/nope",
          urls.run("flow", "nope"),
          urls.ti("flow", runId, "nope"),
          "/ti/999999",
        ]
      ) {
        const res = await app.request(path);
        assert.equal(res.status, 404, path);
        assert.ok(parse(await res.text()).querySelector("h1"));
      }
    });
  } finally {
    await engine.close();
  }
});

Deno.test("htmx and the stylesheet are served from here with long-lived caching", async (t) => {
  // No page here reads the database: an empty DAG list needs only an answer to its queries.
  const db = { sql: Object.assign(() => Promise.resolve([]), { cache: new Map() }) } as never;
  const app = testApp(db);
  await t.step("htmx comes from the npm package", async () => {
    const res = await app.request("/static/htmx.min.js");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /javascript/);
    assert.match(res.headers.get("cache-control")!, /immutable/);
    assert.equal(await res.text(), htmxSource);
    const again = await app.request("/static/htmx.min.js", {
      headers: { "If-None-Match": res.headers.get("etag")! },
    });
    assert.equal(again.status, 304);
  });
  await t.step("pages load only these, under a strict Content-Security-Policy", async () => {
    const { res, doc } = await getPage(app, "/");
    assert.match(
      res.headers.get("content-security-policy")!,
      /script-src 'self'; style-src 'self'/,
    );
    assert.match(
      doc.querySelector("script")!.getAttribute("src")!,
      /^\/static\/htmx\.min\.js\?v=2\.0\.11$/,
    );
    assert.match(
      doc.querySelector("link[rel=stylesheet]")!.getAttribute("href")!,
      /^\/static\/gust\.css/,
    );
    assert.equal(
      doc.querySelectorAll("[style], style").length,
      0,
      "no inline style for the CSP to block",
    );
    const css = await app.request(doc.querySelector("link[rel=stylesheet]")!.getAttribute("href")!);
    assert.match(await css.text(), /prefers-color-scheme: dark/);
  });
  await t.step("a big fragment is compressed when the browser accepts it", async () => {
    const res = await app.request("/static/htmx.min.js", {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(res.headers.get("content-encoding"), "gzip");
  });
});

dbTest(
  "an empty DAG list asks again until the first DAGs are stored, then stops",
  async (_t, db) => {
    const app = testApp(db);
    const empty = await getPage(app, "/");
    const waiting = empty.doc.querySelector("#dag-list")!;
    assert.equal(waiting.getAttribute("hx-trigger"), "every 3s");
    assert.equal(waiting.getAttribute("hx-get"), "/");
    assert.match(empty.doc.querySelector("#dag-list p.muted")!.textContent!, /No DAGs yet/);
    // A search that finds nothing is an answer, not a wait.
    const search = await getPage(app, "/?q=nothing");
    assert.equal(search.doc.querySelector("#dag-list")!.getAttribute("hx-trigger"), null);

    await storeFakeDag(db, fakeDag("arrived"));
    const polled = await getPage(app, "/", HX);
    const list = polled.doc.querySelector("#dag-list")!;
    assert.equal(list.getAttribute("hx-trigger"), null, "the list with DAGs does not poll");
    assert.ok(polled.doc.querySelector('#dags a[href="/dags/arrived"]'));
  },
);
