/** `/api/v2/eventLogs`: the audit log, as Airflow's EventLog, for Admins. */
import { Hono } from "hono";
import { type AuditRow, getAuditRow, listAuditPage } from "../../db/audit_log.ts";
import type { AppEnv } from "../mod.ts";
import { intPath, notFound, QueryReader } from "./common.ts";

const EVENT_LOG_ORDER: Record<string, string> = {
  id: "id",
  event_log_id: "id",
  dttm: "dttm",
  when: "dttm",
  dag_id: "dag_id",
  task_id: "task_id",
  run_id: "run_id",
  event: "event",
  logical_date: "logical_date",
  owner: "owner",
  extra: "extra::text",
};

export function eventLogResponse(r: AuditRow) {
  return {
    event_log_id: r.id,
    when: new Date(r.when).toISOString(),
    dag_id: r.dagId,
    task_id: r.taskId,
    run_id: r.runId,
    map_index: r.mapIndex,
    try_number: r.tryNumber,
    event: r.event,
    logical_date: r.logicalDate ? new Date(r.logicalDate).toISOString() : null,
    owner: r.owner,
    extra: r.extra === null ? null : JSON.stringify(r.extra),
    dag_display_name: r.dagId,
  };
}

export const eventLogs = new Hono<AppEnv>()
  .get("/", async (c) => {
    const q = new QueryReader(c);
    const { limit, offset } = q.page();
    const filter = {
      dagId: q.string("dag_id"),
      taskId: q.string("task_id"),
      runId: q.string("run_id"),
      mapIndex: q.int("map_index", { min: -1 }),
      tryNumber: q.int("try_number", { min: 0 }),
      owner: q.string("owner"),
      event: q.string("event"),
      excludedEvents: q.list("excluded_events"),
      includedEvents: q.list("included_events"),
      before: q.date("before"),
      after: q.date("after"),
    };
    q.done();
    const order = q.orderBy(EVENT_LOG_ORDER, "id", "id");
    const page = await listAuditPage(c.get("deps").db.sql, filter, order, limit, offset);
    return c.json({ event_logs: page.rows.map(eventLogResponse), total_entries: page.total });
  })
  .get("/:event_log_id", async (c) => {
    const id = intPath(c, "event_log_id");
    const row = await getAuditRow(c.get("deps").db.sql, id);
    if (!row) notFound(`The Event Log with id: \`${id}\` not found`);
    return c.json(eventLogResponse(row!));
  });
