/**
 * The audit log: a row for every kind of change, naming who (a user, an API token, "webhook"),
 * what (the event and the ids it touched), when and from where (client address and user
 * agent); no row for a refused request or for a change that rolled back; and
 * `GET /api/v2/eventLogs` in Airflow's EventLog shape, with its filters, ordering and pages,
 * checked against Airflow's OpenAPI document.
 */
import assert from "node:assert/strict";
import { DEFAULT_WEBHOOK_CONFIG } from "../config.ts";
import type { AuditRow } from "../db/audit_log.ts";
import { insertAudit } from "../db/audit_log.ts";
import type { Db } from "../db/client.ts";
import { signGust } from "../routes/webhook_signature.ts";
import { markRun } from "../scheduler/mark.ts";
import { triggerRun } from "../scheduler/trigger_run.ts";
import { urls } from "../views/format.ts";
import {
  authTestApp,
  createTestToken,
  createTestUser,
  login,
  ORIGIN,
  TEST_LOCAL_TOKEN,
  TEST_PASSWORD,
} from "./auth_helpers.ts";
import { dbTest, TestClock } from "./helpers.ts";
import { airflowDoc, check, responseSchema } from "./openapi_check.ts";
import { fakeDag, linked, storeFakeRun, task } from "./ui_helpers.ts";

const DAG = fakeDag("audited", {
  schedule: "@daily",
  startDate: "2025-01-01T00:00:00.000Z",
  tasks: linked([task("a"), task("b")], [["a", "b"]]),
  webhook: { secretEnv: null },
});
const SECRET = "webhook secret for the audited DAG";
const CLIENT = "203.0.113.9";
const from = { remoteAddr: { hostname: CLIENT, port: 50000, transport: "tcp" } };

async function setup(db: Db) {
  const clock = new TestClock(new Date("2026-03-01T12:00:00Z"));
  const app = authTestApp(db, {
    clock: clock.now,
    auth: { forwardedAllowIps: [] },
    deps: {
      webhook: {
        ...DEFAULT_WEBHOOK_CONFIG,
        rateLimit: null,
        variables: { GUST_WEBHOOK_SECRET_AUDITED: SECRET },
      },
    },
  });
  await storeFakeRun(db, DAG, "r1", {
    logicalDate: new Date("2026-02-01T00:00:00Z"),
    now: clock.now(),
  });
  await db.sql`UPDATE task_instance SET state = 'success', try_number = 1`;
  await db.sql`UPDATE dag_run SET state = 'success'`;
  await createTestUser(db, "root", "Admin");
  await createTestUser(db, "ada", "User");
  await createTestUser(db, "vic", "Viewer");
  const ci = await createTestToken(db, "ci", "User");
  const ada = await login(app, "ada");
  const root = await login(app, "root");
  /** A dashboard form post as a browser at CLIENT sends it. */
  const form = async (path: string, fields: Record<string, string>, cookie = ada) => {
    clock.advance(1000);
    const res = await app.request(path, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: ORIGIN,
        cookie,
        "user-agent": "audit-test-browser",
      },
      body: new URLSearchParams(fields).toString(),
    }, from);
    await res.body?.cancel();
    return res.status;
  };
  /** An API call with a bearer token. */
  const api = async (method: string, path: string, body?: unknown, token = ci) => {
    clock.advance(1000);
    const res = await app.request(path, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    }, from);
    return { status: res.status, json: await res.json() };
  };
  return { app, clock, form, api, ada, root, ci };
}

async function rows(db: Db): Promise<AuditRow[]> {
  return await db.sql<AuditRow>`
    SELECT id, dttm AS "when", event, owner, actor, dag_id AS "dagId", run_id AS "runId",
      task_id AS "taskId", map_index AS "mapIndex", logical_date AS "logicalDate",
      client_addr AS "clientAddr", extra
    FROM audit_log ORDER BY id`;
}

/** The rows added by `action`, as [event, owner, actor, dag, run, task] tuples. */
async function added(db: Db, action: () => Promise<unknown>) {
  const before = (await rows(db)).length;
  await action();
  return (await rows(db)).slice(before).map((
    r,
  ) => [r.event, r.owner, r.actor, r.dagId, r.runId, r.taskId]);
}

dbTest("every kind of change is recorded with who, what, when and where", async (t, db) => {
  const { app, clock, form, api, ada, root } = await setup(db);
  const RUN = "/api/v2/dags/audited/dagRuns/r1";

  await t.step("the logins that set this up: each a login row", async () => {
    const logins = (await rows(db)).filter((r) => r.event === "login");
    assert.deepEqual(logins.map((r) => r.owner), ["ada", "root"]);
  });

  await t.step("dashboard actions, as the signed-in user", async () => {
    assert.deepEqual(await added(db, () => form(urls.pause("audited"), { paused: "true" })), [
      ["pause", "ada", "user", "audited", null, null],
    ]);
    assert.deepEqual(await added(db, () => form(urls.pause("audited"), { paused: "false" })), [
      ["unpause", "ada", "user", "audited", null, null],
    ]);
    const triggered = await added(db, () => form(urls.trigger("audited"), {}));
    assert.equal(triggered.length, 1);
    assert.deepEqual(triggered[0].slice(0, 4), ["trigger", "ada", "user", "audited"]);
    assert.match(String(triggered[0][4]), /^manual__/);
    assert.deepEqual(
      await added(db, () => form(`${urls.run("audited", "r1")}/mark`, { state: "failed" })),
      [
        ["mark_run", "ada", "user", "audited", "r1", null],
      ],
    );
    assert.deepEqual(await added(db, () => form(`${urls.run("audited", "r1")}/clear`, {})), [
      ["clear", "ada", "user", "audited", "r1", null],
    ]);
    assert.deepEqual(
      await added(
        db,
        () => form(urls.tiAction("audited", "r1", "a", "mark"), { state: "success" }),
      ),
      [["mark_task_instance", "ada", "user", "audited", "r1", "a"]],
    );
    assert.deepEqual(
      await added(db, () => form(urls.tiAction("audited", "r1", "b", "clear"), {})),
      [["clear", "ada", "user", "audited", "r1", "b"]],
    );
  });

  await t.step("the row says when, from where, with which browser", async () => {
    const last = (await rows(db)).at(-1)!;
    assert.equal(new Date(last.when).getTime(), clock.now().getTime());
    assert.equal(last.clientAddr, CLIENT);
    assert.equal(last.extra?.client_addr, CLIENT);
    assert.equal(last.extra?.user_agent, "audit-test-browser");
    assert.equal(last.extra?.auth, "session");
    assert.deepEqual(last.extra?.task_ids, ["b"]);
    assert.equal(last.mapIndex, -1, "one instance: its map index");
  });

  await t.step("API calls, in the API token's name", async () => {
    assert.deepEqual(
      await added(db, () => api("PATCH", "/api/v2/dags/audited", { is_paused: true })),
      [
        ["pause", "ci", "api_token", "audited", null, null],
      ],
    );
    await api("PATCH", "/api/v2/dags/audited", { is_paused: false });
    assert.deepEqual(
      await added(
        db,
        () =>
          api("POST", "/api/v2/dags/audited/dagRuns", { dag_run_id: "by_api", logical_date: null }),
      ),
      [["trigger", "ci", "api_token", "audited", "by_api", null]],
    );
    assert.deepEqual(await added(db, () => api("PATCH", RUN, { state: "success" })), [
      ["mark_run", "ci", "api_token", "audited", "r1", null],
    ]);
    assert.deepEqual(await added(db, () => api("PATCH", RUN, { note: "looked at it" })), [
      ["set_note", "ci", "api_token", "audited", "r1", null],
    ]);
    assert.deepEqual(
      await added(db, () => api("PATCH", `${RUN}/taskInstances/a`, { new_state: "failed" })),
      [["mark_task_instance", "ci", "api_token", "audited", "r1", "a"]],
    );
    assert.deepEqual(await added(db, () => api("PATCH", `${RUN}/taskInstances/a`, { note: "n" })), [
      ["set_note", "ci", "api_token", "audited", "r1", "a"],
    ]);
    assert.deepEqual(await added(db, () => api("POST", `${RUN}/clear`, { dry_run: false })), [
      ["clear", "ci", "api_token", "audited", "r1", null],
    ]);
    assert.deepEqual(
      await added(db, () =>
        api("POST", "/api/v2/dags/audited/clearTaskInstances", {
          dry_run: false,
          only_failed: false,
          dag_run_id: "by_api",
          task_ids: ["a"],
        })),
      [["clear", "ci", "api_token", "audited", "by_api", "a"]],
    );
    const backfill = await added(db, () =>
      api("POST", "/api/v2/backfills", {
        dag_id: "audited",
        from_date: "2025-01-01T00:00:00Z",
        to_date: "2025-01-02T00:00:00Z",
      }));
    assert.deepEqual(backfill, [["backfill", "ci", "api_token", "audited", null, null]]);
  });

  await t.step("a webhook run, in the name of the webhook", async () => {
    const body = JSON.stringify({ order: 1 });
    const ts = String(Math.floor(clock.now().getTime() / 1000));
    const hook = await added(db, async () => {
      const res = await app.request("/webhooks/audited", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-gust-timestamp": ts,
          "x-gust-signature": await signGust(SECRET, ts, body),
        },
        body,
      }, from);
      assert.equal(res.status, 202);
      await res.body?.cancel();
    });
    assert.deepEqual(hook[0].slice(0, 4), ["trigger", "webhook", "webhook", "audited"]);
    assert.match(String(hook[0][4]), /^webhook__/);
  });

  await t.step("users, tokens, passwords and logout", async () => {
    assert.deepEqual(
      await added(
        db,
        () => form("/admin/users", { username: "newbie", role: "Viewer", password: "" }, root),
      ),
      [["user_create", "root", "user", null, null, null]],
    );
    const changes = await added(db, async () => {
      await form("/admin/users/newbie/role", { role: "Op" }, root);
      await form("/admin/users/newbie/password", {}, root);
      await form("/admin/users/newbie/active", { active: "false" }, root);
      await form("/admin/users/newbie/active", { active: "true" }, root);
      await form("/admin/tokens", { name: "deploy", role: "Viewer" }, root);
    });
    assert.deepEqual(changes.map((c) => c[0]), [
      "user_role_change",
      "user_password_reset",
      "user_deactivate",
      "user_activate",
      "token_create",
    ]);
    const [token] = await db.sql<{ id: number }>`SELECT id FROM api_token WHERE name = 'deploy'`;
    assert.deepEqual(await added(db, () => form(`/admin/tokens/${token.id}/revoke`, {}, root)), [
      ["token_revoke", "root", "user", null, null, null],
    ]);
    const own = await added(db, () =>
      form("/account/password", {
        current: TEST_PASSWORD,
        new: "ada's new password",
        confirm: "ada's new password",
      }));
    assert.deepEqual(own, [["password_change", "ada", "user", null, null, null]]);
    const role = (await rows(db)).find((r) => r.event === "user_role_change")!;
    assert.deepEqual(
      { ...role.extra, client_addr: undefined, user_agent: undefined, auth: undefined },
      {
        username: "newbie",
        from: "Viewer",
        to: "Op",
        client_addr: undefined,
        user_agent: undefined,
        auth: undefined,
      },
    );
    assert.deepEqual(await added(db, () => form("/logout", {}, root)), [
      ["logout", "root", "user", null, null, null],
    ]);
  });

  await t.step("failed logins, with the name tried and the address", async () => {
    const failed = await added(db, async () => {
      const res = await app.request("/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
        body: new URLSearchParams({ username: "ada", password: "not it" }).toString(),
      }, from);
      assert.equal(res.status, 401);
      await res.body?.cancel();
    });
    assert.deepEqual(failed, [["login_failed", "ada", "anonymous", null, null, null]]);
    assert.equal((await rows(db)).at(-1)!.clientAddr, CLIENT);
    void ada;
  });
});

dbTest("refused requests and changes that roll back write no row", async (t, db) => {
  const { app, clock, form, api, ci } = await setup(db);
  const count = async () =>
    (await db.sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log`)[0].n;
  const vic = await login(app, "vic");
  const start = await count();

  await t.step("401, 403, 404, 409 and 422 answers record nothing", async () => {
    assert.equal(
      (await api("PATCH", "/api/v2/dags/audited", { is_paused: true }, "nope")).status,
      401,
    );
    assert.equal(await form(urls.pause("audited"), { paused: "true" }, vic), 403);
    assert.equal(
      (await api("POST", "/api/v2/dags/audited/dagRuns", { conf: "x", logical_date: null }, ci))
        .status,
      422,
    );
    assert.equal(
      (await api(
        "POST",
        "/api/v2/dags/audited/dagRuns",
        { dag_run_id: "r1", logical_date: null },
        ci,
      )).status,
      409,
    );
    assert.equal((await api("PATCH", "/api/v2/dags/nope", { is_paused: true }, ci)).status, 404);
    assert.equal(
      (await api("PATCH", "/api/v2/dags/audited", { is_paused: "yes" }, ci)).status,
      422,
    );
    assert.equal(
      (await api("POST", "/auth/users", { username: "x", role: "Admin" }, ci)).status,
      403,
    );
    assert.equal(await count(), start);
  });

  await t.step(
    "what changes nothing records nothing: a dry run, a no-op pause or mark",
    async () => {
      assert.equal(
        (await api("POST", "/api/v2/dags/audited/dagRuns/r1/clear", { dry_run: true })).status,
        200,
      );
      assert.equal((await api("PATCH", "/api/v2/dags/audited", { is_paused: false })).status, 200);
      const mark = await api("PATCH", "/api/v2/dags/audited/dagRuns/r1/taskInstances/a", {
        new_state: "success",
      });
      assert.equal(mark.status, 409, "already success");
      assert.equal(await count(), start);
    },
  );

  await t.step("a change that fails after its row was written leaves neither", async () => {
    const boom = new Error("the change fails after the audit row");
    const runs = async () => (await db.sql`SELECT 1 FROM dag_run`).length;
    const before = await runs();
    await assert.rejects(
      () =>
        triggerRun(db, { dagId: "audited", runId: "doomed", now: new Date() }, async (tx, run) => {
          await insertAudit(tx, {
            when: new Date(),
            event: "trigger",
            owner: "test",
            actor: "user",
            dagId: "audited",
            runId: run.runId,
            clientAddr: null,
            extra: null,
          });
          throw boom;
        }),
      boom,
    );
    assert.equal(await runs(), before, "the run rolled back");
    const [{ id }] = await db.sql<{ id: number }>`SELECT id FROM dag_run WHERE run_id = 'r1'`;
    const [state] = await db.sql<{ s: string }>`SELECT state AS s FROM dag_run WHERE id = ${id}`;
    await assert.rejects(
      () =>
        markRun(db, { dagRunId: id, state: "failed", now: new Date() }, async (tx) => {
          await insertAudit(tx, {
            when: new Date(),
            event: "mark_run",
            owner: "test",
            actor: "user",
            clientAddr: null,
            extra: null,
          });
          throw boom;
        }),
      boom,
    );
    const [after] = await db.sql<{ s: string }>`SELECT state AS s FROM dag_run WHERE id = ${id}`;
    assert.equal(after.s, state.s, "the mark rolled back");
    assert.equal(await count(), start);
  });

  await t.step(
    "a webhook refused inside its transaction (paused DAG) records nothing",
    async () => {
      await db.sql`UPDATE dag SET is_paused = true WHERE dag_id = 'audited'`;
      const body = "{}";
      const ts = String(Math.floor(clock.now().getTime() / 1000));
      const res = await app.request("/webhooks/audited", {
        method: "POST",
        headers: { "x-gust-timestamp": ts, "x-gust-signature": await signGust(SECRET, ts, body) },
        body,
      });
      await res.body?.cancel();
      assert.equal(res.status, 409);
      assert.equal(await count(), start);
    },
  );
});

dbTest(
  "GET /api/v2/eventLogs answers Airflow's EventLog, filtered, ordered, paged",
  async (t, db) => {
    const { app, form, api } = await setup(db);
    await form(urls.pause("audited"), { paused: "true" });
    await form(urls.pause("audited"), { paused: "false" });
    await api("PATCH", "/api/v2/dagRuns/none", {}); // a 404: nothing recorded
    await form(urls.tiAction("audited", "r1", "a", "mark"), { state: "failed" });
    const airflow = await airflowDoc();
    const get = async (query = "", status = 200) => {
      const res = await app.request(`/api/v2/eventLogs${query}`, {
        headers: { authorization: `Bearer ${TEST_LOCAL_TOKEN}` },
      });
      const json = await res.json();
      assert.equal(res.status, status, `${query}: ${JSON.stringify(json)}`);
      // Airflow answers a bad order_by with a 400 it does not document.
      const schema = status === 400
        ? { $ref: "#/components/schemas/HTTPExceptionResponse" }
        : responseSchema(airflow, "get", "/api/v2/eventLogs", status);
      assert.deepEqual(check(airflow, schema, json), [], `${query} against Airflow's document`);
      return json;
    };

    await t.step("all of it, oldest first by default, each entry in Airflow's shape", async () => {
      const all = await get();
      assert.equal(all.total_entries, all.event_logs.length);
      assert.deepEqual(
        all.event_logs.map((e: { event: string }) => e.event),
        ["login", "login", "pause", "unpause", "mark_task_instance"],
      );
      const mark = all.event_logs.at(-1);
      assert.equal(mark.dag_id, "audited");
      assert.equal(mark.run_id, "r1");
      assert.equal(mark.task_id, "a");
      assert.equal(mark.map_index, -1);
      assert.equal(mark.owner, "ada");
      assert.equal(mark.logical_date, null);
      const extra = JSON.parse(mark.extra);
      assert.equal(extra.client_addr, CLIENT);
      assert.equal(extra.state, "failed");
    });

    await t.step("filters: dag_id, owner, event, included and excluded events, dates", async () => {
      assert.equal((await get("?dag_id=audited")).total_entries, 3);
      assert.equal((await get("?owner=root")).total_entries, 1);
      assert.equal((await get("?event=pause")).event_logs[0].event, "pause");
      assert.equal((await get("?included_events=pause&included_events=unpause")).total_entries, 2);
      assert.equal((await get("?excluded_events=login")).total_entries, 3);
      assert.equal((await get("?task_id=a&map_index=-1&run_id=r1")).total_entries, 1);
      const all = (await get()).event_logs;
      const third = all[2].when;
      assert.equal((await get(`?after=${encodeURIComponent(third)}`)).total_entries, 2);
      assert.equal((await get(`?before=${encodeURIComponent(third)}`)).total_entries, 2);
    });

    await t.step("order_by, limit and offset", async () => {
      const newest = await get("?order_by=-when&limit=2");
      assert.equal(newest.total_entries, 5);
      assert.deepEqual(newest.event_logs.map((e: { event: string }) => e.event), [
        "mark_task_instance",
        "unpause",
      ]);
      const next = await get("?order_by=-event_log_id&limit=2&offset=2");
      assert.deepEqual(next.event_logs.map((e: { event: string }) => e.event), ["pause", "login"]);
      const byEvent = await get("?order_by=event");
      assert.deepEqual(
        byEvent.event_logs.map((e: { event: string }) => e.event),
        ["login", "login", "mark_task_instance", "pause", "unpause"],
      );
    });

    await t.step("one entry by id; 404 for none; 400 and 422 for bad parameters", async () => {
      const first = (await get()).event_logs[0];
      const res = await app.request(`/api/v2/eventLogs/${first.event_log_id}`, {
        headers: { authorization: `Bearer ${TEST_LOCAL_TOKEN}` },
      });
      const one = await res.json();
      assert.deepEqual(one, first);
      const entry = responseSchema(airflow, "get", "/api/v2/eventLogs/{event_log_id}", 200);
      assert.deepEqual(check(airflow, entry, one), []);
      const missing = await app.request("/api/v2/eventLogs/99999", {
        headers: { authorization: `Bearer ${TEST_LOCAL_TOKEN}` },
      });
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), {
        detail: "The Event Log with id: `99999` not found",
      });
      const bad = await app.request("/api/v2/eventLogs/abc", {
        headers: { authorization: `Bearer ${TEST_LOCAL_TOKEN}` },
      });
      assert.equal(bad.status, 422);
      await bad.body?.cancel();
      await get("?order_by=password", 400);
      await get("?limit=-1", 422);
      await get("?map_index=x", 422);
    });
  },
);
