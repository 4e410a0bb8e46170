/**
 * The admin pages as an Admin uses them: users (create with a password shown once, change a
 * role, reset a password, deactivate, and the last Admin kept), API tokens (shown once,
 * revoked), and every name an attacker can choose (a username, a token's name, a name typed
 * into the login form) rendered as text on every page it reaches.
 */
import assert from "node:assert/strict";
import { hashPassword } from "../auth/password.ts";
import type { Db } from "../db/client.ts";
import {
  authTestApp,
  createTestUser,
  login,
  ORIGIN,
  TEST_ITERATIONS,
  TEST_PASSWORD,
} from "./auth_helpers.ts";
import { dbTest } from "./helpers.ts";
import { attributeNames, type Doc, parse } from "./ui_helpers.ts";

const HOSTILE = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`;

async function setup(db: Db) {
  const app = authTestApp(db);
  await createTestUser(db, "root", "Admin");
  const cookie = await login(app, "root");
  const get = async (path: string, as = cookie) => {
    const res = await app.request(path, { headers: { cookie: as } });
    const html = await res.text();
    return { res, html, doc: parse(html) };
  };
  const post = async (path: string, fields: Record<string, string> = {}, as = cookie) => {
    const res = await app.request(path, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: ORIGIN,
        cookie: as,
      },
      body: new URLSearchParams(fields).toString(),
    });
    const html = await res.text();
    return { res, html, doc: parse(html) };
  };
  return { app, cookie, get, post };
}

const notice = (doc: Doc) => doc.querySelector("#notice")?.textContent ?? "";
const secret = (doc: Doc) => doc.querySelector("#secret")?.textContent ?? "";

/** Nothing of `HOSTILE` became markup: no script but htmx's, no handler attribute, no image. */
function assertInert(doc: Doc, html: string, where: string) {
  const scripts = [...doc.querySelectorAll("script")].map((s) => s.getAttribute("src"));
  assert.deepEqual(scripts, [scripts[0]], `${where}: one script`);
  assert.match(scripts[0] ?? "", /^\/static\/htmx\.min\.js/);
  assert.equal(doc.querySelectorAll("img").length, 0, `${where}: no injected image`);
  assert.ok(!attributeNames(doc).some((a) => a.startsWith("on")), `${where}: no handler`);
  assert.ok(!html.includes("<img src=x"), `${where}: the raw markup is not in the page`);
}

dbTest("an Admin manages users from the users page", async (t, db) => {
  const { app, get, post } = await setup(db);
  let password = "";

  await t.step("a new user without a password gets one, shown once", async () => {
    const { res, doc } = await post("/admin/users", {
      username: "newbie",
      role: "User",
      password: "",
    });
    assert.equal(res.status, 200);
    assert.match(notice(doc), /Created user newbie \(User\)/);
    password = secret(doc);
    assert.match(password, /^[A-Za-z0-9_-]{24}$/);
    assert.ok(await login(app, "newbie", password));
    const again = await get("/admin/users");
    assert.ok(!again.html.includes(password), "the password is shown only once");
    const row = again.doc.querySelector('tr[data-username="newbie"]')!;
    assert.equal(row.querySelector("select option[selected]")?.getAttribute("value"), "User");
  });

  await t.step("a chosen password is taken, and not shown", async () => {
    const { doc } = await post("/admin/users", {
      username: "chosen",
      role: "Viewer",
      password: "chosen password 123",
    });
    assert.equal(secret(doc), "");
    assert.ok(await login(app, "chosen", "chosen password 123"));
  });

  await t.step("bad input comes back with its error and creates nobody", async () => {
    for (
      const [fields, error] of [
        [{ username: "bad name!", role: "User" }, /A username is 1 to 64/],
        [{ username: "ok", role: "Root" }, /A role is one of/],
        [{ username: "ok", role: "User", password: "short" }, /at least 12 characters/],
        [{ username: "NEWBIE", role: "User" }, /User "NEWBIE" already exists/],
      ] as const
    ) {
      const { res, doc } = await post("/admin/users", fields);
      assert.ok(res.status === 422 || res.status === 409, String(res.status));
      assert.match(doc.querySelector("#error")!.textContent!, error);
    }
    const [{ n }] = await db.sql<{ n: number }>`SELECT count(*)::int AS n FROM app_user`;
    assert.equal(n, 3);
  });

  await t.step("a role change, a reset and a deactivation take effect at once", async () => {
    const session = await login(app, "newbie", password);
    const role = await post("/admin/users/newbie/role", { role: "Op" });
    assert.match(notice(role.doc), /newbie is now Op/);
    const reset = await post("/admin/users/newbie/password");
    const fresh = secret(reset.doc);
    assert.ok(fresh && fresh !== password);
    assert.equal((await get("/", session)).res.status, 302, "the old session ended");
    const off = await post("/admin/users/newbie/active", { active: "false" });
    assert.match(notice(off.doc), /newbie is deactivated/);
    await assert.rejects(() => login(app, "newbie", fresh), /401/);
    const on = await post("/admin/users/newbie/active", { active: "true" });
    assert.match(notice(on.doc), /newbie is active/);
    assert.ok(await login(app, "newbie", fresh));
  });

  await t.step("the last active Admin cannot be demoted or deactivated", async () => {
    for (
      const [path, fields] of [["role", { role: "Viewer" }], ["active", {
        active: "false",
      }]] as const
    ) {
      const { res, doc } = await post(`/admin/users/root/${path}`, fields);
      assert.equal(res.status, 409);
      assert.match(doc.querySelector("#error")!.textContent!, /last active Admin/);
    }
    assert.equal((await get("/admin/users")).res.status, 200, "root is still an Admin");
  });
});

dbTest("an Admin creates API tokens, shown once, and revokes them", async (t, db) => {
  const { app, get, post } = await setup(db);
  let token = "";
  let id = "";

  await t.step("a new token is shown once and works with its role", async () => {
    const { res, doc } = await post("/admin/tokens", {
      name: "ci",
      role: "Viewer",
      expires_in_days: "",
    });
    assert.equal(res.status, 200);
    token = secret(doc);
    assert.match(token, /^gust_/);
    const api = await app.request("/api/v2/dags", {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(api.status, 200);
    await api.body?.cancel();
    const list = await get("/admin/tokens");
    assert.ok(!list.html.includes(token));
    const row = list.doc.querySelector("#tokens tbody tr")!;
    id = row.getAttribute("data-token-id")!;
    assert.equal(row.querySelector(".token-name")!.textContent, "ci");
    assert.match(row.textContent!, /live/);
  });

  await t.step("revoking it ends it at once", async () => {
    const { doc } = await post(`/admin/tokens/${id}/revoke`);
    assert.match(notice(doc), /Revoked token ci/);
    assert.match(doc.querySelector(`tr[data-token-id="${id}"]`)!.textContent!, /revoked/);
    const api = await app.request("/api/v2/dags", {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(api.status, 401);
    await api.body?.cancel();
    const twice = await post(`/admin/tokens/${id}/revoke`);
    assert.equal(twice.res.status, 404);
  });

  await t.step("a bad name or expiry is refused with its error", async () => {
    for (
      const fields of [
        { name: "", role: "Viewer" },
        { name: "x".repeat(101), role: "Viewer" },
        { name: "ok", role: "Viewer", expires_in_days: "0" },
        { name: "ok", role: "God" },
      ] as Record<string, string>[]
    ) {
      const { res, doc } = await post("/admin/tokens", fields);
      assert.equal(res.status, 422, JSON.stringify(fields));
      assert.ok(doc.querySelector("#error"));
    }
  });
});

dbTest("names an attacker chooses are text on every admin page", async (t, db) => {
  const { app, get, post } = await setup(db);

  await t.step(
    "a hostile username (stored behind validation's back) on the users page",
    async () => {
      await db.sql`INSERT INTO app_user (username, role, password_hash, password_changed_at,
      created_at, updated_at)
      VALUES (${HOSTILE}, 'Admin', ${await hashPassword(TEST_PASSWORD, TEST_ITERATIONS)}, now(),
        now(), now())`;
      const { doc, html } = await get("/admin/users");
      assertInert(doc, html, "users page");
      assert.ok(
        [...doc.querySelectorAll(".username")].some((td) => td.textContent === HOSTILE),
        "shown as the text it is",
      );
    },
  );

  await t.step(
    "signed in as that user, the header and created tokens show the name as text",
    async () => {
      const cookie = await login(app, HOSTILE);
      const home = await get("/", cookie);
      assertInert(home.doc, home.html, "DAG list");
      assert.match(home.doc.querySelector("#viewer")!.textContent!, /alert\(1\)/);
      const made = await post("/admin/tokens", { name: HOSTILE, role: "Viewer" }, cookie);
      assertInert(made.doc, made.html, "token created");
      const list = await get("/admin/tokens", cookie);
      assertInert(list.doc, list.html, "tokens page");
      assert.equal(list.doc.querySelector(".token-name")!.textContent, HOSTILE);
      assert.equal(list.doc.querySelector(".created-by")!.textContent, `by ${HOSTILE}`);
    },
  );

  await t.step(
    "a hostile name typed into the login form reaches the audit log as text",
    async () => {
      const res = await app.request("/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
        body: new URLSearchParams({ username: `${HOSTILE}x`, password: "guess" }).toString(),
      });
      const page = await res.text();
      assertInert(parse(page), page, "login page echoing the name");
      const audit = await get(`/admin/audit?owner=${encodeURIComponent(`${HOSTILE}x`)}`);
      assertInert(audit.doc, audit.html, "audit page");
      const row = audit.doc.querySelector('#audit tr[data-event="login_failed"]')!;
      assert.match(row.querySelector(".owner")!.textContent!, /onerror=alert\(2\)>x/);
      assert.equal(
        audit.doc.querySelector('input[name="owner"]')!.getAttribute("value"),
        `${HOSTILE}x`,
      );
    },
  );
});
