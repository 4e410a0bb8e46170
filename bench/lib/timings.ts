/**
 * When each task's function ran, as the task itself measured it (see `timed` in dags.ts): the
 * same clock as the benchmark's, since every process runs on this machine.
 */
import type { Db } from "../../db/client.ts";

export interface TaskTiming {
  taskId: string;
  mapIndex: number;
  /** Epoch milliseconds, with fractions. */
  start: number;
  end: number;
}

export async function taskTimings(db: Db, dagId: string, runId: string): Promise<TaskTiming[]> {
  const rows = await db.sql<{ taskId: string; mapIndex: number; start: number; end: number }>`
    SELECT ti.task_id AS "taskId", ti.map_index AS "mapIndex",
      (x.value ->> 'start')::float8 AS start, (x.value ->> 'end')::float8 AS "end"
    FROM xcom x JOIN task_instance ti ON ti.id = x.ti_id
      JOIN dag_run r ON r.id = ti.dag_run_id
    WHERE r.dag_id = ${dagId} AND r.run_id = ${runId} AND x.value ? 'start'
    ORDER BY 3, ti.id`;
  return rows.map((r) => ({ ...r, start: Number(r.start), end: Number(r.end) }));
}
