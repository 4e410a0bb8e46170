/**
 * What each role is shown: a Viewer gets every page without a control that changes anything
 * (no pause switch, trigger form, clear or mark buttons) and no admin links; a User gets the
 * controls; only an Admin gets the admin links. The server refuses the actions anyway (see the
 * access matrix): this is about not offering them.
 */
import assert from "node:assert/strict";
import type { UserRole } from "../auth/roles.ts";
import { urls } from "../views/format.ts";
import { authTestApp, createTestUser, login } from "./auth_helpers.ts";
import { dbTest } from "./helpers.ts";
import { type Doc, fakeDag, linked, parse, storeFakeRun, task } from "./ui_helpers.ts";

const DAG = fakeDag("v_dag", { tasks: linked([task("a"), task("b")], [["a", "b"]]) });

/** The forms on a page that post somewhere other than the logout. */
const actions = (doc: Doc) =>
  [...doc.querySelectorAll("form[method=post]")]
    .map((f) => f.getAttribute("action")!)
    .filter((a) => a !== "/logout");

dbTest("each role sees the controls its role allows, and no others", async (t, db) => {
  await storeFakeRun(db, DAG, "r1");
  const app = authTestApp(db);
  const sessions: Partial<Record<UserRole, string>> = {};
  for (const role of ["Viewer", "User", "Admin"] as const) {
    await createTestUser(db, role.toLowerCase(), role);
    sessions[role] = await login(app, role.toLowerCase());
  }
  const page = async (role: UserRole, path: string) => {
    const res = await app.request(path, { headers: { cookie: sessions[role]! } });
    assert.equal(res.status, 200, `${role} ${path}`);
    return parse(await res.text());
  };
  const pages = [
    "/",
    urls.dag("v_dag"),
    urls.run("v_dag", "r1"),
    urls.ti("v_dag", "r1", "a"),
  ];

  await t.step("a Viewer: the pages, without one control that changes anything", async () => {
    for (const path of pages) {
      const doc = await page("Viewer", path);
      assert.deepEqual(actions(doc), [], path);
      assert.equal(doc.querySelectorAll("[hx-post]").length, 0, path);
      assert.equal(doc.querySelector("#viewer")!.textContent, "viewer (Viewer)");
      assert.equal(doc.querySelector('a[href^="/admin/"]'), null, path);
    }
    const list = await page("Viewer", "/");
    assert.equal(list.querySelector('tr[data-dag-id="v_dag"] .pause-state')!.textContent, "Active");
  });

  await t.step("a User: the pause switch, the trigger form, clear and mark", async () => {
    assert.deepEqual(actions(await page("User", "/")), [urls.pause("v_dag")]);
    assert.deepEqual(actions(await page("User", urls.dag("v_dag"))), [
      urls.pause("v_dag"),
      urls.trigger("v_dag"),
    ]);
    const run = `${urls.run("v_dag", "r1")}`;
    assert.deepEqual(actions(await page("User", run)), [
      urls.pause("v_dag"),
      `${run}/clear`,
      `${run}/mark`,
      `${run}/mark`,
    ]);
    const ti = urls.tiAction("v_dag", "r1", "a", "");
    assert.deepEqual(actions(await page("User", urls.ti("v_dag", "r1", "a"))), [
      urls.pause("v_dag"),
      `${ti}clear`,
      `${ti}mark`,
      `${ti}mark`,
    ]);
    assert.equal((await page("User", "/")).querySelector('a[href^="/admin/"]'), null);
  });

  await t.step("an Admin: also the links to users, API tokens and the audit log", async () => {
    const doc = await page("Admin", "/");
    assert.deepEqual(
      [...doc.querySelectorAll('header a[href^="/admin/"]')].map((a) => a.getAttribute("href")),
      ["/admin/users", "/admin/tokens", "/admin/audit"],
    );
  });
});
