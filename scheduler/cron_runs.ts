/**
 * Creates the runs a DAG's schedule calls for, up to now: one per data interval, oldest first,
 * while the DAG has fewer active runs than its `maxActiveRuns` (so catchup is bounded). Run
 * creation is idempotent on (dag, logical date), so a doubled tick, or two schedulers ticking
 * at once, create nothing twice.
 */
import type { Db, Sql } from "../db/client.ts";
import { getDagVersion } from "../db/dags.ts";
import { createDagRun, defaultRunId } from "../db/runs.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { createTimetable, type DataInterval, type Timetable } from "./timetable.ts";
import { validateConf } from "./trigger_run.ts";

const timetables = new WeakMap<SerializedDag, Timetable>();

function timetableOf(dag: SerializedDag): Timetable {
  let timetable = timetables.get(dag);
  if (!timetable) {
    timetable = createTimetable({
      schedule: dag.schedule,
      timezone: dag.timezone,
      startDate: dag.startDate ? new Date(dag.startDate) : null,
      endDate: dag.endDate ? new Date(dag.endDate) : null,
    });
    timetables.set(dag, timetable);
  }
  return timetable;
}

interface DueDag {
  dagId: string;
  versionId: number;
  lastStart: Date | null;
  lastEnd: Date | null;
  active: number;
}

/**
 * Returns the number of runs created. `fence` runs first in each transaction: the leader's
 * epoch check, so a deposed leader creates nothing (creation is idempotent regardless).
 */
export async function createScheduledRuns(
  db: Db,
  now: Date,
  fence?: (tx: Sql) => Promise<void>,
): Promise<number> {
  const due = await db.sql<DueDag>`
    SELECT d.dag_id AS "dagId", d.latest_version_id AS "versionId",
      d.last_automated_interval_start AS "lastStart", d.last_automated_interval_end AS "lastEnd",
      (SELECT count(*) FROM dag_run r WHERE r.dag_id = d.dag_id AND r.backfill_id IS NULL
        AND r.state IN ('queued', 'running'))::int AS active
    FROM dag d
    WHERE d.is_active AND NOT d.is_paused AND d.latest_version_id IS NOT NULL
      AND (d.next_dagrun_create_after IS NULL OR d.next_dagrun_create_after <= ${now})`;
  let created = 0;
  for (const row of due) {
    const { serialized: dag } = await getDagVersion(db.sql, row.versionId);
    const timetable = timetableOf(dag);
    let last: DataInterval | null = row.lastStart && row.lastEnd
      ? { start: row.lastStart, end: row.lastEnd }
      : null;
    let active = row.active;
    let nextCheck: Date | null = null;
    while (active < dag.maxActiveRuns) {
      const info = timetable.next(last, { catchup: dag.catchup, now });
      if (!info) {
        nextCheck = new Date("9999-12-31T00:00:00Z"); // no more runs, ever, for this version
        break;
      }
      if (info.runAfter > now) {
        nextCheck = info.runAfter;
        break;
      }
      const made = await db.begin(async (tx) => {
        await fence?.(tx);
        const run = await createDagRun(
          tx,
          {
            dagId: row.dagId,
            runId: defaultRunId("scheduled", info.logicalDate),
            runType: "scheduled",
            logicalDate: info.logicalDate,
            dataInterval: info.dataInterval,
            runAfter: info.runAfter,
            conf: defaultConf(dag),
            versionId: row.versionId,
            triggeredBy: "scheduler",
          },
          dag,
          now,
        );
        // Moves forward only, so a slower scheduler cannot rewind the schedule.
        await tx`
          UPDATE dag SET last_automated_interval_start = ${info.dataInterval.start},
            last_automated_interval_end = ${info.dataInterval.end}
          WHERE dag_id = ${row.dagId} AND (last_automated_interval_end IS NULL
            OR last_automated_interval_end < ${info.dataInterval.end})`;
        return run.created;
      });
      if (made) created++;
      last = info.dataInterval;
      active++;
    }
    if (nextCheck) {
      await db
        .sql`UPDATE dag SET next_dagrun_create_after = ${nextCheck} WHERE dag_id = ${row.dagId}`;
    }
  }
  return created;
}

function defaultConf(dag: SerializedDag): Record<string, unknown> {
  try {
    return validateConf(dag, {});
  } catch {
    return {}; // required params without defaults: the tasks report it when they parse them
  }
}
