/** The schedulers that heartbeat into `scheduler_instance`, for /health and the dashboard. */
import type { Sql } from "./client.ts";

/** A scheduler silent for this long counts as gone. */
export const SCHEDULER_ALIVE_MS = 30_000;

export interface SchedulerStatus {
  id: string;
  hostname: string;
  lastHeartbeat: Date;
  /** Leads now: it says so and it is alive. */
  isLeader: boolean;
  alive: boolean;
}

export function listSchedulers(sql: Sql): Promise<SchedulerStatus[]> {
  return sql<SchedulerStatus>`
    SELECT id, hostname, last_heartbeat AS "lastHeartbeat",
      is_leader AND last_heartbeat > now() - make_interval(secs => ${SCHEDULER_ALIVE_MS / 1000})
        AS "isLeader",
      last_heartbeat > now() - make_interval(secs => ${SCHEDULER_ALIVE_MS / 1000}) AS alive
    FROM scheduler_instance ORDER BY started_at LIMIT 100`;
}
