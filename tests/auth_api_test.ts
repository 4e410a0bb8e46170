/**
 * API authentication as a client sees it: Airflow's `POST /auth/token` (JSON or a form) and
 * its errors, JWTs that are refused once tampered with, expired or revoked, API tokens shown
 * once, used with their own role, revoked, expired; the local CLI credential; and Gust's
 * users and tokens endpoints. Answers are checked against Gust's published document.
 */
import assert from "node:assert/strict";
import { signJwt } from "../auth/jwt.ts";
import { toBase64Url } from "../auth/password.ts";
import type { Db } from "../db/client.ts";
import { findUserByName } from "../db/users.ts";
import {
  authTestApp,
  createTestUser,
  jwtFor,
  signTestJwt,
  TEST_LOCAL_TOKEN,
  TEST_PASSWORD,
  TEST_SECRET_KEY,
} from "./auth_helpers.ts";
import { dbTest, TestClock } from "./helpers.ts";
import { check, type OpenApiDoc, responseSchema } from "./openapi_check.ts";
import { fakeDag, storeFakeDag } from "./ui_helpers.ts";

async function setup(db: Db) {
  const clock = new TestClock(new Date());
  const app = authTestApp(db, { clock: clock.now, auth: { jwtTtlMs: 3_600_000 } });
  await storeFakeDag(db, fakeDag("a_dag"));
  await createTestUser(db, "viewer", "Viewer");
  await createTestUser(db, "admin", "Admin");
  const doc = await (await app.request("/api/v2/openapi.json")).json() as OpenApiDoc;
  /** A request, its answer checked against Gust's document for its path and status. */
  const call = async (
    method: string,
    path: string,
    o: { token?: string; body?: unknown; template?: string; headers?: Record<string, string> } = {},
  ) => {
    const res = await app.request(path, {
      method,
      headers: {
        "content-type": "application/json",
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...o.headers,
      },
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
    });
    const json = await res.json();
    const schema = responseSchema(doc, method.toLowerCase(), o.template ?? path, res.status);
    assert.deepEqual(check(doc, schema, json), [], `${method} ${path} ${res.status}`);
    return { status: res.status, json, res };
  };
  return { app, clock, call };
}

dbTest("POST /auth/token answers Airflow's shapes", async (t, db) => {
  const { app, call } = await setup(db);

  await t.step("a username and password, as JSON, get a JWT (201)", async () => {
    const { status, json } = await call("POST", "/auth/token", {
      body: { username: "viewer", password: TEST_PASSWORD },
    });
    assert.equal(status, 201);
    assert.equal(json.access_token.split(".").length, 3);
    const dags = await call("GET", "/api/v2/dags", { token: json.access_token });
    assert.equal(dags.status, 200);
  });

  await t.step("or as a form", async () => {
    const res = await app.request("/auth/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: "viewer", password: TEST_PASSWORD }).toString(),
    });
    assert.equal(res.status, 201);
    assert.ok((await res.json()).access_token);
  });

  await t.step("wrong or unknown credentials are one 401", async () => {
    for (
      const body of [{ username: "viewer", password: "wrong" }, { username: "x", password: "y" }]
    ) {
      const { status, json } = await call("POST", "/auth/token", { body });
      assert.equal(status, 401);
      assert.deepEqual(json, { detail: "Invalid credentials" });
    }
  });

  await t.step(
    "bad bodies: 400 for empty fields, 422 for missing or extra, 415 for others",
    async () => {
      assert.equal(
        (await call("POST", "/auth/token", { body: { username: "", password: "" } })).status,
        400,
      );
      const missing = await call("POST", "/auth/token", { body: { username: "viewer" } });
      assert.equal(missing.status, 422);
      assert.deepEqual(missing.json.detail[0].loc, ["body", "password"]);
      const extra = await call("POST", "/auth/token", {
        body: { username: "viewer", password: TEST_PASSWORD, role: "Admin" },
      });
      assert.equal(extra.status, 422);
      const text = await call("POST", "/auth/token", {
        headers: { "content-type": "text/plain" },
        body: { username: "viewer", password: TEST_PASSWORD },
      });
      assert.equal(text.status, 415);
    },
  );
});

dbTest("JWTs: tampered, expired, revoked and deactivated ones are 401", async (t, db) => {
  const { app, clock, call } = await setup(db);
  const viewer = (await findUserByName(db.sql, "viewer"))!;
  const good = await jwtFor(app, "viewer");
  const [header, payload] = good.split(".");
  const enc = (v: unknown) => toBase64Url(new TextEncoder().encode(JSON.stringify(v)));
  const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
  const admin = (await findUserByName(db.sql, "admin"))!;

  await t.step("alg none, a wrong key and an edited subject", async () => {
    const tampered = {
      "alg none": `${enc({ alg: "none", typ: "JWT" })}.${payload}.`,
      "wrong key": await signJwt("another key ".repeat(4), String(viewer.id), clock.now(), 60_000, {
        pwd_at: claims.pwd_at,
      }),
      "the admin's id, the viewer's signature": `${header}.${
        enc({ ...claims, sub: String(admin.id) })
      }.${good.split(".")[2]}`,
    };
    for (const [name, token] of Object.entries(tampered)) {
      const { status, json } = await call("GET", "/api/v2/dags", { token });
      assert.equal(status, 401, name);
      assert.equal(json.detail, "Invalid JWT token", name);
    }
    assert.equal((await call("GET", "/api/v2/dags", { token: good })).status, 200);
  });

  await t.step("the role is read at each request, not from the token", async () => {
    const token = await signTestJwt(viewer, clock.now());
    const refused = await call("PATCH", "/api/v2/dags/a_dag", {
      token,
      body: { is_paused: true },
      template: "/api/v2/dags/{dag_id}",
    });
    assert.equal(refused.status, 403);
    await db.sql`UPDATE app_user SET role = 'User' WHERE id = ${viewer.id}`;
    const allowed = await call("PATCH", "/api/v2/dags/a_dag", {
      token,
      body: { is_paused: true },
      template: "/api/v2/dags/{dag_id}",
    });
    assert.equal(allowed.status, 200);
    await db.sql`UPDATE app_user SET role = 'Viewer' WHERE id = ${viewer.id}`;
  });

  await t.step("an expired token says so", async () => {
    const short = await signJwt(TEST_SECRET_KEY, String(viewer.id), clock.now(), 60_000, {
      pwd_at: claims.pwd_at,
    });
    clock.advance(61_000);
    const { status, json } = await call("GET", "/api/v2/dags", { token: short });
    assert.equal(status, 401);
    assert.equal(json.detail, "Token Expired");
    assert.equal(
      (await call("GET", "/api/v2/dags", { token: good })).status,
      200,
      "1 h tokens live on",
    );
    clock.advance(3_600_000);
    assert.equal((await call("GET", "/api/v2/dags", { token: good })).status, 401);
  });

  await t.step("deactivating the user revokes its tokens", async () => {
    const token = await signTestJwt(admin, clock.now());
    assert.equal((await call("GET", "/api/v2/dags", { token })).status, 200);
    await db.sql`UPDATE app_user SET is_active = false WHERE id = ${admin.id}`;
    assert.equal((await call("GET", "/api/v2/dags", { token })).status, 401);
    const login = await call("POST", "/auth/token", {
      body: { username: "admin", password: TEST_PASSWORD },
    });
    assert.equal(login.status, 401, "nor can it log in");
  });
});

dbTest("API tokens and the local credential", async (t, db) => {
  const { clock, call } = await setup(db);
  let secret = "";
  let id = 0;

  await t.step("an Admin creates a token: shown once, kept as a hash", async () => {
    const made = await call("POST", "/auth/tokens", {
      token: TEST_LOCAL_TOKEN,
      body: { name: "ci", role: "User", expires_in_days: 1 },
    });
    assert.equal(made.status, 201);
    secret = made.json.token;
    id = made.json.token_id;
    assert.match(secret, /^gust_[A-Za-z0-9_-]{43}$/);
    assert.equal(made.json.created_by, "cli");
    const stored = await db.sql`SELECT token_hash FROM api_token WHERE id = ${id}`;
    assert.notEqual(stored[0].token_hash, secret);
    const listed = await call("GET", "/auth/tokens", { token: TEST_LOCAL_TOKEN });
    assert.ok(!JSON.stringify(listed.json).includes(secret), "never listed again");
    const twin = await call("POST", "/auth/tokens", {
      token: TEST_LOCAL_TOKEN,
      body: { name: "CI", role: "Viewer" },
    });
    assert.equal(twin.status, 409, "two live tokens cannot share a name");
  });

  await t.step("the token acts with its role, and its use is recorded", async () => {
    assert.equal((await call("GET", "/api/v2/dags", { token: secret })).status, 200);
    const pause = await call("PATCH", "/api/v2/dags/a_dag", {
      token: secret,
      body: { is_paused: true },
      template: "/api/v2/dags/{dag_id}",
    });
    assert.equal(pause.status, 200);
    const users = await call("GET", "/auth/users", { token: secret });
    assert.equal(users.status, 403, "a User token is no Admin");
    const [row] = await db.sql<{ lastUsedAt: Date }>`
      SELECT last_used_at AS "lastUsedAt" FROM api_token WHERE id = ${id}`;
    assert.ok(row.lastUsedAt, "last_used_at is kept");
    const [audit] = await db.sql<{ owner: string; actor: string }>`
      SELECT owner, actor FROM audit_log WHERE event = 'pause'`;
    assert.deepEqual(audit, { owner: "ci", actor: "api_token" });
  });

  await t.step("a token expires, and a revoked one is refused at once", async () => {
    clock.advance(86_400_000 + 1000);
    assert.equal((await call("GET", "/api/v2/dags", { token: secret })).status, 401);
    const other = await call("POST", "/auth/tokens", {
      token: TEST_LOCAL_TOKEN,
      body: { name: "deploy", role: "Viewer" },
    });
    const token = other.json.token;
    assert.equal((await call("GET", "/api/v2/dags", { token })).status, 200);
    const revoked = await call("DELETE", `/auth/tokens/${other.json.token_id}`, {
      token: TEST_LOCAL_TOKEN,
      template: "/auth/tokens/{token_id}",
    });
    assert.equal(revoked.status, 200);
    assert.ok(revoked.json.revoked_at);
    const refused = await call("GET", "/api/v2/dags", { token });
    assert.equal(refused.status, 401);
    assert.equal(refused.json.detail, "Invalid token");
    const again = await call("DELETE", `/auth/tokens/${other.json.token_id}`, {
      token: TEST_LOCAL_TOKEN,
      template: "/auth/tokens/{token_id}",
    });
    assert.equal(again.status, 404);
  });

  await t.step("the local credential is an Admin; a guess at it is nothing", async () => {
    assert.equal((await call("GET", "/auth/users", { token: TEST_LOCAL_TOKEN })).status, 200);
    const guess = `gustlocal_${"u".repeat(43)}`;
    assert.equal((await call("GET", "/api/v2/dags", { token: guess })).status, 401);
  });
});

dbTest(
  "Gust's users endpoints: create, change role, reset, deactivate, keep an Admin",
  async (t, db) => {
    const { app, call } = await setup(db);
    const admin = { token: TEST_LOCAL_TOKEN };

    await t.step("a user created without a password gets one, returned once", async () => {
      const made = await call("POST", "/auth/users", {
        ...admin,
        body: { username: "eve", role: "Op" },
      });
      assert.equal(made.status, 201);
      assert.match(made.json.password, /^[A-Za-z0-9_-]{24}$/);
      assert.ok(await jwtFor(app, "eve", made.json.password));
      const listed = await call("GET", "/auth/users", admin);
      assert.ok(!JSON.stringify(listed.json).includes(made.json.password));
      assert.deepEqual(
        listed.json.users.map((u: { username: string }) => u.username),
        ["admin", "eve", "viewer"],
      );
    });

    await t.step("bad input is a 422 that names the field; a taken name a 409", async () => {
      const cases = [
        { username: "<script>", role: "User" },
        { username: "ok_name", role: "Superuser" },
        { username: "ok_name", role: "User", password: "short" },
      ];
      for (const body of cases) {
        const res = await call("POST", "/auth/users", { ...admin, body });
        assert.equal(res.status, 422, JSON.stringify(body));
        assert.equal(res.json.detail[0].loc[0], "body");
      }
      const taken = await call("POST", "/auth/users", {
        ...admin,
        body: { username: "EVE", role: "User" },
      });
      assert.equal(taken.status, 409);
      assert.equal(taken.json.detail, 'User "EVE" already exists');
    });

    await t.step("role, password and active flag change through PATCH", async () => {
      const patch = (username: string, body: unknown) =>
        call("PATCH", `/auth/users/${username}`, {
          ...admin,
          body,
          template: "/auth/users/{username}",
        });
      assert.equal((await patch("eve", { role: "Viewer" })).json.role, "Viewer");
      const reset = await patch("eve", { reset_password: true });
      assert.ok(reset.json.password);
      assert.ok(await jwtFor(app, "eve", reset.json.password));
      const set = await patch("eve", { password: "chosen by the admin" });
      assert.equal(set.json.password, undefined, "a given password is not echoed");
      assert.equal((await patch("eve", { is_active: false })).json.is_active, false);
      assert.equal((await patch("nobody", { role: "User" })).status, 404);
    });

    await t.step("the last active Admin cannot be demoted or deactivated", async () => {
      const patch = (body: unknown) =>
        call("PATCH", "/auth/users/admin", { ...admin, body, template: "/auth/users/{username}" });
      for (const body of [{ role: "Op" }, { is_active: false }]) {
        const res = await patch(body);
        assert.equal(res.status, 409);
        assert.match(res.json.detail, /last active Admin/);
      }
      const [row] = await db.sql`SELECT role, is_active FROM app_user WHERE username = 'admin'`;
      assert.deepEqual(row, { role: "Admin", is_active: true });
    });
  },
);
