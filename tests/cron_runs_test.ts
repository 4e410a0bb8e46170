/**
 * Schedules with an injected clock: exactly the runs Airflow would create, with catchup bounded
 * by maxActiveRuns, idempotent ticks, @once, and backfills.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { backfill } from "../scheduler/backfill.ts";
import { createScheduledRuns } from "../scheduler/cron_runs.ts";
import { NotLeaderError } from "../scheduler/leader.ts";
import { processDagFolder } from "../scheduler/dag_processor.ts";
import { dagFolder, dbTest, TestClock } from "./helpers.ts";

const T0 = new Date("2025-01-01T00:00:00Z");
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

function dagFile(id: string, options: string): string {
  return `
import { dag } from "gust";
export default dag({ id: "${id}", startDate: "${T0.toISOString()}", ${options} }, (t) => {
  t.task("work", () => 1);
});
`;
}

async function load(db: Db, files: Record<string, string>): Promise<void> {
  const folder = await dagFolder(files);
  await processDagFolder(db, folder, { timeoutMs: 20_000, now: T0 });
  await Deno.remove(folder, { recursive: true });
}

async function runs(db: Db, dagId: string) {
  return await db.sql<
    { runId: string; logicalDate: Date; start: Date; end: Date; runType: string }
  >`
    SELECT run_id AS "runId", logical_date AS "logicalDate", data_interval_start AS start,
      data_interval_end AS "end", run_type AS "runType"
    FROM dag_run WHERE dag_id = ${dagId} ORDER BY logical_date`;
}

dbTest("a one-minute cron with catchup creates one run per missed minute, once", async (t, db) => {
  await load(db, {
    "m.ts": dagFile("every_minute", `schedule: "* * * * *", catchup: true, maxActiveRuns: 100`),
  });
  const clock = new TestClock(minutes(10));

  await t.step("ten minutes after the start date: ten runs, in order", async () => {
    assert.equal(await createScheduledRuns(db, clock.now()), 10);
    const created = await runs(db, "every_minute");
    assert.deepEqual(
      created.map((r) => r.logicalDate.toISOString()),
      Array.from({ length: 10 }, (_, i) => minutes(i).toISOString()),
    );
    for (const r of created) {
      assert.equal(r.end.getTime() - r.start.getTime(), 60_000);
      assert.equal(r.start.getTime(), r.logicalDate.getTime());
      assert.equal(r.runId, `scheduled__${r.logicalDate.toISOString()}`);
    }
  });

  await t.step("ticking again at the same time creates nothing", async () => {
    assert.equal(await createScheduledRuns(db, clock.now()), 0);
    assert.equal(await createScheduledRuns(db, clock.now()), 0);
    assert.equal((await runs(db, "every_minute")).length, 10);
  });

  await t.step("a minute later: exactly one more", async () => {
    clock.advance(60_000);
    assert.equal(await createScheduledRuns(db, clock.now()), 1);
    const all = await runs(db, "every_minute");
    assert.equal(all.at(-1)!.logicalDate.toISOString(), minutes(10).toISOString());
  });
});

dbTest("without catchup only the latest interval runs", async (_t, db) => {
  await load(db, { "m.ts": dagFile("no_catchup", `schedule: "* * * * *", catchup: false`) });
  assert.equal(await createScheduledRuns(db, minutes(30)), 1);
  const [run] = await runs(db, "no_catchup");
  assert.equal(run.logicalDate.toISOString(), minutes(29).toISOString());
  assert.equal(run.end.toISOString(), minutes(30).toISOString());
});

dbTest("catchup is bounded by maxActiveRuns and resumes as runs finish", async (_t, db) => {
  await load(db, {
    "m.ts": dagFile("bounded", `schedule: "* * * * *", catchup: true, maxActiveRuns: 3`),
  });
  assert.equal(await createScheduledRuns(db, minutes(10)), 3);
  await db.sql`UPDATE dag_run SET state = 'success' WHERE dag_id = 'bounded'`;
  assert.equal(await createScheduledRuns(db, minutes(10)), 3);
  const all = await runs(db, "bounded");
  assert.deepEqual(
    all.map((r) => r.logicalDate.toISOString()),
    Array.from({ length: 6 }, (_, i) => minutes(i).toISOString()),
  );
});

dbTest("@once runs exactly once, and a paused DAG gets no runs", async (_t, db) => {
  await load(db, {
    "once.ts": dagFile("once", `schedule: "@once"`),
    "paused.ts": dagFile("paused", `schedule: "* * * * *", pausedOnCreation: true`),
  });
  assert.equal(await createScheduledRuns(db, minutes(5)), 1);
  await db.sql`UPDATE dag_run SET state = 'success' WHERE dag_id = 'once'`;
  assert.equal(await createScheduledRuns(db, minutes(500)), 0);
  assert.deepEqual((await runs(db, "once")).map((r) => r.logicalDate.toISOString()), [
    T0.toISOString(),
  ]);
  assert.equal((await runs(db, "paused")).length, 0);
});

dbTest("concurrent ticks create each run once", async (_t, db) => {
  await load(db, {
    "m.ts": dagFile("racy", `schedule: "* * * * *", catchup: true, maxActiveRuns: 50`),
  });
  const made = await Promise.all([
    createScheduledRuns(db, minutes(20)),
    createScheduledRuns(db, minutes(20)),
    createScheduledRuns(db, minutes(20)),
  ]);
  assert.equal(made.reduce((a, b) => a + b, 0), 20);
  assert.equal((await runs(db, "racy")).length, 20);
});

dbTest(
  "a backfill creates the missing runs and re-runs failed ones only when asked",
  async (t, db) => {
    await load(db, { "m.ts": dagFile("filled", `schedule: "@hourly"`) });
    const day = (h: number) => new Date(T0.getTime() + h * 3_600_000);

    await t.step("dry run lists the intervals without writing", async () => {
      const plan = await backfill(db, {
        dagId: "filled",
        from: day(0),
        to: day(4),
        reprocess: "none",
        dryRun: true,
        now: day(48),
      });
      assert.equal(plan.plan.length, 5);
      assert.ok(plan.plan.every((p) => p.action === "create"));
      assert.equal((await runs(db, "filled")).length, 0);
    });

    await t.step("a backfill creates one backfill run per interval", async () => {
      const result = await backfill(db, {
        dagId: "filled",
        from: day(0),
        to: day(4),
        reprocess: "none",
        now: day(48),
      });
      assert.ok(result.backfillId);
      const created = await runs(db, "filled");
      assert.deepEqual(
        created.map((r) => r.logicalDate.toISOString()),
        [0, 1, 2, 3, 4].map((h) => day(h).toISOString()),
      );
      assert.ok(created.every((r) => r.runType === "backfill"));
    });

    await t.step(
      "existing runs are skipped, failed ones re-run with reprocess=failed",
      async () => {
        await db
          .sql`UPDATE dag_run SET state = 'failed' WHERE dag_id = 'filled' AND logical_date = ${
          day(1)
        }`;
        await db.sql`UPDATE task_instance SET state = 'failed' WHERE dag_run_id =
      (SELECT id FROM dag_run WHERE dag_id = 'filled' AND logical_date = ${day(1)})`;
        await db
          .sql`UPDATE dag_run SET state = 'success' WHERE dag_id = 'filled' AND logical_date <> ${
          day(1)
        }`;
        const none = await backfill(db, {
          dagId: "filled",
          from: day(0),
          to: day(5),
          reprocess: "none",
          dryRun: true,
          now: day(48),
        });
        assert.deepEqual(none.plan.map((p) => p.action), [
          "skip",
          "skip",
          "skip",
          "skip",
          "skip",
          "create",
        ]);
        const failed = await backfill(db, {
          dagId: "filled",
          from: day(0),
          to: day(4),
          reprocess: "failed",
          now: day(48),
        });
        assert.deepEqual(failed.plan.map((p) => p.action), [
          "skip",
          "clear",
          "skip",
          "skip",
          "skip",
        ]);
        const [rerun] = await db.sql<{ state: string; task: string | null }>`
      SELECT r.state, ti.state AS task FROM dag_run r JOIN task_instance ti ON ti.dag_run_id = r.id
      WHERE r.dag_id = 'filled' AND r.logical_date = ${day(1)}`;
        assert.deepEqual(rerun, { state: "queued", task: null });
        const all = await backfill(db, {
          dagId: "filled",
          from: day(0),
          to: day(4),
          reprocess: "completed",
          dryRun: true,
          now: day(48),
        });
        assert.deepEqual(all.plan.map((p) => p.action), [
          "clear",
          "skip",
          "clear",
          "clear",
          "clear",
        ]);
      },
    );
  },
);

dbTest("a scheduler whose leader fence refuses creates no run", async (_t, db) => {
  await load(db, { "m.ts": dagFile("fenced", `schedule: "* * * * *", catchup: true`) });
  const refuse = () => Promise.reject(new NotLeaderError());
  await assert.rejects(createScheduledRuns(db, minutes(5), refuse), NotLeaderError);
  assert.equal((await runs(db, "fenced")).length, 0);
});
