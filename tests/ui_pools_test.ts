/**
 * The dashboard's Pools page: every reader sees each pool's slots and what holds or waits for
 * them; an Op gets the forms, and each action answers with the page carrying its notice or its
 * error (with a status), through the same changes as the API, audited alike.
 */
import assert from "node:assert/strict";
import type { UserRole } from "../auth/roles.ts";
import { authTestApp, createTestUser, login, ORIGIN } from "./auth_helpers.ts";
import { dbTest } from "./helpers.ts";
import { type Doc, fakeDag, parse, storeFakeRun, task } from "./ui_helpers.ts";

const cell = (doc: Doc, pool: string, column: string) =>
  doc.querySelector(`tr[data-pool="${pool}"] .${column}`)?.textContent?.trim();

dbTest("the Pools page shows every reader the slots, and an Op the forms", async (t, db) => {
  const app = authTestApp(db);
  const sessions: Partial<Record<UserRole, string>> = {};
  for (const role of ["Viewer", "Op"] as const) {
    await createTestUser(db, role.toLowerCase(), role);
    sessions[role] = await login(app, role.toLowerCase());
  }
  const get = async (role: UserRole) => {
    const res = await app.request("/pools", { headers: { cookie: sessions[role]! } });
    assert.equal(res.status, 200);
    return parse(await res.text());
  };
  const post = async (path: string, fields: Record<string, string>) => {
    const res = await app.request(path, {
      method: "POST",
      headers: {
        cookie: sessions.Op!,
        origin: ORIGIN,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, doc: parse(await res.text()) };
  };
  const notice = (doc: Doc) => doc.querySelector("#notice")?.textContent?.trim();
  const error = (doc: Doc) => doc.querySelector("#error")?.textContent?.trim();

  await t.step("an Op creates a pool; bad input comes back as the page's error", async () => {
    const made = await post("/pools", { name: "vendor", slots: "2", description: "<b>API</b>" });
    assert.equal(made.status, 200);
    assert.equal(notice(made.doc), "Created pool vendor with 2 slots");
    assert.equal(cell(made.doc, "vendor", "open"), "2");
    const bad: [Record<string, string>, number, RegExp][] = [
      [{ name: "vendor", slots: "5" }, 409, /already exists/],
      [{ name: "two words", slots: "1" }, 422, /name must be 1 to 250 letters/],
      [{ name: "x", slots: "many" }, 422, /whole number/],
      [{ name: "x", slots: "-2" }, 422, /whole number/],
    ];
    for (const [fields, status, message] of bad) {
      const res = await post("/pools", fields);
      assert.equal(res.status, status, JSON.stringify(fields));
      assert.match(error(res.doc) ?? "", message);
    }
    const [{ n }] = await db.sql<{ n: number }>`SELECT count(*)::int AS n FROM pool`;
    assert.equal(n, 2, "only vendor was created");
  });

  await t.step("a Viewer sees the counts and no form; text is escaped", async () => {
    const dag = fakeDag("pooled", {
      tasks: [task("a", { pool: "vendor" }), task("b", { pool: "vendor" })],
    });
    const dagRunId = await storeFakeRun(db, dag, "r1");
    await db.sql`UPDATE task_instance SET state = CASE task_id WHEN 'a' THEN 'running'
      ELSE 'scheduled' END WHERE dag_run_id = ${dagRunId}`;
    const doc = await get("Viewer");
    assert.deepEqual(
      ["slots", "running", "queued", "scheduled", "open"].map((c) => cell(doc, "vendor", c)),
      ["2", "1", "0", "1", "1"],
    );
    assert.equal(cell(doc, "default_pool", "slots"), "128");
    assert.equal(doc.querySelectorAll("form[action^='/pools']").length, 0);
    assert.equal(doc.querySelector("tr[data-pool=vendor] b"), null, "the description is text");
    assert.match(doc.querySelector("tr[data-pool=vendor]")!.textContent!, /<b>API<\/b>/);
  });

  await t.step("an Op resizes and deletes; a pool in use is kept, with the reason", async () => {
    const resized = await post("/pools/vendor", { slots: "unlimited" });
    assert.equal(notice(resized.doc), "vendor has unlimited slots");
    assert.equal(cell(resized.doc, "vendor", "open"), "unlimited");
    assert.equal(
      resized.doc.querySelector("tr[data-pool=default_pool] form[action$='/delete']"),
      null,
      "the default pool offers no delete",
    );
    const inUse = await post("/pools/vendor/delete", {});
    assert.equal(inUse.status, 422);
    assert.match(error(inUse.doc) ?? "", /2 task instance\(s\) scheduled, queued or running/);
    const dflt = await post("/pools/default_pool/delete", {});
    assert.equal(dflt.status, 422);
    assert.equal(error(dflt.doc), "Default Pool can't be deleted");
    await db.sql`UPDATE task_instance SET state = 'success' WHERE pool = 'vendor'`;
    const gone = await post("/pools/vendor/delete", {});
    assert.equal(notice(gone.doc), "Deleted pool vendor");
    assert.equal(gone.doc.querySelector("tr[data-pool=vendor]"), null);
    const missing = await post("/pools/vendor", { slots: "3" });
    assert.equal(missing.status, 404);
  });

  await t.step("each change is in the audit log, by the Op's name", async () => {
    const rows = await db.sql<{ event: string; owner: string }>`
      SELECT event, owner FROM audit_log WHERE event LIKE 'pool_%' ORDER BY id`;
    assert.deepEqual(rows.map((r) => `${r.event} by ${r.owner}`), [
      "pool_create by op",
      "pool_update by op",
      "pool_delete by op",
    ]);
  });
});
