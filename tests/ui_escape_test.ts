/**
 * Everything a DAG author or a webhook sender controls reaches the dashboard as text, never as
 * markup: DAG ids, descriptions, docs, tags, schedules, task and group ids, params (names,
 * defaults, help, options), conf, log lines, errors, results, import errors, source code. A DAG
 * holding script payloads in each is stored directly (no DAG file could declare such ids), and
 * every page and fragment that shows it must come out with no script but htmx's, no injected
 * element, no event-handler attribute, and the payload readable as text.
 */
import assert from "node:assert/strict";
import { json } from "../db/client.ts";
import { recordImportError } from "../db/dags.ts";
import { insertLogs } from "../db/logs.ts";
import { createDagRun } from "../db/runs.ts";
import { urls } from "../views/format.ts";
import { escapeHtml } from "../views/html.ts";
import { dbTest } from "./helpers.ts";
import {
  attributeNames,
  type Doc,
  fakeDag,
  getPage,
  linked,
  parse,
  postForm,
  storeFakeDag,
  task,
  testApp,
} from "./ui_helpers.ts";

const SCRIPT = "<script>alert(1)</script>";
const BREAKOUT = `"><img src=x onerror=alert(1)>`;
const P = `${SCRIPT}${BREAKOUT}`;

const dagId = `evil${P}`;
const group = `g${BREAKOUT}`;
const first = `first${P}`;
const second = `${group}.second${SCRIPT}`;
const runId = `run${P}`;
const param = `p${P}`;

function assertInert(doc: Doc, html: string, where: string) {
  for (const script of doc.querySelectorAll("script")) {
    assert.match(script.getAttribute("src") ?? "", /^\/static\/htmx\.min\.js/, `${where}: script`);
  }
  assert.equal(doc.querySelectorAll("img").length, 0, `${where}: an injected element`);
  assert.deepEqual(attributeNames(doc).filter((n) => n.startsWith("on")), [], `${where}: handler`);
  assert.ok(!html.includes("<script>alert"), `${where}: raw script in the HTML`);
  assert.ok(!html.includes("<img src=x"), `${where}: raw img in the HTML`);
}

/** The form control with this name (names here hold quotes, so no attribute selector). */
function byName(doc: Doc, name: string) {
  return [...doc.querySelectorAll("input, textarea, select")].find((el) =>
    el.getAttribute("name") === name
  );
}

/** How a string shows inside pretty-printed JSON. */
function inJson(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

function decode(html: string): string {
  return html.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&quot;", '"')
    .replaceAll("&amp;", "&");
}

function text(doc: Doc, selector: string): string {
  const el = doc.querySelector(selector);
  assert.ok(el, `no element matches ${selector}`);
  return el.textContent ?? "";
}

dbTest("hostile DAG texts come out escaped on every page", async (t, db) => {
  const dag = fakeDag(dagId, {
    description: `desc ${P}`,
    doc: `doc ${P}`,
    tags: [`tag${P}`],
    groups: [group],
    tasks: linked([task(first, { doc: `taskdoc ${P}` }), task(second, { group })], [[
      first,
      second,
    ]]),
    paramsSchema: {
      type: "object",
      properties: {
        [param]: { type: "string", default: `default${P}`, description: `help ${P}` },
        [`choice${BREAKOUT}`]: { type: "string", enum: [`option${P}`, "plain"] },
      },
    },
  });
  const versionId = await storeFakeDag(db, dag, `export const source = "${P}";`);
  const now = new Date();
  const { id: dagRunId } = await db.begin((tx) =>
    createDagRun(
      tx,
      {
        dagId,
        runId,
        runType: "webhook",
        logicalDate: now,
        dataInterval: null,
        runAfter: now,
        conf: { [`key${P}`]: `value${P}` },
        versionId,
        triggeredBy: `sender${P}`,
      },
      dag,
      now,
    )
  );
  const tis = await db.sql<{ id: number; taskId: string }>`
    SELECT id, task_id AS "taskId" FROM task_instance WHERE dag_run_id = ${dagRunId}`;
  const idOf = (taskId: string) => tis.find((x) => x.taskId === taskId)!.id;
  await db.sql`
    UPDATE task_instance SET state = CASE WHEN task_id = ${first} THEN 'success' ELSE 'failed' END,
      try_number = 1, start_date = ${now}, end_date = ${now}, duration_ms = 5
    WHERE dag_run_id = ${dagRunId}`;
  await db.sql`
    INSERT INTO task_try (ti_id, try_number, state, start_date, end_date, worker, error)
    VALUES (${idOf(first)}, 1, 'success', ${now}, ${now}, ${`worker${P}`}, NULL),
      (${idOf(second)}, 1, 'failed', ${now}, ${now}, 'w',
        ${json({ name: `Error${P}`, message: `message${P}`, stack: `stack${P}` })})`;
  await db.sql`
    INSERT INTO xcom (ti_id, value) VALUES (${idOf(first)}, ${json({ html: `result${P}` })})`;
  await insertLogs(db.sql, [
    { tiId: idOf(first), tryNumber: 1, ts: now, level: "info", line: `log line ${P}` },
    { tiId: idOf(first), tryNumber: 1, ts: now, level: `level${BREAKOUT}`, line: `more ${P}` },
  ]);
  await recordImportError(db.sql, {
    filename: `broken${P}.ts`,
    message: `import failed ${P}`,
    stack: `at ${P}`,
    now,
  });
  const app = testApp(db);

  const pages: [string, (doc: Doc) => void][] = [
    ["/", (doc) => {
      assert.equal(doc.querySelector("tr[data-dag-id]")?.getAttribute("data-dag-id"), dagId);
      assert.ok(text(doc, "#import-errors .filename").includes(SCRIPT));
      assert.ok(text(doc, "#import-errors").includes(`import failed ${P}`));
      assert.ok(text(doc, "td .description").includes(P));
      assert.ok(text(doc, "a.tag").includes(P));
    }],
    [urls.dags({ q: "evil<script>", tag: `tag${P}` }), (doc) => {
      assert.equal(doc.querySelectorAll("tr[data-dag-id]").length, 1);
      assert.equal(byName(doc, "q")?.getAttribute("value"), "evil<script>");
    }],
    [`${urls.dag(dagId)}?trigger`, (doc) => {
      assert.ok(text(doc, "#dag-id").includes(P));
      assert.ok(text(doc, ".doc").includes(`doc ${P}`));
      // The schema is stored as jsonb, which orders keys by length: find the field by name.
      const params = [...doc.querySelectorAll("[data-param]")].map((f) =>
        f.getAttribute("data-param")
      );
      assert.ok(params.includes(param));
      assert.equal(byName(doc, `param.${param}`)?.getAttribute("value"), `default${P}`);
      assert.ok(text(doc, "#trigger-form").includes(`help ${P}`));
      const options = [...doc.querySelectorAll("#trigger-form option")].map((o) =>
        o.getAttribute("value")
      );
      assert.ok(options.includes(`option${P}`));
      assert.ok(text(doc, "#grid").includes(`second${SCRIPT}`));
    }],
    [urls.dagTab(dagId, "graph"), (doc) => {
      assert.equal(doc.querySelector("g.node")?.getAttribute("data-task-id"), first);
      assert.ok(text(doc, "svg").includes("first<script>"));
      assert.equal(doc.querySelector("g.group")?.getAttribute("data-group-id"), group);
    }],
    [urls.dagTab(dagId, "runs"), (doc) => assert.ok(text(doc, "#runs").includes(runId))],
    [urls.dagTab(dagId, "code"), (doc) => assert.ok(text(doc, "#source").includes(P))],
    [urls.dagTab(dagId, "versions"), (doc) => assert.ok(doc.querySelector("#versions tbody tr"))],
    [urls.run(dagId, runId), (doc) => {
      assert.ok(text(doc, "#run-id").includes(P));
      assert.ok(text(doc, "#conf").includes(inJson(`value${P}`)));
      assert.ok(text(doc, "#conf").includes(inJson(`key${P}`)));
      assert.ok(text(doc, "#run-tasks").includes(first));
      assert.ok(text(doc, "#gantt").includes("first<script>"));
    }],
    [urls.ti(dagId, runId, first), (doc) => {
      assert.ok(text(doc, "#task-id").includes(P));
      assert.ok(text(doc, "#log-lines").includes(`log line ${P}`));
      assert.ok(text(doc, "#result").includes(inJson(`result${P}`)));
      assert.ok(text(doc, "#ti-summary .doc").includes(`taskdoc ${P}`));
      assert.ok(text(doc, "#tries").includes(`worker${P}`));
    }],
    [urls.ti(dagId, runId, second), (doc) => {
      assert.ok(text(doc, "#tries").includes(`Error${P}: message${P}`));
      assert.ok(text(doc, "#tries").includes(`stack${P}`));
    }],
    [`${urls.tiAction(dagId, runId, first, "log")}?try=1&after=0`, (doc) => {
      assert.ok(text(doc, ".line").includes(`log line ${P}`));
    }],
  ];
  for (const [path, check] of pages) {
    await t.step(path, async () => {
      const { res, doc, html } = await getPage(app, path);
      assert.equal(res.status, 200, html.slice(0, 300));
      assertInert(doc, html, path);
      check(doc);
    });
  }

  await t.step("the grid's rows, built as text, keep ids and labels as text", async () => {
    const { res, doc, html } = await getPage(app, urls.dag(dagId), { "HX-Request": "true" });
    assert.equal(res.status, 200);
    assertInert(doc, html, "grid fragment");
    const rows = [...doc.querySelectorAll("#grid .grow[data-task-id]")];
    assert.deepEqual(
      rows.map((r) => r.getAttribute("data-task-id")).sort(),
      [first, second].sort(),
    );
    for (const row of rows) {
      const label = row.querySelector(".label")!;
      assert.equal(label.getAttribute("title"), row.getAttribute("data-task-id"));
      assert.ok(row.getAttribute("data-task-id")!.endsWith(label.textContent!));
    }
    const group = doc.querySelector("#grid .label.group")!;
    assert.equal(group.getAttribute("title"), group.textContent!.replace("▾ ", ""));
    assert.ok(group.textContent!.includes(BREAKOUT));
  });

  await t.step(
    "a trigger form sent back with its errors echoes what was typed as text",
    async () => {
      const { res, doc, html } = await postForm(app, urls.trigger(dagId), {
        [`param.${param}`]: `typed${P}`,
        conf: `{"broken": "${SCRIPT}"`,
      });
      assert.equal(res.status, 422);
      assertInert(doc, html, "trigger form");
      assert.equal(byName(doc, `param.${param}`)?.getAttribute("value"), `typed${P}`);
      // linkedom leaves entities in a textarea undecoded (a browser decodes them): decode here.
      assert.ok(decode(text(doc, "textarea[name=conf]")).includes(SCRIPT));
      assert.ok(text(doc, "[aria-invalid=true] .error").includes("not valid JSON"));
    },
  );

  await t.step("conf accepted through the form shows on the run page as text", async () => {
    const { res } = await postForm(app, urls.trigger(dagId), {
      [`param.${param}`]: `typed${P}`,
      conf: JSON.stringify({ extra: P }),
    }, { htmx: false });
    assert.equal(res.status, 303);
    const { doc, html } = await getPage(app, res.headers.get("location")!);
    assertInert(doc, html, "new run");
    assert.ok(text(doc, "#conf").includes(inJson(`typed${P}`)));
  });
});

Deno.test("escapeHtml leaves plain text alone and makes markup text in text and attributes", () => {
  assert.equal(escapeHtml("group_0.task_01"), "group_0.task_01");
  assert.equal(
    escapeHtml(`<b title='a' id="b">&</b>`),
    "&lt;b title=&#39;a&#39; id=&quot;b&quot;&gt;&amp;&lt;/b&gt;",
  );
  const hostile = `${P}'<b>`;
  const doc = parse(
    `<p data-a="${escapeHtml(hostile)}" data-b='${escapeHtml(hostile)}'>${escapeHtml(hostile)}</p>`,
  );
  const p = doc.querySelector("p")!;
  assert.equal(doc.querySelectorAll("img, script, b").length, 0);
  assert.equal(p.getAttribute("data-a"), hostile);
  assert.equal(p.getAttribute("data-b"), hostile);
  assert.equal(p.textContent, hostile);
});
