/**
 * A database that goes away and comes back (a restart, a failover, a network cut) while tasks
 * run: a worker that finishes a task meanwhile keeps its outcome and records it once the database
 * answers again, and nothing runs twice. The worker reaches Postgres through a TCP proxy that the
 * test cuts: every connection reset, new ones refused, for longer than a commit takes.
 */
import assert from "node:assert/strict";
import { postgresDb } from "../db/client.ts";
import { triggerRun } from "../scheduler/trigger_run.ts";
import { dagFolder, loadDags, openTestDb, taskStates, testWorker } from "./helpers.ts";

const HAS_POSTGRES = Boolean(Deno.env.get("TEST_DATABASE_URL"));

/** Forwards a local port to Postgres; `cut` resets every connection and refuses new ones. */
function startProxy(target: { hostname: string; port: number }) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let refuseUntil = 0;
  (async () => {
    for await (const client of listener) {
      if (Date.now() < refuseUntil) {
        client.close();
        continue;
      }
      const server = await Deno.connect(target).catch(() => null);
      if (!server) {
        client.close();
        continue;
      }
      open.add(client).add(server);
      const close = () => {
        for (const c of [client, server]) {
          open.delete(c);
          try {
            c.close();
          } catch { /* closed already */ }
        }
      };
      client.readable.pipeTo(server.writable).catch(() => {}).finally(close);
      server.readable.pipeTo(client.writable).catch(() => {}).finally(close);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut(ms: number) {
      refuseUntil = Date.now() + ms;
      for (const c of [...open]) {
        try {
          c.close();
        } catch { /* closed already */ }
      }
      open.clear();
    },
    close() {
      listener.close();
      this.cut(0);
    },
  };
}

Deno.test({
  name: "a task that ends while the database is away is recorded once it is back, and runs once",
  ignore: !HAS_POSTGRES,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const info = await openTestDb("postgres");
    const url = new URL(info.url!);
    const proxy = startProxy({ hostname: url.hostname, port: Number(url.port || 5432) });
    const viaProxy = new URL(info.url!);
    viaProxy.port = String(proxy.port);
    const workerDb = postgresDb(viaProxy.toString(), { max: 4 });
    const folder = await dagFolder({
      "slow.ts": `
        import { dag } from "gust";
        export default dag({ id: "slow" }, (t) => {
          t.task("work", async () => {
            await new Promise((r) => setTimeout(r, 800));
            return 42;
          });
        });
      `,
    });
    const { runners, worker } = testWorker(workerDb, folder, { concurrency: 1 });
    try {
      await loadDags(info.db, folder, new Date());
      const { dagRunId } = await triggerRun(info.db, { dagId: "slow", now: new Date() });
      assert.equal(await worker.claim(), 1);
      await new Promise((r) => setTimeout(r, 200));
      proxy.cut(1500); // the task ends 600 ms into the outage
      await worker.drain();
      assert.deepEqual(await taskStates(info.db, dagRunId), { work: "success" });
      const [ti] = await info.db.sql<{ tries: number; recorded: number; value: unknown }>`
        SELECT ti.try_number AS tries, (SELECT count(*)::int FROM task_try t WHERE t.ti_id = ti.id) AS recorded,
          x.value
        FROM task_instance ti JOIN xcom x ON x.ti_id = ti.id WHERE ti.dag_run_id = ${dagRunId}`;
      assert.deepEqual(ti, { tries: 1, recorded: 1, value: 42 });
      const [run] = await info.db.sql<{ state: string }>`
        SELECT state FROM dag_run WHERE id = ${dagRunId}`;
      assert.equal(run.state, "success");
    } finally {
      worker.stop();
      await runners.close();
      await workerDb.close();
      proxy.close();
      await info.close();
      await Deno.remove(folder, { recursive: true });
    }
  },
});

Deno.test({
  name: "a worker whose commit loses its connection mid-transaction commits the outcome again",
  ignore: !HAS_POSTGRES,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const info = await openTestDb("postgres");
    const workerDb = postgresDb(info.url!, { max: 4 });
    const folder = await dagFolder({
      "quick.ts": `
        import { dag } from "gust";
        export default dag({ id: "quick" }, (t) => {
          t.task("work", async () => {
            await new Promise((r) => setTimeout(r, 500));
            return "kept";
          });
        });
      `,
    });
    const { runners, worker } = testWorker(workerDb, folder, { concurrency: 1 });
    let unlock = () => {};
    try {
      await loadDags(info.db, folder, new Date());
      const { dagRunId } = await triggerRun(info.db, { dagId: "quick", now: new Date() });
      assert.equal(await worker.claim(), 1);
      // Hold the task instance's row, so the worker's completion waits inside its transaction.
      const holding = info.db.begin(async (tx) => {
        await tx`SELECT 1 FROM task_instance WHERE dag_run_id = ${dagRunId} FOR UPDATE`;
        await new Promise<void>((r) => (unlock = r));
      });
      const done = worker.drain();
      let victim: number | null = null;
      for (let i = 0; i < 200 && victim === null; i++) {
        await new Promise((r) => setTimeout(r, 25));
        const [row] = await info.db.sql<{ pid: number }>`
          SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'
            AND query LIKE '%task_instance%'`;
        victim = row?.pid ?? null;
      }
      assert.ok(victim, "the completion waits inside its transaction");
      await info.db.sql`SELECT pg_terminate_backend(${victim})`;
      unlock();
      await holding;
      await done;
      assert.deepEqual(await taskStates(info.db, dagRunId), { work: "success" });
      const [ti] = await info.db.sql<{ tries: number; value: unknown }>`
        SELECT ti.try_number AS tries, x.value FROM task_instance ti
        JOIN xcom x ON x.ti_id = ti.id WHERE ti.dag_run_id = ${dagRunId}`;
      assert.deepEqual(ti, { tries: 1, value: "kept" });
    } finally {
      unlock();
      worker.stop();
      await runners.close();
      await workerDb.close();
      await info.close();
      await Deno.remove(folder, { recursive: true });
    }
  },
});
