/**
 * The REST API: the part of Airflow's stable API (`/api/v2`, Airflow 3) that Gust implements,
 * with its paths, parameters and JSON shapes, so tools written for Airflow work. One sub-app per
 * resource in `api/`; bodies and answers are described by the zod schemas in `api/schemas.ts`,
 * from which `/api/v2/openapi.json` is generated.
 *
 * Authorization is not here: a middleware mounted in front of this app (`apiAccess`, in
 * routes/mod.ts) matches the route in `api/operations.ts` and checks the bearer token and the
 * permission its `access` names before a handler runs. Webhooks are mounted apart,
 * authenticated by their signatures.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { backfills } from "./api/backfills.ts";
import { clearRoute } from "./api/clear.ts";
import { dagRuns } from "./api/dag_runs.ts";
import { dags } from "./api/dags.ts";
import { eventLogs } from "./api/event_logs.ts";
import { monitor } from "./api/monitor.ts";
import { openApiDocument } from "./api/openapi.ts";
import { pools } from "./api/pools.ts";
import { taskInstances } from "./api/task_instances.ts";
import type { AppEnv } from "./mod.ts";

export const api = new Hono<AppEnv>()
  .use(async (c, next) => {
    await next();
    // Every answer is JSON data; a browser must never sniff it into a page.
    c.res.headers.set("x-content-type-options", "nosniff");
  })
  .route("/dags", dags)
  .route("/dags/:dag_id/dagRuns", dagRuns)
  .route("/dags/:dag_id/dagRuns/:dag_run_id/taskInstances", taskInstances)
  .route("/dags/:dag_id/clearTaskInstances", clearRoute)
  .route("/backfills", backfills)
  .route("/eventLogs", eventLogs)
  .route("/pools", pools)
  .route("/", monitor)
  .get("/openapi.json", (c) => c.json(openApiDocument()))
  .all("*", (c) => c.json({ detail: "Not Found" }, 404))
  .onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    console.error(`${c.req.method} ${c.req.path} failed:`, error);
    return c.json({ detail: "Internal Server Error" }, 500);
  });
