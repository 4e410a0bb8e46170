/**
 * Pools through the REST API, in Airflow's shapes: created, resized and deleted with an audit
 * row each, refused with a reason where a change would strand tasks, counted by what their task
 * instances hold, and read by the scheduler as soon as they change.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { queueTasks } from "../scheduler/queue_tasks.ts";
import { Client } from "./api_client.ts";
import { adminApp } from "./auth_helpers.ts";
import { dbTest } from "./helpers.ts";
import { airflowDoc } from "./openapi_check.ts";
import { fakeDag, storeFakeRun, task } from "./ui_helpers.ts";

const POOLS = "/api/v2/pools";
const POOL = `${POOLS}/{pool_name}`;

async function client(db: Db): Promise<Client> {
  const app = adminApp({ db, roles: [], startedAt: new Date() });
  const gustDoc = await (await app.request("/api/v2/openapi.json")).json();
  return new Client(app, await airflowDoc(), gustDoc);
}

/** A run of three one-slot tasks in `pool`, all scheduled; returns the run's id. */
async function scheduledRun(db: Db, pool: string, runId = "r1"): Promise<number> {
  const dag = fakeDag("pooled", { tasks: ["a", "b", "c"].map((id) => task(id, { pool })) });
  const dagRunId = await storeFakeRun(db, dag, runId);
  await db.sql`UPDATE task_instance SET state = 'scheduled' WHERE dag_run_id = ${dagRunId}`;
  return dagRunId;
}

const auditEvents = (db: Db) =>
  db.sql<{ event: string; extra: Record<string, unknown> }>`
    SELECT event, extra FROM audit_log WHERE event LIKE 'pool_%' ORDER BY id`;

dbTest(
  "pools are created, resized and deleted through the API, each change audited",
  async (t, db) => {
    const api = await client(db);

    await t.step("the default pool is there, with Airflow's 128 slots", async () => {
      const all = await api.call("GET", POOLS);
      assert.equal(all.total_entries, 1);
      assert.deepEqual(all.pools[0], {
        name: "default_pool",
        slots: 128,
        description: "Default pool",
        include_deferred: false,
        occupied_slots: 0,
        running_slots: 0,
        queued_slots: 0,
        scheduled_slots: 0,
        open_slots: 128,
        deferred_slots: 0,
      });
    });

    await t.step("POST creates a pool; the same name again is 409", async () => {
      const made = await api.call("POST", POOLS, {
        body: { name: "api_calls", slots: 3, description: "Rate-limited vendor API" },
        status: 201,
      });
      assert.equal(made.name, "api_calls");
      assert.equal(made.slots, 3);
      assert.equal(made.open_slots, 3);
      const again = await api.call("POST", POOLS, {
        body: { name: "api_calls", slots: 5 },
        status: 409,
      });
      assert.match(again.detail, /api_calls.*already exists/);
      assert.equal((await api.call("GET", POOL, { params: { pool_name: "api_calls" } })).slots, 3);
    });

    await t.step("a bad body is 422 naming the field", async () => {
      const cases: [unknown, string][] = [
        [{ name: "has space", slots: 1 }, "name"],
        [{ name: "p", slots: -2 }, "slots"],
        [{ name: "p", slots: 1.5 }, "slots"],
        [{ name: "p" }, "slots"],
        [{ name: "p", slots: 1, include_deferred: true }, "include_deferred"],
        [{ name: "p", slots: 1, extra: 1 }, ""],
      ];
      for (const [body, field] of cases) {
        const res = await api.call("POST", POOLS, { body, status: 422 });
        const locs = res.detail.map((d: { loc: string[] }) => d.loc.join("."));
        assert.ok(locs.some((l: string) => l.startsWith(`body.${field}`.replace(/\.$/, ""))), locs);
      }
      assert.equal((await api.call("GET", POOLS)).total_entries, 2, "none of them was created");
    });

    await t.step("PATCH changes slots and description; update_mask picks the fields", async () => {
      const resized = await api.call("PATCH", POOL, {
        params: { pool_name: "api_calls" },
        body: { slots: 10 },
      });
      assert.equal(resized.slots, 10);
      assert.equal(resized.description, "Rate-limited vendor API", "untouched without the field");
      const masked = await api.call("PATCH", POOL, {
        params: { pool_name: "api_calls" },
        query: "update_mask=description",
        body: { slots: 99, description: "Vendor API" },
      });
      assert.equal(masked.slots, 10, "slots are not in the mask");
      assert.equal(masked.description, "Vendor API");
      const unlimited = await api.call("PATCH", POOL, {
        params: { pool_name: "default_pool" },
        body: { slots: -1 },
      });
      assert.equal(unlimited.slots, -1);
      assert.equal(unlimited.open_slots, -1);
    });

    await t.step("PATCH refuses a rename, an unknown field and a missing pool", async () => {
      const renamed = await api.call("PATCH", POOL, {
        params: { pool_name: "api_calls" },
        body: { pool: "vendor" },
        status: 400,
      });
      assert.match(renamed.detail, /cannot be renamed/);
      const same = await api.call("PATCH", POOL, {
        params: { pool_name: "api_calls" },
        body: { pool: "api_calls", slots: 11 },
      });
      assert.equal(same.slots, 11, "its own name is not a rename");
      const unknown = await api.call("PATCH", POOL, {
        params: { pool_name: "api_calls" },
        query: "update_mask=name",
        body: { slots: 1 },
        status: 400,
      });
      assert.match(unknown.detail, /not name/);
      const nullSlots = await api.call("PATCH", POOL, {
        params: { pool_name: "api_calls" },
        body: { slots: null },
        status: 400,
      });
      assert.match(nullSlots.detail, /slots must be given/);
      await api.call("PATCH", POOL, {
        params: { pool_name: "nowhere" },
        body: { slots: 1 },
        status: 404,
      });
    });

    await t.step("DELETE refuses the default pool and a pool in use, then deletes", async () => {
      const dflt = await api.call("DELETE", POOL, {
        params: { pool_name: "default_pool" },
        status: 400,
      });
      assert.equal(dflt.detail, "Default Pool can't be deleted");
      const dagRunId = await scheduledRun(db, "api_calls");
      const busy = await api.call("DELETE", POOL, {
        params: { pool_name: "api_calls" },
        status: 400,
      });
      assert.match(busy.detail, /3 task instance\(s\) scheduled, queued or running/);
      await db.sql`UPDATE task_instance SET state = 'success' WHERE dag_run_id = ${dagRunId}`;
      await api.call("DELETE", POOL, { params: { pool_name: "api_calls" }, status: 204 });
      await api.call("GET", POOL, { params: { pool_name: "api_calls" }, status: 404 });
      await api.call("DELETE", POOL, { params: { pool_name: "api_calls" }, status: 404 });
    });

    await t.step("each change left one audit row, and the refused ones none", async () => {
      const events = await auditEvents(db);
      assert.deepEqual(events.map((e) => e.event), [
        "pool_create",
        "pool_update",
        "pool_update",
        "pool_update",
        "pool_update",
        "pool_delete",
      ]);
      assert.equal(events[0].extra.pool, "api_calls");
      assert.equal(events[0].extra.slots, 3);
      assert.equal(events[1].extra.from_slots, 3);
      assert.equal(events[1].extra.slots, 10);
    });
  },
);

dbTest("a pool's slots count what its task instances hold and wait for", async (_t, db) => {
  const api = await client(db);
  await api.call("POST", POOLS, { body: { name: "wide", slots: 10 }, status: 201 });
  const dag = fakeDag("counted", {
    tasks: [
      task("runs", { pool: "wide", poolSlots: 3 }),
      task("queued", { pool: "wide", poolSlots: 2 }),
      task("waits", { pool: "wide" }),
      task("done", { pool: "wide", poolSlots: 4 }),
    ],
  });
  const dagRunId = await storeFakeRun(db, dag, "r1");
  await db.sql`UPDATE task_instance SET state = CASE task_id WHEN 'runs' THEN 'running'
    WHEN 'queued' THEN 'queued' WHEN 'waits' THEN 'scheduled' ELSE 'success' END
    WHERE dag_run_id = ${dagRunId}`;
  const wide = await api.call("GET", POOL, { params: { pool_name: "wide" } });
  assert.deepEqual(
    [wide.running_slots, wide.queued_slots, wide.scheduled_slots, wide.occupied_slots],
    [3, 2, 1, 5],
  );
  assert.equal(wide.open_slots, 5);
  const cut = await api.call("PATCH", POOL, { params: { pool_name: "wide" }, body: { slots: 2 } });
  assert.equal(cut.open_slots, 0, "cut below what is held: none open, not a negative count");
  await api.call("PATCH", POOL, { params: { pool_name: "wide" }, body: { slots: 10 } });
  const found = await api.call("GET", POOLS, { query: "pool_name_pattern=WID&order_by=-slots" });
  assert.deepEqual(found.pools.map((p: { name: string }) => p.name), ["wide"]);
  const ordered = await api.call("GET", POOLS, { query: "order_by=-slots" });
  assert.deepEqual(ordered.pools.map((p: { name: string }) => p.name), ["default_pool", "wide"]);
  const paged = await api.call("GET", POOLS, { query: "limit=1&offset=1" });
  assert.deepEqual(paged.pools.map((p: { name: string }) => p.name), ["wide"]);
  assert.equal(paged.total_entries, 2);
  await api.call("GET", POOLS, { query: "order_by=occupied", status: 400 });
});

dbTest("the scheduler queues into the slots a pool was just given", async (_t, db) => {
  const api = await client(db);
  await api.call("POST", POOLS, { body: { name: "narrow", slots: 1 }, status: 201 });
  const dagRunId = await scheduledRun(db, "narrow");
  const queued = () =>
    db.sql<{ n: number }>`
      SELECT count(*)::int AS n FROM task_instance
      WHERE dag_run_id = ${dagRunId} AND state = 'queued'`.then(([r]) => r.n);
  await queueTasks(db, new Date());
  assert.equal(await queued(), 1, "one slot, one queued");
  await api.call("PATCH", POOL, { params: { pool_name: "narrow" }, body: { slots: 3 } });
  await queueTasks(db, new Date());
  assert.equal(await queued(), 3, "all three once the pool has three slots");
});
