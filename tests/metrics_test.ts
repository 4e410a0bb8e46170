/**
 * `/metrics` as Prometheus scrapes it: the live work and the DAGs read from the database, this
 * process's requests, a bearer token required, and an answer still when the database is gone.
 */
import assert from "node:assert/strict";
import { postgresDb } from "../db/client.ts";
import { createApp } from "../routes/mod.ts";
import { adminApp, createTestToken, testAuth } from "./auth_helpers.ts";
import { dagFolder, dbTest, loadDags } from "./helpers.ts";
import { WorkerService } from "../worker/service.ts";

const DAGS = {
  "metrics_dags.ts": `
import { dag } from "gust";
export const two = dag({ id: "metrics_two" }, (t) => {
  const first = t.task("first", () => 1);
  t.task("second", { dependsOn: [first] }, () => 2);
});
export const idle = dag({ id: "metrics_idle" }, (t) => {
  t.task("only", () => 0);
});
`,
};

/** Samples by name and labels: `gust_dag_runs{state="running"}` -> 1. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    const value = line.slice(space + 1);
    samples.set(line.slice(0, space), value === "+Inf" ? Infinity : Number(value));
  }
  return samples;
}

dbTest("/metrics counts the live work, the DAGs and this process's requests", async (_t, db) => {
  const folder = await dagFolder(DAGS);
  await loadDags(db, folder, new Date());
  // The worker of an all-in-one process (not started: its figures are all zero).
  const worker = new WorkerService({
    db,
    dagsFolder: folder,
    workerId: "metrics-test",
    hostname: "localhost",
    queues: ["default"],
    concurrency: 3,
    leaseMs: 60_000,
    maxResultBytes: 1024,
    runnerMemoryMb: 64,
    env: {},
  });
  const app = adminApp({
    db,
    roles: ["web", "scheduler", "worker"],
    startedAt: new Date(),
    process: { worker },
  });
  try {
    const trigger = await app.request("/api/v2/dags/metrics_two/dagRuns", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ logical_date: null }),
    });
    assert.equal(trigger.status, 200, await trigger.clone().text());
    const pause = await app.request("/api/v2/dags/metrics_idle", {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ is_paused: true }),
    });
    assert.equal(pause.status, 200);

    // A leading scheduler that heartbeats, and one that went silent an hour ago.
    await db.sql`
      INSERT INTO scheduler_instance (id, hostname, pid, started_at, last_heartbeat, is_leader)
      VALUES ('live', 'h1', 1, now(), now(), true),
        ('gone', 'h2', 2, now() - interval '2 hours', now() - interval '1 hour', false)`;
    const res = await app.request("/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /# TYPE gust_task_instances gauge/);
    const m = parse(text);
    assert.equal(m.get("gust_database_up"), 1);
    // The trigger started the run and queued its root task; the second waits for it.
    assert.equal(m.get('gust_dag_runs{state="running"}'), 1);
    assert.equal(m.get('gust_dag_runs{state="queued"}'), 0);
    assert.equal(m.get('gust_task_instances{state="queued"}'), 1);
    assert.equal(m.get('gust_task_instances{state="running"}'), 0);
    assert.equal(
      m.get('gust_task_instances_by_queue{state="queued",queue="default",pool="default_pool"}'),
      1,
    );
    assert.equal(m.get('gust_pool_slots{pool="default_pool",state="queued"}'), 1);
    assert.equal(m.get('gust_pool_slots{pool="default_pool",state="open"}'), 127);
    assert.equal(m.get('gust_dags{state="active"}'), 1);
    assert.equal(m.get('gust_dags{state="paused"}'), 1);
    assert.equal(m.get("gust_dag_import_errors"), 0);
    assert.equal(m.get("gust_schedulers_alive"), 1);
    assert.equal(m.get("gust_scheduler_leader_alive"), 1);
    assert.ok(m.get("gust_scheduler_leader_heartbeat_age_seconds")! < 60);
    assert.equal(m.get('gust_info{roles="web,scheduler,worker"}'), 1);
    assert.equal(m.get("gust_worker_concurrency"), 3);
    assert.equal(m.get('gust_worker_tries_ended_total{outcome="success"}'), 0);
    assert.ok(m.get("gust_process_resident_memory_bytes")! > 0);
    // Requests counted per route pattern, not per path.
    const triggered =
      'gust_http_requests_total{method="POST",route="/api/v2/dags/:dag_id/dagRuns",status="200"}';
    assert.equal(m.get(triggered), 1, text);
    assert.equal(
      m.get(
        'gust_http_request_duration_seconds_count{method="PATCH",route="/api/v2/dags/:dag_id",status="200"}',
      ),
      1,
    );
  } finally {
    await worker.stop(0);
  }
});

dbTest("/metrics needs a bearer token with read access", async (_t, db) => {
  const app = createApp({ db, roles: ["web"], startedAt: new Date(), auth: testAuth() });
  const anonymous = await app.request("/metrics");
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get("www-authenticate"), "Bearer");
  const wrong = await app.request("/metrics", { headers: { authorization: "Bearer gust_nope" } });
  assert.equal(wrong.status, 401);
  const token = await createTestToken(db, "prometheus", "Viewer");
  const viewer = await app.request("/metrics", { headers: { authorization: `Bearer ${token}` } });
  assert.equal(viewer.status, 200);
  assert.equal(parse(await viewer.text()).get("gust_database_up"), 1);
});

Deno.test("/metrics answers with gust_database_up 0 when the database does not", async () => {
  // A real client to a port where nothing listens: every statement fails to connect.
  const db = postgresDb("postgres://gust@127.0.0.1:9/none", { max: 1 });
  const app = adminApp({ db, roles: ["web"], startedAt: new Date() });
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    const res = await app.request("/metrics");
    assert.equal(res.status, 200);
    const m = parse(await res.text());
    assert.equal(m.get("gust_database_up"), 0);
    assert.equal(m.get('gust_task_instances{state="queued"}'), undefined);
    assert.ok(m.get("gust_process_start_time_seconds")! > 0);
    assert.equal(errors.length, 1);
  } finally {
    console.error = original;
    await db.close();
  }
});

Deno.test({
  name:
    "/health and /metrics answer within seconds when the database host accepts and says nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // A real listener that takes the connection and never answers the client's first message.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    (async () => {
      for await (const conn of listener) held.push(conn);
    })().catch(() => {});
    const db = postgresDb(`postgres://gust@127.0.0.1:${listener.addr.port}/silent`, { max: 1 });
    const app = adminApp({ db, roles: ["web"], startedAt: new Date() });
    const original = console.error;
    console.error = () => {};
    try {
      let started = performance.now();
      const health = await app.request("/health");
      assert.equal(health.status, 503);
      const body = await health.json();
      assert.equal(body.database.status, "unhealthy");
      assert.match(body.database.error, /did not answer within 3 s/);
      assert.ok(performance.now() - started < 10_000);
      started = performance.now();
      const res = await app.request("/metrics");
      assert.equal(res.status, 200);
      assert.equal(parse(await res.text()).get("gust_database_up"), 0);
      assert.ok(performance.now() - started < 10_000);
    } finally {
      console.error = original;
      listener.close();
      for (const conn of held) conn.close();
      await db.close().catch(() => {});
    }
  },
});
