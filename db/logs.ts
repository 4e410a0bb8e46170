/** Task log lines, written in batches while a task runs so its log can be read live. */
import type { Sql } from "./client.ts";

export interface LogRow {
  tiId: number;
  tryNumber: number;
  ts: Date;
  level: string;
  line: string;
}

export async function insertLogs(sql: Sql, rows: LogRow[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    INSERT INTO task_log (ti_id, try_number, ts, level, line)
    SELECT * FROM unnest(${rows.map((r) => r.tiId)}::int[], ${rows.map((r) => r.tryNumber)}::int[],
      ${rows.map((r) => r.ts.toISOString())}::timestamptz[], ${rows.map((r) => r.level)}::text[],
      ${rows.map((r) => r.line)}::text[])`;
}

export interface LogLine {
  id: number;
  ts: Date;
  level: string;
  line: string;
}

/** Lines of one try after `afterId` (for following a live log), oldest first. */
export function readLogs(
  sql: Sql,
  tiId: number,
  tryNumber: number,
  afterId = 0,
  limit = 10_000,
): Promise<LogLine[]> {
  return sql<LogLine>`
    SELECT id, ts, level, line FROM task_log
    WHERE ti_id = ${tiId} AND try_number = ${tryNumber} AND id > ${afterId}
    ORDER BY id LIMIT ${limit}`;
}
