/**
 * Creates a run on request (manual trigger, `dags test`, later webhooks and the API). The conf
 * is validated against the DAG's params schema, rebuilt from its JSON Schema, so no DAG code
 * runs here; tasks parse it again with the DAG's own zod schema in their sandbox.
 */
import { z } from "zod";
import { TASKS_QUEUED_CHANNEL } from "../db/channels.ts";
import type { Db, Sql } from "../db/client.ts";
import { getDag, getDagVersion } from "../db/dags.ts";
import { createDagRun, defaultRunId, type NewRun, type RunType } from "../db/runs.ts";
import { queueScheduled } from "./queue_tasks.ts";
import { evaluateRun, lockRun } from "./schedule_run.ts";
import { startRuns } from "./start_runs.ts";
import { createTimetable, type DataInterval } from "./timetable.ts";
import type { SerializedDag } from "../sdk/serialize.ts";

export type TriggerProblem = "unknown_dag" | "invalid_conf" | "conflict";

export class TriggerError extends Error {
  constructor(message: string, readonly problem: TriggerProblem, readonly issues: string[] = []) {
    super(message);
    this.name = "TriggerError";
  }
}

export interface TriggerRequest {
  dagId: string;
  conf?: unknown;
  runId?: string;
  /** Default: now. Null: a run without a logical date (Airflow 3), as webhooks start. */
  logicalDate?: Date | null;
  runType?: RunType;
  triggeredBy?: string;
  /** Default: inferred from the logical date by the DAG's timetable. */
  dataInterval?: DataInterval;
  /** When the run may start; default: now. */
  runAfter?: Date;
  /** Start the run at once when it may start (default true); false leaves it queued. */
  start?: boolean;
  now: Date;
}

export interface Triggered {
  dagRunId: number;
  runId: string;
  created: boolean;
  conf: Record<string, unknown>;
}

export function validateConf(dag: SerializedDag, conf: unknown): Record<string, unknown> {
  const value = conf ?? {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new TriggerError("Conf must be a JSON object", "invalid_conf", [
      "conf: expected an object",
    ]);
  }
  if (!dag.paramsSchema) return value as Record<string, unknown>;
  const schema = z.fromJSONSchema(dag.paramsSchema as Parameters<typeof z.fromJSONSchema>[0]);
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data as Record<string, unknown>;
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "conf"}: ${i.message}`);
  throw new TriggerError(
    `Invalid conf for DAG "${dag.dagId}": ${issues.join("; ")}`,
    "invalid_conf",
    issues,
  );
}

/** A checked run, ready for `createDagRun`; nothing is written yet. */
export interface PlannedRun {
  run: NewRun;
  dag: SerializedDag;
}

/** Checks the DAG and the conf and computes the run; throws TriggerError. Writes nothing. */
export async function planRun(db: Db, r: TriggerRequest): Promise<PlannedRun> {
  const row = await getDag(db.sql, r.dagId);
  if (!row?.latestVersionId || !row.isActive) {
    throw new TriggerError(`DAG "${r.dagId}" does not exist`, "unknown_dag");
  }
  const version = await getDagVersion(db.sql, row.latestVersionId);
  const dag = version.serialized;
  const conf = validateConf(dag, r.conf);
  const logicalDate = r.logicalDate === undefined ? r.now : r.logicalDate;
  const timetable = createTimetable({
    schedule: dag.schedule,
    timezone: dag.timezone,
    startDate: dag.startDate ? new Date(dag.startDate) : null,
    endDate: dag.endDate ? new Date(dag.endDate) : null,
  });
  const runType = r.runType ?? "manual";
  return {
    dag,
    run: {
      dagId: r.dagId,
      runId: r.runId ?? defaultRunId(runType, logicalDate ?? r.now),
      runType,
      logicalDate,
      dataInterval: r.dataInterval ?? (logicalDate ? timetable.inferManual(logicalDate) : null),
      runAfter: r.runAfter ?? r.now,
      conf,
      versionId: version.id,
      triggeredBy: r.triggeredBy ?? null,
    },
  };
}

/** `audit` is called in the run's transaction when a run was created (for the audit log). */
export async function triggerRun(
  db: Db,
  r: TriggerRequest,
  audit?: (tx: Sql, run: { runId: string; logicalDate: Date | null }) => Promise<void>,
): Promise<Triggered> {
  const { run, dag } = await planRun(db, r);
  const { id, created, queued } = await db.begin(async (tx) => {
    const made = r.start === false
      ? { ...(await createDagRun(tx, run, dag, r.now)), started: false, queued: 0 }
      : await createAndStartRun(tx, run, dag, r.now);
    if (made.created) await audit?.(tx, { runId: run.runId, logicalDate: run.logicalDate });
    return made;
  });
  if (queued) await db.notify(TASKS_QUEUED_CHANNEL, "trigger").catch(() => {});
  if (!created && r.runId === undefined) {
    throw new TriggerError(
      `DAG "${r.dagId}" already has a run at ${(run.logicalDate ?? r.now).toISOString()}`,
      "conflict",
    );
  }
  return { dagRunId: id, runId: run.runId, created, conf: run.conf };
}

/**
 * Creates a run and, when it may start now (its DAG is under `maxActiveRuns`, not paused, and no
 * older run waits), starts it and queues its first tasks in the same transaction, by the
 * scheduler's own rules and locks: a trigger's first task then waits for no scheduler pass, only
 * for a worker (NOTIFY the workers when `queued` is not 0). Otherwise the run waits, queued, for
 * the scheduler, as before.
 */
export async function createAndStartRun(
  tx: Sql,
  run: NewRun,
  dag: SerializedDag,
  now: Date,
): Promise<{ id: number; created: boolean; started: boolean; queued: number }> {
  const made = await createDagRun(tx, run, dag, now);
  const waiting = { ...made, started: false, queued: 0 };
  if (!made.created || run.runAfter > now) return waiting;
  if (!(await startRuns(tx, now)).includes(made.id)) return waiting;
  const locked = await lockRun(tx, made.id);
  if (locked) await evaluateRun(tx, made.id, locked, now);
  return { ...made, started: true, queued: await queueScheduled(tx, now) };
}
