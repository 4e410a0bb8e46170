/** `/api/v2/importErrors`, `/api/v2/monitor/health` and `/api/v2/version`. */
import { Hono } from "hono";
import { listImportErrorsPage } from "../../db/api_dags.ts";
import { SCHEDULER_ALIVE_MS } from "../../db/schedulers.ts";
import type { AppEnv } from "../mod.ts";
import { QueryReader } from "./common.ts";
import { importErrorResponse } from "./shapes.ts";

export const GUST_VERSION = "0.1.0";

const IMPORT_ERROR_ORDER: Record<string, string> = {
  id: "id",
  import_error_id: "id",
  timestamp: "created_at",
  filename: "filename",
};

export const monitor = new Hono<AppEnv>()
  .get("/importErrors", async (c) => {
    const q = new QueryReader(c);
    const { limit, offset } = q.page();
    q.done();
    const order = q.orderBy(IMPORT_ERROR_ORDER, "id", "id");
    const page = await listImportErrorsPage(c.get("deps").db.sql, order, limit, offset);
    return c.json({
      import_errors: page.importErrors.map(importErrorResponse),
      total_entries: page.total,
    });
  })
  // Airflow answers 200 whatever the health, with each component's status in the body.
  .get("/monitor/health", async (c) => {
    const { db } = c.get("deps");
    let database = "healthy";
    let heartbeat: Date | null = null;
    let alive = false;
    try {
      const [row] = await db.sql<{ latest: Date | null; alive: boolean }>`
        SELECT max(last_heartbeat) AS latest,
          COALESCE(bool_or(last_heartbeat > now() - make_interval(secs => ${
        SCHEDULER_ALIVE_MS / 1000
      })), false) AS alive
        FROM scheduler_instance`;
      heartbeat = row.latest;
      alive = row.alive;
    } catch {
      database = "unhealthy";
    }
    const scheduler = alive ? "healthy" : "unhealthy";
    const latest = heartbeat ? new Date(heartbeat).toISOString() : null;
    return c.json({
      metadatabase: { status: database },
      scheduler: { status: scheduler, latest_scheduler_heartbeat: latest },
      triggerer: { status: null, latest_triggerer_heartbeat: null },
      dag_processor: { status: scheduler, latest_dag_processor_heartbeat: latest },
    });
  })
  .get("/version", (c) => c.json({ version: GUST_VERSION, git_version: null }));
