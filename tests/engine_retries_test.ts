/**
 * Retries end to end, on an injected clock: the wait before each try, the number of tries, and
 * the callbacks that run on a retry, a final failure and a success. Nothing sleeps: the test
 * moves the clock whenever the run can only wait for a retry.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { dagFolder, dbTest, startEngine, taskLog, TestClock } from "./helpers.ts";

const DAGS = {
  "backoff.ts": `
    import { dag } from "gust";
    export default dag({ id: "backoff" }, (t) => {
      t.task("flaky", {
        retries: 3,
        retryDelay: "10s",
        retryExponentialBackoff: true,
        maxRetryDelay: "25s",
        onRetry: (ctx) => ctx.log.warn("onRetry after try " + ctx.tryNumber + ": " + ctx.error?.message),
        onFailure: (ctx) => ctx.log.error("onFailure after try " + ctx.tryNumber + ": " + ctx.error?.message),
      }, (ctx) => {
        throw new Error("try " + ctx.tryNumber + " failed");
      });
    });
  `,
  "second_try.ts": `
    import { dag } from "gust";
    export default dag({ id: "second_try" }, (t) => {
      t.task("flaky", {
        retries: 2,
        retryDelay: "30s",
        onRetry: (ctx) => ctx.log.warn("onRetry after try " + ctx.tryNumber),
        onFailure: (ctx) => ctx.log.error("onFailure after try " + ctx.tryNumber),
        onSuccess: (ctx) => ctx.log.info("onSuccess after try " + ctx.tryNumber),
      }, (ctx) => {
        if (ctx.tryNumber < 2) throw new Error("not yet");
        return "done on try " + ctx.tryNumber;
      });
    });
  `,
};

interface TiRow {
  state: string;
  tryNumber: number;
  endDate: Date | null;
  nextRetryAt: Date | null;
}

async function flaky(db: Db, dagRunId: number): Promise<TiRow> {
  const [row] = await db.sql<TiRow>`
    SELECT state, try_number AS "tryNumber", end_date AS "endDate", next_retry_at AS "nextRetryAt"
    FROM task_instance WHERE dag_run_id = ${dagRunId} AND task_id = 'flaky'`;
  return row;
}

async function tries(db: Db, dagRunId: number) {
  return await db.sql<{ tryNumber: number; state: string; startDate: Date; endDate: Date }>`
    SELECT tt.try_number AS "tryNumber", tt.state, tt.start_date AS "startDate",
      tt.end_date AS "endDate"
    FROM task_try tt JOIN task_instance ti ON ti.id = tt.ti_id
    WHERE ti.dag_run_id = ${dagRunId} AND ti.task_id = 'flaky' ORDER BY tt.try_number`;
}

const latestRun = async (db: Db) =>
  (await db.sql<{ id: number }>`SELECT max(id) AS id FROM dag_run`)[0].id;

dbTest(
  "failed tries wait the doubled delay, capped by maxRetryDelay, then fail with callbacks",
  async (_t, db) => {
    const clock = new TestClock();
    const engine = await startEngine(db, await dagFolder(DAGS), { clock });
    try {
      const waits: { tryNumber: number; delayMs: number }[] = [];
      const seen = new Set<number>();
      const { dagRunId, state } = await engine.run("backoff", {
        async onIdle(next) {
          const ti = await flaky(db, await latestRun(db));
          assert.equal(ti.state, "up_for_retry");
          assert.ok(next && ti.nextRetryAt && ti.endDate);
          assert.equal(next.getTime(), ti.nextRetryAt.getTime());
          if (!seen.has(ti.tryNumber)) {
            // First stop after this try: record its wait, then go to 1 ms before it is over.
            // If the retry started early, the next stop would see a new try number.
            seen.add(ti.tryNumber);
            waits.push({ tryNumber: ti.tryNumber, delayMs: next.getTime() - ti.endDate.getTime() });
            clock.set(new Date(next.getTime() - 1));
          } else {
            clock.set(next);
          }
        },
      });
      assert.equal(state, "failed");
      assert.deepEqual(waits, [
        { tryNumber: 1, delayMs: 10_000 },
        { tryNumber: 2, delayMs: 20_000 },
        { tryNumber: 3, delayMs: 25_000 }, // 40 s doubled, capped at 25 s
      ]);
      const ti = await flaky(db, dagRunId);
      assert.equal(ti.state, "failed");
      assert.equal(ti.tryNumber, 4);
      assert.equal(ti.nextRetryAt, null);

      // Each try starts exactly when the previous one's wait is over.
      const rows = await tries(db, dagRunId);
      assert.deepEqual(rows.map((r) => [r.tryNumber, r.state]), [
        [1, "failed"],
        [2, "failed"],
        [3, "failed"],
        [4, "failed"],
      ]);
      const gaps = rows.slice(1).map((r, i) => r.startDate.getTime() - rows[i].endDate.getTime());
      assert.deepEqual(gaps, [10_000, 20_000, 25_000]);

      for (const n of [1, 2, 3]) {
        const log = await taskLog(db, dagRunId, "flaky", n);
        assert.ok(log.includes(`onRetry after try ${n}: try ${n} failed`), log.join("\n"));
        assert.ok(!log.some((l) => l.startsWith("onFailure")));
      }
      const last = await taskLog(db, dagRunId, "flaky", 4);
      assert.ok(last.includes("onFailure after try 4: try 4 failed"), last.join("\n"));
      assert.ok(!last.some((l) => l.startsWith("onRetry")));
    } finally {
      await engine.close();
    }
  },
);

dbTest(
  "a task that fails once succeeds on its retry after the fixed delay, running onRetry then onSuccess",
  async (_t, db) => {
    const clock = new TestClock();
    const engine = await startEngine(db, await dagFolder(DAGS), { clock });
    try {
      const delays: number[] = [];
      const { dagRunId, state } = await engine.run("second_try", {
        async onIdle(next) {
          const ti = await flaky(db, await latestRun(db));
          delays.push(ti.nextRetryAt!.getTime() - ti.endDate!.getTime());
          clock.set(next!);
        },
      });
      assert.equal(state, "success");
      assert.deepEqual(delays, [30_000]);
      const ti = await flaky(db, dagRunId);
      assert.equal(ti.state, "success");
      assert.equal(ti.tryNumber, 2);
      assert.deepEqual((await tries(db, dagRunId)).map((r) => r.state), ["failed", "success"]);
      const first = await taskLog(db, dagRunId, "flaky", 1);
      assert.ok(first.includes("onRetry after try 1"), first.join("\n"));
      const second = await taskLog(db, dagRunId, "flaky", 2);
      assert.ok(second.includes("onSuccess after try 2"), second.join("\n"));
      assert.ok(![...first, ...second].some((l) => l.startsWith("onFailure")));
      const [xcom] = await db.sql<{ value: unknown }>`
        SELECT x.value FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
        WHERE ti.dag_run_id = ${dagRunId}`;
      assert.equal(xcom.value, "done on try 2");
    } finally {
      await engine.close();
    }
  },
);
