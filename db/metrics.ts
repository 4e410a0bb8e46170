/**
 * What `/metrics` reads from the metadata database: the live work (task instances waiting or
 * running, runs in progress, pool slots) and the state of the DAGs and schedulers. Each count
 * is over live rows only, through the partial indexes the scheduler uses, so a scrape costs
 * the same however long the history grows.
 */
import type { Sql } from "./client.ts";
import { SCHEDULER_ALIVE_MS } from "./schedulers.ts";

/** The task instance states a scrape counts: the ones with a partial index of their own. */
export const LIVE_TI_STATES = ["scheduled", "queued", "running", "up_for_retry"] as const;
export const LIVE_RUN_STATES = ["queued", "running"] as const;

export interface ClusterMetrics {
  /** Task instances per live state, queue and pool (only the combinations that have some). */
  taskInstances: { state: string; queue: string; pool: string; n: number }[];
  dagRuns: { state: string; n: number }[];
  /** Slots: -1 for an unlimited pool. Queued and running count the slots their tasks hold. */
  pools: { pool: string; slots: number; queued: number; running: number }[];
  dags: { active: number; paused: number; importErrors: number };
  schedulers: { alive: number; leaderAlive: boolean; leaderHeartbeatAgeS: number | null };
}

export async function readClusterMetrics(sql: Sql): Promise<ClusterMetrics> {
  const [taskInstances, dagRuns, pools, [dags], [schedulers]] = await Promise.all([
    // One branch per state, so each is answered from that state's partial index.
    sql<{ state: string; queue: string; pool: string; n: number }>`
      SELECT 'scheduled' AS state, queue, pool, count(*)::int AS n FROM task_instance
        WHERE state = 'scheduled' GROUP BY queue, pool
      UNION ALL SELECT 'queued', queue, pool, count(*)::int FROM task_instance
        WHERE state = 'queued' GROUP BY queue, pool
      UNION ALL SELECT 'running', queue, pool, count(*)::int FROM task_instance
        WHERE state = 'running' GROUP BY queue, pool
      UNION ALL SELECT 'up_for_retry', queue, pool, count(*)::int FROM task_instance
        WHERE state = 'up_for_retry' GROUP BY queue, pool
      ORDER BY 1, 2, 3`,
    sql<{ state: string; n: number }>`
      SELECT state, count(*)::int AS n FROM dag_run WHERE state IN ('queued', 'running')
      GROUP BY state ORDER BY state`,
    sql<{ pool: string; slots: number; queued: number; running: number }>`
      SELECT p.name AS pool, p.slots,
        COALESCE(sum(ti.pool_slots) FILTER (WHERE ti.state = 'queued'), 0)::int AS queued,
        COALESCE(sum(ti.pool_slots) FILTER (WHERE ti.state = 'running'), 0)::int AS running
      FROM pool p LEFT JOIN task_instance ti
        ON ti.pool = p.name AND ti.state IN ('queued', 'running')
      GROUP BY p.name, p.slots ORDER BY p.name`,
    sql<{ active: number; paused: number; importErrors: number }>`
      SELECT count(*) FILTER (WHERE NOT is_paused)::int AS active,
        count(*) FILTER (WHERE is_paused)::int AS paused,
        (SELECT count(*)::int FROM import_error) AS "importErrors"
      FROM dag WHERE is_active`,
    sql<{ alive: number; leaderAlive: boolean; leaderHeartbeatAgeS: number | null }>`
      WITH limit_ AS (SELECT now() - make_interval(secs => ${SCHEDULER_ALIVE_MS / 1000}) AS since)
      SELECT count(*) FILTER (WHERE last_heartbeat > since)::int AS alive,
        COALESCE(bool_or(is_leader AND last_heartbeat > since), false) AS "leaderAlive",
        extract(epoch FROM now() - max(last_heartbeat) FILTER (WHERE is_leader))::float8
          AS "leaderHeartbeatAgeS"
      FROM scheduler_instance, limit_`,
  ]);
  return { taskInstances, dagRuns, pools, dags, schedulers };
}
