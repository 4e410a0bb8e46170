/**
 * Several schedulers under real faults: three scheduler processes and a worker run a steady
 * load of scheduled runs while the test kills the leader (SIGKILL), freezes it (SIGSTOP, then
 * SIGCONT) and terminates its connection from the database side. Afterwards the database must
 * show every expected run exactly once, every task finished, and no two tries of one task
 * overlapping. Needs a Postgres server (TEST_DATABASE_URL).
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { dagFolder, openTestDb } from "./helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const HAS_POSTGRES = Boolean(Deno.env.get("TEST_DATABASE_URL"));
const DAG_COUNT = 4;
const MINUTES = 30;
const LEASE_MS = 3000;

// Minute schedules with catchup from half an hour ago: the leader keeps creating runs (bounded
// by maxActiveRuns) for the whole test, so leadership matters while faults happen.
function dags(start: Date): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < DAG_COUNT; i++) {
    files[`load_${i}.ts`] = `
import { dag } from "gust";
export default dag({
  id: "load_${i}", schedule: "* * * * *", startDate: "${start.toISOString()}",
  catchup: true, maxActiveRuns: 4,
}, (t) => {
  const a = t.task("a", { retries: 3, retryDelay: 0 }, async () => {
    await new Promise((r) => setTimeout(r, 20));
    return 1;
  });
  t.task("b", { inputs: { n: a }, retries: 3, retryDelay: 0 }, (_ctx, { n }) => n + 1);
});
`;
  }
  return files;
}

interface Proc {
  child: Deno.ChildProcess;
  pid: number;
}

function spawn(env: Record<string, string>, role: string): Proc {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-worker-options",
      `--config=${ROOT}deno.json`,
      `${ROOT}main.ts`,
      "--role",
      role,
    ],
    env: { ...env, NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  return { child, pid: child.pid };
}

async function lease(
  db: Db,
): Promise<{ holder: string | null; epoch: number; pid: number | null }> {
  const [row] = await db.sql<{ holder: string | null; epoch: number; pid: number | null }>`
    SELECT holder, epoch::int AS epoch, backend_pid AS pid FROM scheduler_lease WHERE name = 'leader'`;
  return row;
}

/** Waits until a leader other than `previousEpoch` holds a live lease; returns ms waited. */
async function waitForNewLeader(db: Db, previousEpoch: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const [row] = await db.sql<{ epoch: number; live: boolean }>`
      SELECT epoch::int AS epoch, expires_at > now() AS live FROM scheduler_lease WHERE name = 'leader'`;
    if (row.epoch > previousEpoch && row.live) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`No new leader within ${timeoutMs} ms`);
}

const leaderPid = (holder: string | null) => Number(holder?.split(":")[1]);

Deno.test({
  name:
    "three schedulers under SIGKILL, SIGSTOP and pg_terminate_backend lose and duplicate nothing",
  ignore: !HAS_POSTGRES,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const info = await openTestDb("postgres");
    const db = info.db;
    const start = new Date(Math.floor(Date.now() / 60_000) * 60_000 - MINUTES * 60_000);
    const folder = await dagFolder(dags(start));
    const env = {
      DATABASE_URL: info.url!,
      GUST_DAGS_FOLDER: folder,
      GUST_SCHEDULER_LEASE: `${LEASE_MS}ms`,
      GUST_LEASE: "3s",
      GUST_WORKER_CONCURRENCY: "8",
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
    };
    const schedulers = new Map<number, Proc>();
    const addScheduler = () => {
      const p = spawn(env, "scheduler");
      schedulers.set(p.pid, p);
    };
    for (let i = 0; i < 3; i++) addScheduler();
    const worker = spawn(env, "worker");
    const failovers: Record<string, number[]> = { sigkill: [], sigstop: [], terminate_backend: [] };
    try {
      let current = await (async () => {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const l = await lease(db);
          if (l.holder) return l;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error("No scheduler became leader");
      })();

      for (let round = 0; round < 2; round++) {
        // SIGKILL: the lock goes with the process; a standby must lead within 5 s.
        let pid = leaderPid(current.holder);
        schedulers.get(pid)!.child.kill("SIGKILL");
        await schedulers.get(pid)!.child.status;
        schedulers.delete(pid);
        const killed = await waitForNewLeader(db, current.epoch, 5000);
        failovers.sigkill.push(killed);
        addScheduler();
        current = await lease(db);
        await new Promise((r) => setTimeout(r, 1500));

        // SIGSTOP: the frozen leader keeps its lock; a standby evicts it once the lease expires.
        pid = leaderPid(current.holder);
        const frozen = schedulers.get(pid)!;
        frozen.child.kill("SIGSTOP");
        const stopped = await waitForNewLeader(db, current.epoch, LEASE_MS + 5000);
        failovers.sigstop.push(stopped);
        frozen.child.kill("SIGCONT"); // it must find it no longer leads
        current = await lease(db);
        await new Promise((r) => setTimeout(r, 1500));

        // The database ends the leader's connection: it loses the lock and must step down.
        await db.sql`SELECT pg_terminate_backend(${current.pid})`;
        const terminated = await waitForNewLeader(db, current.epoch, LEASE_MS + 5000);
        failovers.terminate_backend.push(terminated);
        current = await lease(db);
        await new Promise((r) => setTimeout(r, 1500));
      }
      console.log(
        "failover ms:",
        JSON.stringify(failovers, (_k, v) => typeof v === "number" ? Math.round(v) : v),
      );
      for (const ms of failovers.sigkill) assert.ok(ms < 5000, `SIGKILL failover took ${ms} ms`);

      // Let the load finish: every interval up to the start of the test has its run, all done.
      const expectedPerDag = MINUTES;
      const deadline = Date.now() + 120_000;
      while (true) {
        const [state] = await db.sql<{ finished: number; open: number }>`
          SELECT count(*) FILTER (WHERE state IN ('success', 'failed') AND logical_date < ${new Date(
          start.getTime() + MINUTES * 60_000,
        )})::int AS finished,
            count(*) FILTER (WHERE state IN ('queued', 'running'))::int AS open
          FROM dag_run`;
        if (state.finished >= DAG_COUNT * expectedPerDag) break;
        if (Date.now() > deadline) throw new Error(`Load did not finish: ${JSON.stringify(state)}`);
        await new Promise((r) => setTimeout(r, 250));
      }

      const perDag = await db.sql<
        { dagId: string; runs: number; distinctDates: number; first: Date }
      >`
        SELECT dag_id AS "dagId", count(*)::int AS runs, count(DISTINCT logical_date)::int AS "distinctDates",
          min(logical_date) AS first
        FROM dag_run WHERE logical_date < ${new Date(start.getTime() + MINUTES * 60_000)}
        GROUP BY dag_id ORDER BY dag_id`;
      assert.equal(perDag.length, DAG_COUNT);
      for (const d of perDag) {
        assert.equal(d.runs, expectedPerDag, `${d.dagId}: one run per minute`);
        assert.equal(d.distinctDates, expectedPerDag, `${d.dagId}: no logical date twice`);
        assert.equal(d.first.getTime(), start.getTime());
      }
      const [unfinished] = await db.sql<{ n: number }>`
        SELECT count(*)::int AS n FROM task_instance ti JOIN dag_run r ON r.id = ti.dag_run_id
        WHERE r.state IN ('success', 'failed')
          AND (ti.state IS NULL OR ti.state NOT IN ('success', 'failed', 'skipped', 'upstream_failed', 'removed'))`;
      assert.equal(unfinished.n, 0, "every task of a finished run is in a final state");
      const [failedRuns] = await db.sql<{ n: number }>`
        SELECT count(*)::int AS n FROM dag_run WHERE state = 'failed'`;
      assert.equal(failedRuns.n, 0, "no run failed");
      const [overlaps] = await db.sql<{ n: number }>`
        SELECT count(*)::int AS n FROM task_try a JOIN task_try b
          ON a.ti_id = b.ti_id AND a.try_number < b.try_number
        WHERE b.start_date < COALESCE(a.end_date, 'infinity')`;
      assert.equal(overlaps.n, 0, "no two tries of one task overlapped");
    } finally {
      for (const p of schedulers.values()) {
        p.child.kill("SIGCONT");
        p.child.kill("SIGKILL");
      }
      worker.child.kill("SIGKILL");
      await Promise.all([...schedulers.values(), worker].map((p) => p.child.status));
      await info.close();
      await Deno.remove(folder, { recursive: true });
    }
  },
});
