/**
 * Scheduled runs of many DAGs, created in set-based batches: one run per due interval each,
 * nothing twice however the ticks overlap, nothing at all behind a refused fence, and runs and
 * task instances exactly like those of a run created one at a time.
 */
import assert from "node:assert/strict";
import type { Db } from "../db/client.ts";
import { advanceDags } from "../db/scheduled_runs.ts";
import { createScheduledRuns } from "../scheduler/cron_runs.ts";
import { processDagFolder } from "../scheduler/dag_processor.ts";
import { NotLeaderError } from "../scheduler/leader.ts";
import { triggerRun } from "../scheduler/trigger_run.ts";
import { dagFolder, dbTest } from "./helpers.ts";

const T0 = new Date("2025-01-01T00:00:00Z");
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);

/** One file defining `count` DAGs `<prefix>_<i>` with two tasks each. */
function manyDagsFile(prefix: string, count: number, options: string): string {
  const lines = [`import { dag } from "gust";`, `import { z } from "zod";`];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}_${String(i).padStart(4, "0")}`;
    lines.push(`
export const ${id} = dag({ id: "${id}", startDate: "${T0.toISOString()}",
  params: z.object({ greeting: z.string().default("hello") }), ${options} }, (t) => {
  const a = t.task("extract", { retries: 3, retryDelay: "7s", retryExponentialBackoff: true,
    maxRetryDelay: "1m", priorityWeight: 5, queue: "etl", poolSlots: 2 }, () => 1);
  t.task("load", { dependsOn: [a] }, () => 2);
});`);
  }
  return lines.join("\n") + "\n";
}

async function load(db: Db, files: Record<string, string>): Promise<void> {
  const folder = await dagFolder(files);
  try {
    const result = await processDagFolder(db, folder, { timeoutMs: 60_000, now: T0 });
    const failed = result.files.filter((f) => f.error);
    assert.deepEqual(failed.map((f) => f.error?.message), []);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

/** Runs per DAG: how many, and whether any (DAG, logical date) appears twice. */
async function runCounts(db: Db) {
  const [row] = await db.sql<{ runs: number; dags: number; keys: number; tis: number }>`
    SELECT (SELECT count(*) FROM dag_run)::int AS runs,
      (SELECT count(DISTINCT dag_id) FROM dag_run)::int AS dags,
      (SELECT count(DISTINCT (dag_id, logical_date)) FROM dag_run)::int AS keys,
      (SELECT count(*) FROM task_instance)::int AS tis`;
  return row;
}

dbTest("one tick of many DAGs creates exactly one run per due interval each", async (t, db) => {
  // 400 DAGs × 12 missed minutes × (1 run + 2 tasks): several batches of writes.
  await load(db, {
    "many.ts": manyDagsFile("many", 400, `schedule: "* * * * *", catchup: true`),
  });

  await t.step("twelve minutes in: twelve runs per DAG, in order, with their tasks", async () => {
    assert.equal(await createScheduledRuns(db, minutes(12)), 400 * 12);
    assert.deepEqual(await runCounts(db), { runs: 4800, dags: 400, keys: 4800, tis: 9600 });
    const perDag = await db.sql<{ dagId: string; dates: Date[] }>`
      SELECT dag_id AS "dagId", array_agg(logical_date ORDER BY id) AS dates
      FROM dag_run GROUP BY dag_id`;
    const expected = Array.from({ length: 12 }, (_, i) => minutes(i).toISOString());
    for (const d of perDag) {
      assert.deepEqual(d.dates.map((x) => new Date(x).toISOString()), expected, d.dagId);
    }
    const [dag] = await db.sql<{ start: Date; end: Date; next: Date }>`
      SELECT last_automated_interval_start AS start, last_automated_interval_end AS "end",
        next_dagrun_create_after AS next
      FROM dag WHERE dag_id = 'many_0399'`;
    assert.deepEqual([dag.start, dag.end, dag.next].map((d) => d.toISOString()), [
      minutes(11).toISOString(),
      minutes(12).toISOString(),
      minutes(13).toISOString(),
    ]);
  });

  await t.step("the same tick again creates nothing", async () => {
    assert.equal(await createScheduledRuns(db, minutes(12)), 0);
    assert.equal((await runCounts(db)).runs, 4800);
  });

  await t.step("the next minute: one more run per DAG", async () => {
    assert.equal(await createScheduledRuns(db, minutes(13)), 400);
    assert.deepEqual(await runCounts(db), { runs: 5200, dags: 400, keys: 5200, tis: 10400 });
  });
});

dbTest("catchup of many DAGs stops at maxActiveRuns for each", async (_t, db) => {
  await load(db, {
    "bounded.ts": manyDagsFile(
      "bounded",
      50,
      `schedule: "* * * * *", catchup: true, maxActiveRuns: 3`,
    ),
  });
  assert.equal(await createScheduledRuns(db, minutes(30)), 150);
  assert.equal(await createScheduledRuns(db, minutes(30)), 0);
  await db.sql`UPDATE dag_run SET state = 'success' WHERE logical_date = ${minutes(0)}`;
  assert.equal(await createScheduledRuns(db, minutes(30)), 50);
  const [row] = await db.sql<{ n: number; latest: Date }>`
    SELECT count(*)::int AS n, max(logical_date) AS latest FROM dag_run`;
  assert.deepEqual([row.n, row.latest.toISOString()], [200, minutes(3).toISOString()]);
});

dbTest("doubled and concurrent ticks of many DAGs create each run once", async (t, db) => {
  await load(db, {
    "racy.ts": manyDagsFile("racy", 200, `schedule: "* * * * *", catchup: true`),
  });

  await t.step("three ticks at once", async () => {
    const made = await Promise.all([
      createScheduledRuns(db, minutes(5)),
      createScheduledRuns(db, minutes(5)),
      createScheduledRuns(db, minutes(5)),
    ]);
    assert.equal(made.reduce((a, b) => a + b, 0), 1000);
    assert.deepEqual(await runCounts(db), { runs: 1000, dags: 200, keys: 1000, tis: 2000 });
  });

  await t.step("two at once a minute apart: each interval once", async () => {
    const made = await Promise.all([
      createScheduledRuns(db, minutes(7)),
      createScheduledRuns(db, minutes(6)),
    ]);
    assert.equal(made.reduce((a, b) => a + b, 0), 400);
    assert.deepEqual(await runCounts(db), { runs: 1400, dags: 200, keys: 1400, tis: 2800 });
  });
});

dbTest("a refused fence writes nothing for any DAG", async (_t, db) => {
  await load(db, {
    "fenced.ts": manyDagsFile("fenced", 100, `schedule: "* * * * *", catchup: true`),
  });
  let calls = 0;
  const refuse = () => {
    calls++;
    return Promise.reject(new NotLeaderError());
  };
  await assert.rejects(createScheduledRuns(db, minutes(30), refuse), NotLeaderError);
  assert.equal(calls, 1);
  assert.deepEqual(await runCounts(db), { runs: 0, dags: 0, keys: 0, tis: 0 });
  const [moved] = await db.sql<{ n: number }>`
    SELECT count(*)::int AS n FROM dag WHERE last_automated_interval_end IS NOT NULL
      OR next_dagrun_create_after IS NOT NULL`;
  assert.equal(moved.n, 0);
});

dbTest("a scheduled run has the columns a run created alone has", async (_t, db) => {
  await load(db, { "one.ts": manyDagsFile("one", 1, `schedule: "@daily"`) });
  assert.equal(await createScheduledRuns(db, new Date("2025-01-02T00:00:00Z")), 1);
  await triggerRun(db, {
    dagId: "one_0000",
    runId: "by_hand",
    logicalDate: new Date("2025-01-05T00:00:00Z"),
    now: new Date("2025-01-05T00:00:00Z"),
    start: false, // queued, as the scheduled run is: the two are compared as created
  });
  const runs = await db.sql<Record<string, unknown>>`
    SELECT run_type, state, conf, dag_version_id, triggered_by, backfill_id
    FROM dag_run ORDER BY id`;
  assert.deepEqual(runs[0], {
    run_type: "scheduled",
    state: "queued",
    conf: { greeting: "hello" },
    dag_version_id: runs[1].dag_version_id,
    triggered_by: "scheduler",
    backfill_id: null,
  });
  const instances = await db.sql<{ runId: string; row: Record<string, unknown> }>`
    SELECT run_id AS "runId", to_jsonb(ti) - 'id' - 'dag_run_id' - 'run_id' - 'updated_at' AS row
    FROM task_instance ti ORDER BY dag_run_id, task_id`;
  const scheduled = instances.filter((i) => i.runId !== "by_hand").map((i) => i.row);
  const manual = instances.filter((i) => i.runId === "by_hand").map((i) => i.row);
  assert.equal(scheduled.length, 2);
  assert.deepEqual(scheduled, manual);
  assert.deepEqual(
    [scheduled[0].max_tries, scheduled[0].retry_delay_ms, scheduled[0].retry_exponential],
    [3, 7000, true],
  );
  assert.deepEqual([scheduled[0].max_retry_delay_ms, scheduled[0].queue], [60000, "etl"]);
});

dbTest("a DAG's interval never moves back, and a new version keeps its check", async (_t, db) => {
  await load(db, { "one.ts": manyDagsFile("one", 1, `schedule: "* * * * *", catchup: true`) });
  assert.equal(await createScheduledRuns(db, minutes(10)), 10);
  const [{ versionId }] = await db.sql<{ versionId: number }>`
    SELECT latest_version_id AS "versionId" FROM dag WHERE dag_id = 'one_0000'`;
  await db.begin((tx) =>
    advanceDags(tx, [
      // A slower scheduler's stale plan, and one made from a version that is no longer latest.
      {
        dagId: "one_0000",
        versionId: versionId + 1,
        last: { start: minutes(2), end: minutes(3) },
        nextCheck: minutes(4),
      },
    ])
  );
  const [dag] = await db.sql<{ end: Date; next: Date }>`
    SELECT last_automated_interval_end AS "end", next_dagrun_create_after AS next
    FROM dag WHERE dag_id = 'one_0000'`;
  assert.deepEqual([dag.end.toISOString(), dag.next.toISOString()], [
    minutes(10).toISOString(),
    minutes(11).toISOString(),
  ]);
});

dbTest("a DAG whose schedule cannot be computed holds up no other", async (_t, db) => {
  await load(db, { "two.ts": manyDagsFile("two", 3, `schedule: "* * * * *", catchup: true`) });
  await db.sql`
    UPDATE dag_version SET serialized = jsonb_set(serialized, '{timezone}', '"Mars/Olympus"')
    WHERE dag_id = 'two_0001'`;
  await assert.rejects(
    createScheduledRuns(db, minutes(3)),
    /^Error: Cannot schedule DAG "two_0001": Unknown timezone "Mars\/Olympus"$/,
  );
  const rows = await db.sql<{ dagId: string; n: number }>`
    SELECT dag_id AS "dagId", count(*)::int AS n FROM dag_run GROUP BY dag_id ORDER BY dag_id`;
  assert.deepEqual(rows.map((r) => [r.dagId, r.n]), [["two_0000", 3], ["two_0002", 3]]);
});
