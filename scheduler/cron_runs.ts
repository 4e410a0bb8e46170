/**
 * Creates the runs a DAG's schedule calls for, up to now: one per data interval, oldest first,
 * while the DAG has fewer active runs than its `maxActiveRuns` (so catchup is bounded). Run
 * creation is idempotent on (dag, logical date), so a doubled tick, or two schedulers ticking
 * at once, create nothing twice.
 */
import type { Db, Sql } from "../db/client.ts";
import { getDagVersions } from "../db/dags.ts";
import { defaultRunId } from "../db/runs.ts";
import {
  advanceDags,
  type DagAdvance,
  type DueDag,
  dueDags,
  insertScheduledRuns,
  lockDags,
  type NewScheduledRun,
} from "../db/scheduled_runs.ts";
import type { SerializedDag, SerializedTask } from "../sdk/serialize.ts";
import { createTimetable, type DataInterval, type Timetable } from "./timetable.ts";
import { validateConf } from "./trigger_run.ts";

/**
 * Timetables by what defines them, so DAGs on the same schedule share one (and its memo of the
 * tick's latest interval). Pure and small; cleared if it ever holds very many.
 */
const timetables = new Map<string, Timetable>();

function timetableOf(dag: SerializedDag): Timetable {
  const key = JSON.stringify([dag.schedule, dag.timezone, dag.startDate, dag.endDate]);
  let timetable = timetables.get(key);
  if (!timetable) {
    if (timetables.size >= 10_000) timetables.clear();
    timetable = createTimetable({
      schedule: dag.schedule,
      timezone: dag.timezone,
      startDate: dag.startDate ? new Date(dag.startDate) : null,
      endDate: dag.endDate ? new Date(dag.endDate) : null,
    });
    timetables.set(key, timetable);
  }
  return timetable;
}

/** Runs plus task instances per transaction: a large catchup is written in several. */
const BATCH_ROWS = 5_000;

interface Plan {
  versionId: number;
  runs: NewScheduledRun[];
  advance: DagAdvance | null;
  tasks: SerializedTask[];
}

/**
 * The runs one DAG is due, from the interval of its latest automated run, oldest first, while
 * it has fewer active runs than `maxActiveRuns`; and where its schedule stands afterwards.
 * Pure: the writes happen in batches for many DAGs at once.
 */
function planDag(row: DueDag, dag: SerializedDag, now: Date): Plan {
  const timetable = timetableOf(dag);
  let last: DataInterval | null = row.lastStart && row.lastEnd
    ? { start: row.lastStart, end: row.lastEnd }
    : null;
  let active = row.active;
  let nextCheck: Date | null = null;
  const runs: NewScheduledRun[] = [];
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
    runs.push({
      dagId: row.dagId,
      versionId: row.versionId,
      runId: defaultRunId("scheduled", info.logicalDate),
      logicalDate: info.logicalDate,
      start: info.dataInterval.start,
      end: info.dataInterval.end,
      runAfter: info.runAfter,
      conf: defaultConf(dag),
    });
    last = info.dataInterval;
    active++;
  }
  // At maxActiveRuns with nothing planned, the DAG stays due: a finishing run frees a slot.
  const moved = runs.length > 0 || nextCheck !== null;
  const advance = moved
    ? { dagId: row.dagId, versionId: row.versionId, last: runs.length ? last : null, nextCheck }
    : null;
  return { versionId: row.versionId, runs, advance, tasks: dag.tasks };
}

/** Consecutive plans, cut where the rows written would pass BATCH_ROWS (one plan at least). */
function batches(plans: Plan[]): Plan[][] {
  const out: Plan[][] = [];
  let rows = Infinity;
  for (const plan of plans) {
    const size = plan.runs.length * (1 + plan.tasks.length) + 1;
    if (rows + size > BATCH_ROWS) {
      out.push([]);
      rows = 0;
    }
    out.at(-1)!.push(plan);
    rows += size;
  }
  return out;
}

/**
 * Returns the number of runs created. Every due run is computed in memory first, then written
 * in a few statements per batch of DAGs. `fence` runs first in each transaction: the leader's
 * epoch check, so a deposed leader writes nothing (creation is idempotent regardless).
 */
export async function createScheduledRuns(
  db: Db,
  now: Date,
  fence?: (tx: Sql) => Promise<void>,
): Promise<number> {
  const due = await dueDags(db.sql, now);
  const versions = await getDagVersions(db.sql, due.map((d) => d.versionId));
  const plans: Plan[] = [];
  let failure: Error | null = null;
  for (const row of due) {
    try {
      plans.push(planDag(row, versions.get(row.versionId)!.serialized, now));
    } catch (error) {
      // One DAG whose schedule cannot be computed must not hold up the others.
      failure ??= new Error(`Cannot schedule DAG "${row.dagId}": ${(error as Error).message}`);
    }
  }
  let created = 0;
  for (const batch of batches(plans.filter((p) => p.advance))) {
    created += await db.begin(async (tx) => {
      await fence?.(tx);
      await lockDags(tx, batch.map((p) => p.advance!.dagId));
      const tasks = new Map(batch.map((p) => [p.versionId, p.tasks]));
      const made = await insertScheduledRuns(tx, batch.flatMap((p) => p.runs), tasks, now);
      await advanceDags(tx, batch.map((p) => p.advance!));
      return made;
    });
  }
  if (failure) throw failure;
  return created;
}

const confs = new WeakMap<SerializedDag, Record<string, unknown>>();

/** The params' defaults, once per version (checking them rebuilds the params schema). */
function defaultConf(dag: SerializedDag): Record<string, unknown> {
  let conf = confs.get(dag);
  if (!conf) {
    try {
      conf = validateConf(dag, {});
    } catch {
      conf = {}; // required params without defaults: the tasks report it when they parse them
    }
    confs.set(dag, conf);
  }
  return conf;
}
