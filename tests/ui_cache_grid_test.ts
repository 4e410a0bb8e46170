/**
 * The grid's conditional answers: while nothing it shows changes, a browser's copy of the page
 * or of the polled fragment is confirmed with a 304; after each kind of change (a worker's, the
 * scheduler's, a clear, a mark, a note, a pause, a new run, a new version, a DAG gone from its
 * file, a finished run's second ending) the copy is stale and the new page shows the change,
 * including in runs whose cells were kept from an earlier render.
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { setRunNote } from "../db/api_runs.ts";
import { setTiNotes } from "../db/api_task_instances.ts";
import type { Db } from "../db/client.ts";
import { deactivateMissing } from "../db/dags.ts";
import { urls } from "../views/format.ts";
import { dbTest } from "./helpers.ts";
import {
  addRun,
  assertChanged,
  assertUnchanged,
  type Copy,
  fetchCopy,
  HX,
} from "./ui_cache_helpers.ts";
import { type Doc, fakeDag, linked, postForm, storeFakeDag, task, testApp } from "./ui_helpers.ts";

const WATCHED = fakeDag("watched", {
  schedule: "@daily",
  tasks: linked([task("a"), task("b"), task("c"), task("m")], [["a", "b"], ["b", "c"]]),
});

async function setState(db: Db, runId: string, taskId: string, state: string | null) {
  await db.sql`UPDATE task_instance SET state = ${state} WHERE run_id = ${runId}
    AND task_id = ${taskId}`;
}

/** The state class of a task's cell in a run's column (runs are shown oldest first). */
function cell(doc: Doc, taskId: string, column: number): string {
  const row = doc.querySelector(`#grid .grow[data-task-id="${taskId}"]`);
  assert.ok(row, `no row for ${taskId}`);
  const c = row.querySelectorAll(".c")[column];
  return [...(c?.classList ?? [])].find((k) => k.startsWith("s-")) ?? "empty";
}

function runState(doc: Doc, runId: string): string | null | undefined {
  return doc.querySelector(`#grid .runcol[data-run-id="${runId}"] .runbar`)?.getAttribute(
    "data-state",
  );
}

dbTest("the grid is confirmed while unchanged and stale after each change", async (t, db) => {
  await storeFakeDag(db, WATCHED);
  const r1 = await addRun(db, WATCHED, "r1", new Date(Date.UTC(2025, 0, 1)));
  for (const id of ["a", "b", "c", "m"]) await setState(db, "r1", id, "success");
  await db.sql`UPDATE dag_run SET state = 'success' WHERE id = ${r1}`;
  await addRun(db, WATCHED, "r2", new Date(Date.UTC(2025, 0, 2)));
  await setState(db, "r2", "a", "success");
  await setState(db, "r2", "b", "running");
  await db.sql`UPDATE dag_run SET state = 'running' WHERE run_id = 'r2'`;
  const app = testApp(db);
  const path = urls.dag("watched");
  const first = await fetchCopy(app, path, HX);
  let page: Copy = await fetchCopy(app, path);
  let grid: Copy = first;

  await t.step("an unchanged grid is confirmed with a 304, page and fragment apart", async () => {
    assert.notEqual(page.etag, grid.etag, "the page and the fragment are two answers");
    await assertUnchanged(app, page, "nothing changed");
    await assertUnchanged(app, grid, "nothing changed");
    const res = await app.request(path, { headers: { ...HX, "If-None-Match": grid.etag } });
    assert.equal(res.headers.get("cache-control"), "private, no-cache");
    assert.match(res.headers.get("vary")!, /HX-Request/);
    const bare = grid.etag.slice(2);
    for (const header of [`"other", ${grid.etag}`, bare, "*"]) {
      const again = await app.request(path, { headers: { ...HX, "If-None-Match": header } });
      assert.equal(again.status, 304, header);
    }
    const pageTag = await app.request(path, { headers: { ...HX, "If-None-Match": page.etag } });
    assert.equal(pageTag.status, 200, "the page's ETag does not confirm the fragment");
    assert.ok((await pageTag.text()).startsWith('<section id="grid"'));
    const restore = { ...HX, "HX-History-Restore-Request": "true" };
    await assertUnchanged(app, { path, headers: restore, etag: page.etag }, "a history restore");
    const open = await fetchCopy(app, `${path}?trigger`);
    assert.notEqual(open.etag, page.etag, "another address, another answer");
  });

  await t.step("gzip is the same answer, compressed, under the same ETag", async () => {
    const res = await app.request(path, { headers: { ...HX, "Accept-Encoding": "gzip, br" } });
    assert.equal(res.headers.get("content-encoding"), "gzip");
    assert.equal(res.headers.get("etag"), grid.etag);
    const html = new TextDecoder().decode(gunzipSync(new Uint8Array(await res.arrayBuffer())));
    assert.equal(html, first.html);
  });

  await t.step("writes that show nowhere leave both confirmed", async () => {
    await db.sql`UPDATE dag SET last_parsed_at = now() WHERE dag_id = 'watched'`;
    await db.sql`UPDATE dag_run SET run_after = run_after`; // a new row version, nothing shown
    await db.sql`INSERT INTO dag_run_change (dag_run_id) SELECT id FROM dag_run`;
    await db.sql`UPDATE task_instance SET lease_expires_at = now() + interval '1 minute',
      lease_owner = 'w' WHERE run_id = 'r2' AND task_id = 'b'`;
    await assertUnchanged(app, page, "bookkeeping");
    await assertUnchanged(app, grid, "bookkeeping");
  });

  const both = async (what: string, check: (doc: Doc) => void) => {
    grid = await assertChanged(app, grid, what, check);
    page = await assertChanged(app, page, what, check);
  };

  await t.step("a worker finishes a task", async () => {
    await setState(db, "r2", "b", "success");
    await both("a task finished", (doc) => assert.equal(cell(doc, "b", 1), "s-success"));
  });

  await t.step("a task of a finished run changes (its cells were kept)", async () => {
    await setState(db, "r1", "c", "failed");
    await both("an old run's task", (doc) => assert.equal(cell(doc, "c", 0), "s-failed"));
  });

  await t.step("the run finishes", async () => {
    await db.sql`UPDATE dag_run SET state = 'success' WHERE run_id = 'r2'`;
    await both("the run's state", (doc) => assert.equal(runState(doc, "r2"), "success"));
  });

  await t.step("a clear from the run page", async () => {
    const cleared = await postForm(app, `${urls.run("watched", "r1")}/clear`);
    assert.equal(cleared.res.status, 200);
    await both("a clear", (doc) => {
      assert.equal(runState(doc, "r1"), "queued");
      assert.equal(cell(doc, "a", 0), "s-none");
    });
  });

  await t.step("a run marked", async () => {
    await postForm(app, `${urls.run("watched", "r1")}/mark`, { state: "success" });
    await both("a mark", (doc) => assert.equal(cell(doc, "a", 0), "s-success"));
  });

  await t.step("a finished run that ran again and ended with the same dates", async () => {
    // Nothing renders between: a kept copy of its cells must not be taken for the new ones.
    await db.sql`UPDATE dag_run SET state = 'running' WHERE id = ${r1}`;
    await setState(db, "r1", "a", "failed");
    await db.sql`UPDATE dag_run SET state = 'success' WHERE id = ${r1}`;
    await both("a second ending", (doc) => assert.equal(cell(doc, "a", 0), "s-failed"));
  });

  await t.step("a task marked", async () => {
    await postForm(app, urls.tiAction("watched", "r2", "c", "mark"), { state: "failed" });
    await both("a task mark", (doc) => assert.equal(cell(doc, "c", 1), "s-failed"));
  });

  await t.step("notes on a task instance and on a run", async () => {
    const [ti] = await db.sql<{ id: number }>`
      SELECT id FROM task_instance WHERE run_id = 'r2' AND task_id = 'a'`;
    await setTiNotes(db.sql, [ti.id], "looked at it");
    await both("a task instance's note", () => {});
    await setRunNote(db.sql, r1, "a run's note");
    await both("a run's note", () => {});
  });

  await t.step("a pause shows on the page; the fragment shows none", async () => {
    await postForm(app, urls.pause("watched"), { paused: "true" });
    page = await assertChanged(app, page, "a pause", (doc) => {
      assert.equal(
        doc.querySelector(".pause-toggle button")?.getAttribute("aria-checked"),
        "false",
      );
    });
  });

  await t.step("a new run, and a mapped task expanding in it", async () => {
    const r3 = await addRun(db, WATCHED, "r3", new Date(Date.UTC(2025, 0, 3)));
    await both("a new run", (doc) => assert.equal(runState(doc, "r3"), "queued"));
    await db.sql`UPDATE task_instance SET map_index = 0, state = 'running'
      WHERE dag_run_id = ${r3} AND task_id = 'm'`;
    await db.sql`
      INSERT INTO task_instance (dag_run_id, dag_id, run_id, task_id, map_index, state)
      VALUES (${r3}, 'watched', 'r3', 'm', 1, 'success')`;
    await both("a mapped task", (doc) => {
      const m = doc.querySelectorAll('#grid .grow[data-task-id="m"] .c')[2];
      assert.equal(m.getAttribute("title"), "running (2 mapped)");
    });
  });

  await t.step("the scheduler plans the next run", async () => {
    await db.sql`UPDATE dag SET next_dagrun_create_after = '2030-05-06T07:08:09Z'`;
    page = await assertChanged(app, page, "the next run", (doc) => {
      assert.match(doc.querySelector(".facts")!.textContent!, /2030-05-06 07:08:09/);
    });
  });

  await t.step("a new version of the DAG", async () => {
    await storeFakeDag(db, { ...WATCHED, tasks: [...WATCHED.tasks, task("d")] });
    await both("a new version", (doc) => assert.ok(doc.querySelector('.grow[data-task-id="d"]')));
  });

  await t.step("the DAG leaves its file", async () => {
    await deactivateMissing(db.sql, []);
    page = await assertChanged(app, page, "deactivated", (doc) => {
      assert.match(doc.querySelector(".notice.error")!.textContent!, /no longer defined/);
    });
  });

  await t.step("a DAG that does not exist has no ETag", async () => {
    const res = await app.request(urls.dag("nope"), { headers: HX });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("etag"), null);
    await res.body?.cancel();
  });
});
