/**
 * Who may do what, route by route: every API operation (driven by the operations registry) and
 * every dashboard page and action (driven by the dashboard's access list), each asked by every
 * role, by no one, with a revoked API token, an expired JWT and an expired session, with real
 * ids and with `~`. A refused request is 401 (or a redirect to the login page) or 403, and all
 * the refused requests together change nothing; an allowed one is never refused. The registries
 * are checked against the routers both ways, so a new route cannot be left out.
 */
import assert from "node:assert/strict";
import { type Access, can, type Permission, ROLES, type UserRole } from "../auth/roles.ts";
import { sha256Hex } from "../auth/secrets.ts";
import type { Db } from "../db/client.ts";
import { insertSession } from "../db/sessions.ts";
import { findUserByName } from "../db/users.ts";
import { api } from "../routes/api.ts";
import { OPERATIONS } from "../routes/api/operations.ts";
import { authApi } from "../routes/auth.ts";
import { apiAccessMap, uiAccessMap } from "../routes/auth_access.ts";
import { ui } from "../routes/ui.tsx";
import { UI_ACCESS } from "../routes/ui/access.ts";
import { airflowDoc, check } from "./openapi_check.ts";
import {
  authTestApp,
  createTestToken,
  createTestUser,
  login,
  ORIGIN,
  signTestJwt,
  TEST_PASSWORD,
} from "./auth_helpers.ts";
import { dbTest } from "./helpers.ts";
import { fakeDag, linked, storeFakeRun, task } from "./ui_helpers.ts";

const MATRIX_DAG = fakeDag("m_dag", {
  schedule: "@daily",
  startDate: "2025-01-01T00:00:00.000Z",
  tasks: linked([task("a"), task("b")], [["a", "b"]]),
});

const routeKey = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

/**
 * The brief's roles, written out independently of auth/roles.ts: the least role allowed each
 * permission.
 */
const LEAST_ROLE: Record<Permission, UserRole> = {
  read: "Viewer",
  trigger: "User",
  clear: "User",
  mark: "User",
  pause: "User",
  pools: "Op",
  connections: "Op",
  variables: "Op",
  users: "Admin",
  tokens: "Admin",
  audit: "Admin",
};

/** What each API operation needs, written out here so the registry cannot drift from it. */
const API_EXPECTED: Record<string, Access> = {
  get_dags: "read",
  get_dag: "read",
  patch_dag: "pause",
  post_clear_task_instances: "clear",
  get_dag_runs: "read",
  trigger_dag_run: "trigger",
  get_dag_run: "read",
  patch_dag_run: "mark",
  clear_dag_run: "clear",
  get_task_instances: "read",
  get_task_instance: "read",
  patch_task_instance: "mark",
  get_log: "read",
  get_xcom_entries: "read",
  get_xcom_entry: "read",
  get_import_errors: "read",
  create_backfill: "trigger",
  create_backfill_dry_run: "read",
  get_pools: "read",
  post_pool: "pools",
  get_pool: "read",
  patch_pool: "pools",
  delete_pool: "pools",
  get_event_logs: "audit",
  get_event_log: "audit",
  get_health: "public",
  get_version: "public",
  get_openapi: "public",
  post_webhook: "public",
  create_token: "public",
  get_users: "users",
  post_user: "users",
  patch_user: "users",
  get_api_tokens: "tokens",
  post_api_token: "tokens",
  delete_api_token: "tokens",
};

/** What each dashboard route needs. */
const UI_EXPECTED: Record<string, Access> = {
  "GET /static/htmx.min.js": "public",
  "GET /static/gust.css": "public",
  "GET /login": "public",
  "POST /login": "public",
  "POST /logout": "read",
  "GET /account": "read",
  "POST /account/password": "read",
  "GET /": "read",
  "GET /dags/:dagId": "read",
  "POST /dags/:dagId/trigger": "trigger",
  "POST /dags/:dagId/pause": "pause",
  "GET /dags/:dagId/graph": "read",
  "GET /dags/:dagId/runs": "read",
  "GET /dags/:dagId/code": "read",
  "GET /dags/:dagId/versions": "read",
  "GET /dags/:dagId/runs/:runId": "read",
  "POST /dags/:dagId/runs/:runId/clear": "clear",
  "POST /dags/:dagId/runs/:runId/mark": "mark",
  "GET /dags/:dagId/runs/:runId/tasks/:taskId": "read",
  "GET /dags/:dagId/runs/:runId/tasks/:taskId/log": "read",
  "POST /dags/:dagId/runs/:runId/tasks/:taskId/clear": "clear",
  "POST /dags/:dagId/runs/:runId/tasks/:taskId/mark": "mark",
  "GET /ti/:id": "read",
  "GET /pools": "read",
  "POST /pools": "pools",
  "POST /pools/:name": "pools",
  "POST /pools/:name/delete": "pools",
  "GET /admin/users": "users",
  "POST /admin/users": "users",
  "POST /admin/users/:username/role": "users",
  "POST /admin/users/:username/password": "users",
  "POST /admin/users/:username/active": "users",
  "GET /admin/tokens": "tokens",
  "POST /admin/tokens": "tokens",
  "POST /admin/tokens/:id/revoke": "tokens",
  "GET /admin/audit": "audit",
};

/** Whether `role` may use a route needing `access`, by the tables above (not by `can`). */
function allowed(role: UserRole | null, access: Access | undefined): boolean {
  if (access === undefined) throw new Error("A route without an expectation: add it above");
  if (access === "public") return true;
  return role !== null && ROLES.indexOf(role) >= ROLES.indexOf(LEAST_ROLE[access]);
}

Deno.test("the roles grant what Airflow's do, each a superset of the one before", () => {
  for (const role of ROLES) {
    for (const permission of Object.keys(LEAST_ROLE) as Permission[]) {
      assert.equal(can(role, permission), allowed(role, permission), `${role} ${permission}`);
    }
  }
});

Deno.test("each route needs the permission written out for it here", () => {
  for (const op of OPERATIONS) {
    assert.equal(op.access, API_EXPECTED[op.operationId], `${op.operationId} (add it here)`);
  }
  for (const r of UI_ACCESS) {
    const key = routeKey(r.method, r.path);
    assert.equal(r.access, UI_EXPECTED[key], `${key} (add it here)`);
  }
});

Deno.test("every API and auth route is in the operations registry, and every entry is served", () => {
  const served = [
    ...api.routes.map((r) => ({ ...r, path: `/api/v2${r.path}` })),
    ...authApi.routes.map((r) => ({ ...r, path: `/auth${r.path}` })),
  ]
    .filter((r) => r.method !== "ALL")
    .map((r) => routeKey(r.method, r.path.replace(/\/$/, "").replace(/:(\w+)/g, "{$1}")))
    .sort();
  const registered = OPERATIONS.filter((op) => !op.path.startsWith("/webhooks/"))
    .map((op) => routeKey(op.method, op.path))
    .sort();
  assert.deepEqual(registered, served);
});

Deno.test("every dashboard route has an entry in the access list, and every entry is served", () => {
  // A route with middleware of its own (conditional answers) is listed once per handler.
  const served = [
    ...new Set(
      ui.routes.filter((r) => r.method !== "ALL")
        .map((r) => routeKey(r.method, r.path.replace(/(.)\/$/, "$1"))),
    ),
  ].sort();
  assert.deepEqual(UI_ACCESS.map((r) => routeKey(r.method, r.path)).sort(), served);
});

Deno.test("the access maps resolve each route to its own entry, whatever its ids", () => {
  for (const op of OPERATIONS) {
    for (const id of ["x", "~", "a%2Fb", "1"]) {
      const path = op.path.replace(/\{\w+\}/g, id);
      assert.equal(apiAccessMap.access(op.method, path), op.access, `${op.method} ${path}`);
    }
  }
  for (const r of UI_ACCESS) {
    const path = r.path.replace(/:\w+/g, "~");
    assert.equal(uiAccessMap.access(r.method, path), r.access, `${r.method} ${path}`);
  }
  // A path no route serves needs a signed-in caller all the same.
  assert.equal(apiAccessMap.access("GET", "/api/v2/variables"), "read");
  assert.equal(uiAccessMap.access("GET", "/nowhere"), "read");
});

interface Fixture {
  app: ReturnType<typeof authTestApp>;
  dagRunId: number;
  tiId: number;
  targetTokenId: number;
}

async function fixture(db: Db): Promise<Fixture> {
  const dagRunId = await storeFakeRun(db, MATRIX_DAG, "m_run", {
    logicalDate: new Date("2025-06-01T00:00:00Z"),
  });
  await db
    .sql`UPDATE task_instance SET state = 'success', try_number = 1 WHERE dag_run_id = ${dagRunId}`;
  await db.sql`UPDATE dag_run SET state = 'success' WHERE id = ${dagRunId}`;
  const [{ id: tiId }] = await db.sql<{ id: number }>`
    SELECT id FROM task_instance WHERE dag_run_id = ${dagRunId} AND task_id = 'a'`;
  await createTestUser(db, "target", "Viewer");
  await createTestToken(db, "target-token", "Viewer");
  await db.sql`INSERT INTO pool (name, slots) VALUES ('matrix_pool', 2)`;
  const [{ id: targetTokenId }] = await db.sql<{ id: number }>`
    SELECT id FROM api_token WHERE name = 'target-token'`;
  const app = authTestApp(db);
  return { app, dagRunId, tiId, targetTokenId };
}

type Who = {
  name: string;
  /** The role it acts with; null: no one (refused everywhere but public routes). */
  role: typeof ROLES[number] | null;
  headers: Record<string, string>;
};

/** A caller with an Admin's API token that was revoked. */
async function revokedToken(db: Db, name: string): Promise<Who> {
  const token = await createTestToken(db, name, "Admin");
  await db.sql`UPDATE api_token SET revoked_at = now() WHERE name = ${name}`;
  return { name: "revoked API token", role: null, headers: { authorization: `Bearer ${token}` } };
}

/** Every role with a JWT (and User also with an API token), and three that are no one. */
async function apiCallers(db: Db, app: Fixture["app"]): Promise<Who[]> {
  const callers: Who[] = [{ name: "anonymous", role: null, headers: {} }];
  for (const role of ROLES) {
    const user = await createTestUser(db, `api_${role.toLowerCase()}`, role);
    const jwt = await signTestJwt(user);
    callers.push({ name: `${role} (JWT)`, role, headers: { authorization: `Bearer ${jwt}` } });
  }
  const token = await createTestToken(db, "matrix user token", "User");
  callers.push({
    name: "User (API token)",
    role: "User",
    headers: { authorization: `Bearer ${token}` },
  });
  callers.push(await revokedToken(db, "revoked"));
  const admin = (await findUserByName(db.sql, "api_admin"))!;
  const expired = await signTestJwt(admin, new Date(Date.now() - 2 * 3_600_000));
  callers.push({
    name: "expired JWT",
    role: null,
    headers: { authorization: `Bearer ${expired}` },
  });
  void app;
  return callers;
}

const API_BODIES: Record<string, unknown> = {
  patch_dag: { is_paused: true },
  post_clear_task_instances: { dry_run: false, dag_run_id: "m_run" },
  trigger_dag_run: { conf: {} },
  patch_dag_run: { state: "failed", note: "by the matrix" },
  clear_dag_run: { dry_run: false },
  patch_task_instance: { new_state: "failed", note: "by the matrix" },
  create_backfill: {
    dag_id: "m_dag",
    from_date: "2025-01-01T00:00:00Z",
    to_date: "2025-01-02T00:00:00Z",
  },
  create_backfill_dry_run: {
    dag_id: "m_dag",
    from_date: "2025-01-01T00:00:00Z",
    to_date: "2025-01-02T00:00:00Z",
  },
  create_token: { username: "target", password: TEST_PASSWORD },
  post_user: { username: "matrix_new", role: "Viewer" },
  patch_user: { role: "Op" },
  post_api_token: { name: "matrix token", role: "Viewer" },
  post_pool: { name: "matrix_new_pool", slots: 4 },
  patch_pool: { slots: 8 },
};

/** The op's path with real ids, and with `~` for every id that may be one. */
function apiPaths(path: string, f: Fixture): string[] {
  const real: Record<string, string> = {
    dag_id: "m_dag",
    dag_run_id: "m_run",
    task_id: "a",
    try_number: "1",
    xcom_key: "return_value",
    event_log_id: "1",
    username: "target",
    token_id: String(f.targetTokenId),
    pool_name: "matrix_pool",
  };
  const numeric = new Set(["try_number", "event_log_id", "token_id"]);
  const fill = (all: boolean) =>
    path.replace(/\{(\w+)\}/g, (_, name) => (all && !numeric.has(name) ? "~" : real[name]));
  return [...new Set([fill(false), fill(true)])];
}

/** What the rows a change would touch look like now. */
async function snapshot(db: Db): Promise<string> {
  const parts = await Promise.all([
    db.sql`SELECT dag_id, is_paused FROM dag ORDER BY dag_id`,
    db.sql`SELECT id, run_id, state, note FROM dag_run ORDER BY id`,
    db.sql`SELECT id, state, try_number, note FROM task_instance ORDER BY id`,
    db.sql`SELECT count(*)::int AS n FROM backfill`,
    db.sql`SELECT count(*)::int AS n FROM audit_log`,
    db.sql`SELECT username, role, is_active, password_hash FROM app_user ORDER BY id`,
    db.sql`SELECT name, role, revoked_at FROM api_token ORDER BY id`,
    db.sql`SELECT count(*)::int AS n FROM user_session`,
    db.sql`SELECT name, slots, description FROM pool ORDER BY name`,
  ]);
  return JSON.stringify(parts);
}

dbTest(
  "the API refuses every caller its role does not allow, and changes nothing",
  async (t, db) => {
    const f = await fixture(db);
    const callers = await apiCallers(db, f.app);
    const airflow = await airflowDoc();
    const ops = OPERATIONS.filter((op) => !op.path.startsWith("/webhooks/"));
    const request = (method: string, path: string, who: Who, body: unknown) =>
      f.app.request(path, {
        method: method.toUpperCase(),
        headers: { "content-type": "application/json", ...who.headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const refused = (op: typeof ops[number], who: Who) =>
      !allowed(who.role, API_EXPECTED[op.operationId]);

    await t.step("refused: 401 for no one, 403 for a role without the permission", async () => {
      const before = await snapshot(db);
      let count = 0;
      for (const op of ops) {
        for (const who of callers.filter((w) => refused(op, w))) {
          for (const path of apiPaths(op.path, f)) {
            const res = await request(op.method, path, who, API_BODIES[op.operationId]);
            const body = await res.json();
            const what = `${op.method} ${path} by ${who.name}`;
            assert.equal(
              res.status,
              who.role === null ? 401 : 403,
              `${what}: ${JSON.stringify(body)}`,
            );
            assert.deepEqual(
              check(airflow, { $ref: "#/components/schemas/HTTPExceptionResponse" }, body),
              [],
            );
            if (who.role === null) {
              assert.equal(res.headers.get("www-authenticate"), "Bearer", what);
            } else assert.deepEqual(body, { detail: "Forbidden" }, what);
            count++;
          }
        }
      }
      assert.ok(count > 100, `only ${count} refused requests`);
      assert.equal(await snapshot(db), before, "refused requests changed nothing");
    });

    await t.step("the details say what was wrong with the credential", async () => {
      const byName = Object.fromEntries(callers.map((w) => [w.name, w]));
      const detail = async (who: Who) =>
        (await (await request("get", "/api/v2/dags", who, undefined)).json()).detail;
      assert.equal(await detail(byName.anonymous), "Not authenticated");
      assert.equal(await detail(byName["expired JWT"]), "Token Expired");
      assert.equal(await detail(byName["revoked API token"]), "Invalid token");
    });

    await t.step("allowed: never 401 or 403", async () => {
      for (const who of callers.filter((w) => w.role !== null)) {
        for (const op of ops.filter((o) => !refused(o, who))) {
          for (const path of apiPaths(op.path, f)) {
            const res = await request(op.method, path, who, API_BODIES[op.operationId]);
            const text = await res.text();
            assert.ok(
              res.status !== 401 && res.status !== 403 && res.status < 500,
              `${op.method} ${path} by ${who.name}: ${res.status} ${text}`,
            );
          }
        }
      }
    });

    await t.step("public operations answer anyone", async () => {
      for (const op of ops.filter((o) => API_EXPECTED[o.operationId] === "public")) {
        const res = await request(op.method, op.path, callers[0], API_BODIES[op.operationId]);
        await res.body?.cancel();
        assert.ok(res.status < 400, `${op.method} ${op.path}: ${res.status}`);
      }
      // The operators' probe is public too, as is a webhook (its signature is its credential).
      const health = await f.app.request("/health");
      assert.equal(health.status, 200);
      await health.body?.cancel();
      const hook = await f.app.request("/webhooks/m_dag", { method: "POST", body: "{}" });
      assert.equal(hook.status, 404, "judged on its own terms, not refused as unauthenticated");
      await hook.body?.cancel();
    });
  },
);

/** The dashboard's callers: a session per role, no one, an expired session, a revoked token. */
async function uiCallers(db: Db, f: Fixture): Promise<Who[]> {
  const callers: Who[] = [{ name: "anonymous", role: null, headers: {} }];
  for (const role of ROLES) {
    await createTestUser(db, `ui_${role.toLowerCase()}`, role);
    const cookie = await login(f.app, `ui_${role.toLowerCase()}`);
    callers.push({ name: `${role} (session)`, role, headers: { cookie } });
  }
  const [admin] = await db.sql<{ id: number }>`SELECT id FROM app_user WHERE username = 'ui_admin'`;
  const stale = "s".repeat(43);
  const past = new Date(Date.now() - 48 * 3_600_000);
  await insertSession(db.sql, {
    idHash: await sha256Hex(stale),
    userId: admin.id,
    now: past,
    expiresAt: new Date(past.getTime() + 3_600_000),
    clientAddr: null,
    userAgent: null,
  });
  callers.push({
    name: "expired session",
    role: null,
    headers: { cookie: `gust_session=${stale}` },
  });
  callers.push(await revokedToken(db, "ui revoked"));
  return callers;
}

const UI_FORMS: Record<string, Record<string, string>> = {
  "POST /login": { username: "nobody", password: "wrong password" },
  "POST /account/password": {
    current: "wrong",
    new: "a new password 1",
    confirm: "a new password 1",
  },
  "POST /dags/:dagId/trigger": {},
  "POST /dags/:dagId/pause": { paused: "true" },
  "POST /dags/:dagId/runs/:runId/mark": { state: "failed" },
  "POST /dags/:dagId/runs/:runId/tasks/:taskId/mark": { state: "failed" },
  "POST /admin/users": { username: "ui_new", role: "Viewer", password: "" },
  "POST /admin/users/:username/role": { role: "Op" },
  "POST /admin/users/:username/active": { active: "false" },
  "POST /admin/tokens": { name: "ui matrix token", role: "Viewer" },
  "POST /pools": { name: "ui_matrix_pool", slots: "3" },
  "POST /pools/:name": { slots: "6" },
};

function uiPaths(path: string, f: Fixture): string[] {
  const real: Record<string, string> = {
    dagId: "m_dag",
    runId: "m_run",
    taskId: "a",
    username: "target",
    name: "matrix_pool",
    id: path.startsWith("/admin/tokens") ? String(f.targetTokenId) : String(f.tiId),
  };
  const fill = (all: boolean) =>
    path.replace(/:(\w+)/g, (_, name) => (all && name !== "id" ? "~" : real[name]));
  return [...new Set([fill(false), fill(true)])];
}

dbTest(
  "the dashboard sends no one to log in and refuses roles, changing nothing",
  async (t, db) => {
    const f = await fixture(db);
    const callers = await uiCallers(db, f);
    // Logging out ends the caller's session, so it comes last.
    const routes = [...UI_ACCESS].sort((a, b) =>
      Number(a.path === "/logout") - Number(b.path === "/logout")
    );
    const request = (r: typeof routes[number], path: string, who: Who, htmx = false) =>
      f.app.request(path, {
        method: r.method,
        headers: {
          ...(r.method === "POST"
            ? { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN }
            : {}),
          ...(htmx ? { "hx-request": "true" } : {}),
          ...who.headers,
        },
        body: r.method === "POST"
          ? new URLSearchParams(UI_FORMS[routeKey(r.method, r.path)] ?? {}).toString()
          : undefined,
      });
    const refused = (r: typeof routes[number], who: Who) =>
      !allowed(who.role, UI_EXPECTED[routeKey(r.method, r.path)]);

    await t.step(
      "refused: a redirect to the login page, 401 for htmx, 403 for a role",
      async () => {
        const before = await snapshot(db);
        for (const r of routes) {
          for (const who of callers.filter((w) => refused(r, w))) {
            for (const path of uiPaths(r.path, f)) {
              const what = `${r.method} ${path} by ${who.name}`;
              const res = await request(r, path, who);
              await res.body?.cancel();
              if (who.role !== null) {
                assert.equal(res.status, 403, what);
                continue;
              }
              assert.equal(res.status, r.method === "GET" ? 302 : 303, what);
              const to = new URL(res.headers.get("location")!, ORIGIN);
              assert.equal(to.pathname, "/login", what);
              if (r.method === "GET") assert.equal(to.searchParams.get("next") ?? "/", path, what);
              const htmx = await request(r, path, who, true);
              await htmx.body?.cancel();
              assert.equal(htmx.status, 401, `${what} (htmx)`);
              assert.match(htmx.headers.get("hx-redirect") ?? "", /^\/login/, `${what} (htmx)`);
            }
          }
        }
        assert.equal(await snapshot(db), before, "refused requests changed nothing");
      },
    );

    await t.step("allowed: never sent to log in, never 403", async () => {
      for (const who of callers.filter((w) => w.role !== null)) {
        for (const r of routes.filter((r) => !refused(r, who))) {
          for (const path of uiPaths(r.path, f)) {
            const res = await request(r, path, who);
            const text = await res.text();
            const location = res.headers.get("location") ?? "";
            // A public route's own refusals (a wrong password at /login is 401) and logging
            // out (which sends to the login page) are not the access check's.
            const own = UI_EXPECTED[routeKey(r.method, r.path)] === "public" ||
              r.path === "/logout";
            assert.ok(
              res.status !== 403 && res.status < 500 &&
                (own || (res.status !== 401 && !location.startsWith("/login"))),
              `${r.method} ${path} by ${who.name}: ${res.status} ${location} ${text.slice(0, 200)}`,
            );
          }
        }
      }
    });
  },
);
