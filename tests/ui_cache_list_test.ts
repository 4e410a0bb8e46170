/**
 * The DAG list's conditional answers: confirmed with a 304 while nothing it shows changes, stale
 * after each kind of change: a pause, a run's state, a new run, a DAG added, gone or changed, the
 * next run, an import error, a scheduler's heartbeat, and a scheduler going silent, which no row
 * records (only the clock moved).
 */
import assert from "node:assert/strict";
import { deactivateMissing, recordImportError } from "../db/dags.ts";
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
import { type Doc, fakeDag, postForm, storeFakeDag, testApp } from "./ui_helpers.ts";

function row(doc: Doc, dagId: string) {
  const tr = doc.querySelector(`tr[data-dag-id="${dagId}"]`);
  assert.ok(tr, `no row for ${dagId}`);
  return tr;
}

function dots(doc: Doc, dagId: string): string[] {
  return [...row(doc, dagId).querySelectorAll(".dot")].map((d) => d.getAttribute("title")!);
}

dbTest("the DAG list is confirmed while unchanged and stale after each change", async (t, db) => {
  for (const id of ["alpha", "beta"]) await storeFakeDag(db, fakeDag(id, { schedule: "@daily" }));
  await addRun(db, fakeDag("alpha"), "a1", new Date(Date.UTC(2025, 0, 1)));
  await db.sql`
    INSERT INTO scheduler_instance (id, hostname, pid, started_at, last_heartbeat, is_leader)
    VALUES ('s1', 'host', 1, now(), now(), true)`;
  const app = testApp(db);
  let list: Copy = await fetchCopy(app, "/");
  let search: Copy = await fetchCopy(app, "/?q=alp", HX);

  await t.step("unchanged, and after writes that show nowhere, it is confirmed", async () => {
    assert.notEqual(list.etag, search.etag);
    await assertUnchanged(app, list, "nothing changed");
    await db.sql`UPDATE dag SET last_parsed_at = now()`;
    await db.sql`UPDATE dag_run SET run_after = run_after`; // a new row version, nothing shown
    await db.sql`INSERT INTO dag_run_change (dag_run_id) SELECT id FROM dag_run`;
    await assertUnchanged(app, list, "bookkeeping");
    await assertUnchanged(app, search, "bookkeeping");
  });

  const both = async (what: string, check: (doc: Doc) => void) => {
    list = await assertChanged(app, list, what, check);
    search = await assertChanged(app, search, what, () => {});
  };

  await t.step("a pause", async () => {
    await postForm(app, urls.pause("alpha"), { paused: "true" });
    await both("a pause", (doc) => {
      const toggle = row(doc, "alpha").querySelector("button[role=switch]");
      assert.equal(toggle?.getAttribute("aria-checked"), "false");
    });
  });

  await t.step("a run's state, and a new run", async () => {
    await db.sql`UPDATE dag_run SET state = 'running' WHERE run_id = 'a1'`;
    await both("a run's state", (doc) => assert.deepEqual(dots(doc, "alpha"), ["a1: running"]));
    await addRun(db, fakeDag("alpha"), "a2", new Date(Date.UTC(2025, 0, 2)));
    await both("a new run", (doc) => assert.equal(dots(doc, "alpha").length, 2));
  });

  await t.step("a DAG added, changed and gone", async () => {
    await storeFakeDag(db, fakeDag("gamma"));
    list = await assertChanged(app, list, "a new DAG", (doc) => row(doc, "gamma"));
    const described = { schedule: "@daily", description: "now described", tags: ["new-tag"] };
    await storeFakeDag(db, fakeDag("beta", described));
    list = await assertChanged(app, list, "a new version", (doc) => {
      assert.match(row(doc, "beta").textContent!, /now described/);
      assert.ok(
        [...doc.querySelectorAll("select[name=tag] option")].some((o) =>
          o.textContent === "new-tag"
        ),
      );
    });
    await storeFakeDag(db, fakeDag("alpha", { description: "alpha, found by search" }));
    await both("a new version", () => {});
    await deactivateMissing(db.sql, ["alpha", "beta"]);
    list = await assertChanged(app, list, "a DAG gone", (doc) => {
      assert.equal(doc.querySelector('tr[data-dag-id="gamma"]'), null);
    });
  });

  await t.step("the next run", async () => {
    await db.sql`UPDATE dag SET next_dagrun_create_after = '2030-05-06T07:08:09Z'
      WHERE dag_id = 'beta'`;
    list = await assertChanged(app, list, "the next run", (doc) => {
      assert.match(row(doc, "beta").textContent!, /2030-05-06 07:08:09/);
    });
  });

  await t.step("an import error, and another message for it", async () => {
    const error = { filename: "broken.ts", message: "SyntaxError: one", stack: null };
    await recordImportError(db.sql, { ...error, now: new Date() });
    list = await assertChanged(app, list, "an import error", (doc) => {
      assert.match(doc.querySelector("#import-errors")!.textContent!, /SyntaxError: one/);
    });
    await recordImportError(db.sql, { ...error, message: "SyntaxError: two", now: new Date() });
    list = await assertChanged(app, list, "a new message", (doc) => {
      assert.match(doc.querySelector("#import-errors")!.textContent!, /SyntaxError: two/);
    });
  });

  await t.step("a scheduler's heartbeat, and its silence", async () => {
    await db.sql`UPDATE scheduler_instance SET last_heartbeat = now() - interval '25 seconds'`;
    list = await assertChanged(app, list, "a heartbeat", (doc) => {
      assert.match(doc.querySelector("#schedulers")!.textContent!, /leader/);
    });
    // Alive means a heartbeat in the last 30 s: once that passes, the page changes, no row does.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    list = await assertChanged(app, list, "silence", (doc) => {
      assert.match(doc.querySelector("#schedulers")!.textContent!, /gone/);
    });
  });
});
