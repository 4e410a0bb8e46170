/**
 * The leader wakes when a scheduled run is due, not on its next round: a run is created on its
 * boundary. The rounds here are 5 s apart, and the boundary comes 3 s after the first.
 */
import assert from "node:assert/strict";
import { SchedulerService, untilNextDue } from "../scheduler/service.ts";
import type { Db } from "../db/client.ts";
import { dagFolder, dbTest, loadDags } from "./helpers.ts";

const DAGS = {
  "minutely.ts": `
import { dag } from "gust";
export default dag({ id: "minutely", schedule: "* * * * *", startDate: "2026-01-01T00:00:00Z" }, (t) => {
  t.task("tick", () => 1);
});
`,
};

async function runsOf(db: Db): Promise<{ runAfter: Date; queuedAt: Date }[]> {
  return await db.sql<{ runAfter: Date; queuedAt: Date }>`
    SELECT run_after AS "runAfter", queued_at AS "queuedAt" FROM dag_run
    WHERE dag_id = 'minutely' ORDER BY run_after`;
}

async function waitForRuns(db: Db, count: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const runs = await runsOf(db);
    if (runs.length >= count) return runs;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`Fewer than ${count} runs of "minutely" within ${timeoutMs} ms`);
}

dbTest(
  "a scheduled run is created on its boundary, not on the leader's next round",
  async (_t, db) => {
    // The clock starts 3 s before a minute, the boundary the second run is due on.
    const boundary = Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
    const offsetMs = boundary - 3000 - Date.now();
    const clock = () => new Date(Date.now() + offsetMs);
    const folder = await dagFolder(DAGS);
    await loadDags(db, folder, clock());
    const scheduler = new SchedulerService({
      db,
      dagsFolder: folder,
      dagImportTimeoutMs: 20_000,
      dagRefreshIntervalMs: 60_000,
      clock,
      leaderIntervalMs: 5000,
    });
    try {
      // The first round creates the latest whole minute's run (no catchup) and finds the next
      // one due in 3 s: a leader that only polls would create it 2 s late, on its next round.
      await scheduler.start();
      const [first, next] = await waitForRuns(db, 2, 15_000);
      assert.equal(first.runAfter.getTime(), boundary - 60_000);
      assert.equal(next.runAfter.getTime(), boundary);
      const lateMs = next.queuedAt.getTime() - boundary;
      assert.ok(lateMs >= 0 && lateMs < 1000, `created ${lateMs} ms after its boundary`);
    } finally {
      await scheduler.stop();
      await Deno.remove(folder, { recursive: true });
    }
  },
);

Deno.test("the leader sleeps until the next due run, at most its interval", () => {
  const now = new Date("2026-12-01T12:00:59.600Z");
  assert.equal(untilNextDue(new Date("2026-12-01T12:01:00Z"), now), 400);
  assert.equal(untilNextDue(new Date("2026-12-01T12:05:00Z"), now), 1000);
  assert.equal(untilNextDue(null, now), 1000);
  assert.equal(untilNextDue(new Date("2026-12-01T12:00:00Z"), now), 1000, "a past due time");
});
