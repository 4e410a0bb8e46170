/**
 * The dashboard's actions (pause, clear, mark, through POSTs that answer with the updated
 * fragment), their protection against cross-site requests, a live log's tail, and the reasons
 * a waiting task gives.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { insertLogs } from "../db/logs.ts";
import { createDagRun } from "../db/runs.ts";
import { urls } from "../views/format.ts";
import { dbTest } from "./helpers.ts";
import { fakeDag, getPage, linked, postForm, storeFakeDag, task, testApp } from "./ui_helpers.ts";

const CHAIN = fakeDag("chain", {
  tasks: linked([task("a"), task("b"), task("c")], [["a", "b"], ["b", "c"]]),
});

/** The chain DAG with one run, `r1`, whose tasks are in the given states. */
async function chainRun(db: Db, states: Record<string, string | null> = {}, runState = "running") {
  const versionId = await storeFakeDag(db, CHAIN);
  const now = new Date();
  const { id } = await db.begin((tx) =>
    createDagRun(
      tx,
      {
        dagId: "chain",
        runId: "r1",
        runType: "manual",
        logicalDate: now,
        dataInterval: null,
        runAfter: now,
        conf: {},
        versionId,
        triggeredBy: null,
      },
      CHAIN,
      now,
    )
  );
  await setStates(db, id, states, runState);
  return id;
}

async function setStates(
  db: Db,
  dagRunId: number,
  states: Record<string, string | null>,
  runState: string,
) {
  for (const [taskId, state] of Object.entries(states)) {
    await db.sql`
      UPDATE task_instance SET state = ${state}, try_number = ${state ? 1 : 0},
        start_date = ${state ? new Date() : null}
      WHERE dag_run_id = ${dagRunId} AND task_id = ${taskId}`;
  }
  await db.sql`UPDATE dag_run SET state = ${runState}, start_date = now() WHERE id = ${dagRunId}`;
}

async function states(db: Db, dagRunId: number): Promise<Record<string, string | null>> {
  const rows = await db.sql<{ taskId: string; state: string | null }>`
    SELECT task_id AS "taskId", state FROM task_instance WHERE dag_run_id = ${dagRunId}
    ORDER BY task_id`;
  const [run] = await db.sql<{ state: string }>`SELECT state FROM dag_run WHERE id = ${dagRunId}`;
  return { run: run.state, ...Object.fromEntries(rows.map((r) => [r.taskId, r.state])) };
}

const ALL_SUCCESS = { a: "success", b: "success", c: "success" };

dbTest("pause, clear and mark answer with the fragment the page shows", async (t, db) => {
  const id = await chainRun(db, ALL_SUCCESS, "success");
  const app = testApp(db);

  await t.step("pause and unpause swap the switch in place", async () => {
    const paused = await postForm(app, urls.pause("chain"), { paused: "true" });
    assert.equal(paused.res.status, 200);
    assert.equal(
      paused.doc.querySelector("form.pause-toggle button")?.getAttribute("aria-checked"),
      "false",
    );
    assert.equal(paused.doc.querySelector('input[name="paused"]')?.getAttribute("value"), "false");
    const [row] = await db.sql<{ isPaused: boolean }>`SELECT is_paused AS "isPaused" FROM dag`;
    assert.equal(row.isPaused, true);
    const list = await getPage(app, "/");
    assert.equal(
      list.doc.querySelector("button[role=switch]")?.getAttribute("aria-checked"),
      "false",
    );
    const resumed = await postForm(app, urls.pause("chain"), { paused: "false" });
    assert.equal(resumed.doc.querySelector("button")?.getAttribute("aria-checked"), "true");
  });

  await t.step("a plain form post goes back only to a path of this site", async () => {
    const back = await postForm(app, urls.pause("chain"), { paused: "false", back: "/?q=c" }, {
      htmx: false,
    });
    assert.equal(back.res.status, 303);
    assert.equal(back.res.headers.get("location"), "/?q=c");
    const away = await postForm(app, urls.pause("chain"), {
      paused: "false",
      back: "//evil.example/",
    }, {
      htmx: false,
    });
    assert.equal(away.res.headers.get("location"), urls.dag("chain"));
  });

  await t.step("clearing a task with its downstream re-queues the run", async () => {
    const { res, doc } = await postForm(app, urls.tiAction("chain", "r1", "a", "clear"), {
      downstream: "true",
    });
    assert.equal(res.status, 200);
    assert.equal(doc.querySelector("section#ti-summary")?.getAttribute("data-state"), "none");
    assert.match(doc.querySelector(".notice")!.textContent!, /Cleared 3 task instance/);
    assert.match(
      doc.querySelector("#ti-summary")!.getAttribute("hx-trigger")!,
      /every 2s/,
      "it polls",
    );
    assert.deepEqual(await states(db, id), { run: "queued", a: null, b: null, c: null });
  });

  await t.step("clearing a task alone leaves its downstream", async () => {
    await setStates(db, id, ALL_SUCCESS, "success");
    await postForm(app, urls.tiAction("chain", "r1", "b", "clear"), {});
    assert.deepEqual(await states(db, id), { run: "queued", a: "success", b: null, c: "success" });
  });

  await t.step("clearing a run clears every task and answers with the run's details", async () => {
    await setStates(db, id, ALL_SUCCESS, "success");
    const { doc } = await postForm(app, `${urls.run("chain", "r1")}/clear`);
    assert.equal(doc.querySelector("section#run-details")?.getAttribute("data-state"), "queued");
    assert.match(doc.querySelector(".notice")!.textContent!, /Cleared 3/);
    assert.deepEqual(await states(db, id), { run: "queued", a: null, b: null, c: null });
  });

  await t.step(
    "marking a task failed, then success, which resumes its failed downstream",
    async () => {
      await setStates(db, id, { a: "success", b: "running", c: null }, "running");
      const failed = await postForm(app, urls.tiAction("chain", "r1", "b", "mark"), {
        state: "failed",
      });
      assert.equal(failed.doc.querySelector("#ti-summary")?.getAttribute("data-state"), "failed");
      await setStates(db, id, { c: "upstream_failed" }, "failed");
      const ok = await postForm(app, urls.tiAction("chain", "r1", "b", "mark"), {
        state: "success",
      });
      assert.equal(ok.doc.querySelector("#ti-summary")?.getAttribute("data-state"), "success");
      const after = await states(db, id);
      assert.equal(after.b, "success");
      assert.equal(after.c, null, "the upstream_failed downstream task is cleared to run");
    },
  );

  await t.step("marking a run failed fails what runs and skips what waits", async () => {
    await setStates(db, id, { a: "success", b: "running", c: null }, "running");
    const { doc } = await postForm(app, `${urls.run("chain", "r1")}/mark`, { state: "failed" });
    assert.equal(doc.querySelector("#run-details")?.getAttribute("data-state"), "failed");
    assert.deepEqual(await states(db, id), {
      run: "failed",
      a: "success",
      b: "failed",
      c: "skipped",
    });
    await postForm(app, `${urls.run("chain", "r1")}/mark`, { state: "success" });
    assert.deepEqual(await states(db, id), { run: "success", ...ALL_SUCCESS });
  });

  await t.step("a malformed action is refused", async () => {
    const bad = await postForm(app, `${urls.run("chain", "r1")}/mark`, { state: "running" });
    assert.equal(bad.res.status, 400);
    const missing = await postForm(app, `${urls.run("chain", "nope")}/clear`);
    assert.equal(missing.res.status, 404);
  });
});

dbTest("a POST from another site is refused and changes nothing", async (t, db) => {
  await chainRun(db, ALL_SUCCESS, "success");
  const app = testApp(db);
  const attempts: [string, Record<string, string>][] = [
    ["another origin", { Origin: "https://evil.example" }],
    ["a cross-site fetch without Origin", { Origin: "", "Sec-Fetch-Site": "cross-site" }],
    ["no origin at all", { Origin: "" }],
  ];
  for (const [name, headers] of attempts) {
    await t.step(name, async () => {
      for (
        const [path, fields] of [
          [urls.pause("chain"), { paused: "true" }],
          [urls.trigger("chain"), {}],
          [urls.tiAction("chain", "r1", "a", "clear"), { downstream: "true" }],
          [`${urls.run("chain", "r1")}/mark`, { state: "failed" }],
        ] as const
      ) {
        const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v));
        const res = await app.request(path, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "HX-Request": "true",
            ...clean,
          },
          body: new URLSearchParams(fields).toString(),
        });
        assert.equal(res.status, 403, `${name}: ${path}`);
        await res.body?.cancel();
      }
      const [dag] = await db.sql<{ isPaused: boolean }>`SELECT is_paused AS "isPaused" FROM dag`;
      assert.equal(dag.isPaused, false);
      assert.equal((await db.sql`SELECT id FROM dag_run`).length, 1, "no run was triggered");
      const [run] = await db.sql<{ state: string }>`SELECT state FROM dag_run`;
      assert.equal(run.state, "success");
    });
  }
  await t.step("a same-origin fetch without Origin is let through", async () => {
    const res = await app.request(urls.pause("chain"), {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "Sec-Fetch-Site": "same-origin",
      },
      body: "paused=false",
    });
    assert.equal(res.status, 303);
  });
});

dbTest("a running try's log is followed until the try ends", async (t, db) => {
  const id = await chainRun(db, { a: "running" });
  const [{ tiId }] = await db.sql<{ tiId: number }>`
    SELECT id AS "tiId" FROM task_instance WHERE dag_run_id = ${id} AND task_id = 'a'`;
  const line = (text: string) => ({
    tiId,
    tryNumber: 1,
    ts: new Date(),
    level: "info",
    line: text,
  });
  await insertLogs(db.sql, [line("first")]);
  const app = testApp(db);
  let tail = "";

  await t.step("the page shows the lines so far and a tail that polls for more", async () => {
    const { doc } = await getPage(app, urls.ti("chain", "r1", "a"));
    assert.deepEqual(
      [...doc.querySelectorAll("#log-lines .line")].map((l) => l.lastChild?.textContent),
      ["first"],
    );
    tail = doc.querySelector("#log-tail")!.getAttribute("hx-get")!;
    assert.match(tail, /\/tasks\/a\/log\?try=1&after=\d+$/);
    assert.equal(doc.querySelector("#log-tail")?.getAttribute("hx-trigger"), "every 1s");
  });

  await t.step("the tail returns only new lines, and a tail after them", async () => {
    const empty = await getPage(app, tail, { "HX-Request": "true" });
    assert.equal(empty.doc.querySelectorAll(".line").length, 0);
    assert.equal(empty.doc.querySelector("#log-tail")?.getAttribute("hx-get"), tail);
    await insertLogs(db.sql, [line("second"), line("third")]);
    const more = await getPage(app, tail, { "HX-Request": "true" });
    assert.deepEqual([...more.doc.querySelectorAll(".line")].map((l) => l.lastChild?.textContent), [
      "second",
      "third",
    ]);
    const next = more.doc.querySelector("#log-tail")!.getAttribute("hx-get")!;
    assert.notEqual(next, tail);
    tail = next;
  });

  await t.step("once the try has ended, the last lines come with no tail", async () => {
    await insertLogs(db.sql, [line("last words")]);
    await db.sql`UPDATE task_instance SET state = 'success' WHERE id = ${tiId}`;
    const end = await getPage(app, tail, { "HX-Request": "true" });
    assert.deepEqual([...end.doc.querySelectorAll(".line")].map((l) => l.lastChild?.textContent), [
      "last words",
    ]);
    assert.equal(end.doc.querySelector("#log-tail"), null);
    assert.ok(end.doc.querySelector(".ended"));
  });
});

dbTest("a waiting task says why it is not running", async (t, db) => {
  const id = await chainRun(db, {}, "queued");
  const app = testApp(db);
  const reasons = async (taskId: string) => {
    const { doc } = await getPage(app, urls.ti("chain", "r1", taskId));
    return [...doc.querySelectorAll("#waiting li")].map((li) => li.textContent).join(" | ");
  };
  await t.step("a queued run in a paused DAG", async () => {
    await db.sql`UPDATE dag SET is_paused = true`;
    assert.match(await reasons("a"), /The DAG is paused.*\| The run is queued/);
    await db.sql`UPDATE dag SET is_paused = false`;
  });
  await t.step("upstream tasks not done yet", async () => {
    await setStates(db, id, { a: "running" }, "running");
    assert.match(
      await reasons("b"),
      /Waiting for upstream tasks \(trigger rule all_success\): a \(running\)/,
    );
  });
  await t.step("a full pool", async () => {
    await setStates(db, id, { a: "success", b: "scheduled" }, "running");
    await db.sql`UPDATE pool SET slots = 0 WHERE name = 'default_pool'`;
    assert.match(await reasons("b"), /Pool "default_pool" is full: 0 of 0 slots in use/);
    const { doc } = await getPage(app, urls.ti("chain", "r1", "b"));
    assert.equal(doc.querySelector("#waiting a#pools-link")?.getAttribute("href"), "/pools");
  });
  await t.step("the DAG's maxActiveTasks", async () => {
    await db.sql`UPDATE pool SET slots = 128 WHERE name = 'default_pool'`;
    await db
      .sql`UPDATE dag_version SET serialized = jsonb_set(serialized, '{maxActiveTasks}', '0')`;
    db.sql.cache.clear(); // versions are cached as immutable: this test rewrote one
    assert.match(await reasons("b"), /maxActiveTasks is 0/);
    const { doc } = await getPage(app, urls.ti("chain", "r1", "b"));
    assert.equal(doc.querySelector("#pools-link"), null, "no pool in the reasons, no link");
  });
});
