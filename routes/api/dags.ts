/** `/api/v2/dags`: list, read, and pause or unpause DAGs. */
import { Hono } from "hono";
import { getApiDag, listDagsPage } from "../../db/api_dags.ts";
import { setPausedAudited } from "../auth_audit.ts";
import type { AppEnv } from "../mod.ts";
import { type ApiContext, badRequest, body, notFound, QueryReader } from "./common.ts";
import { DAGPatchBody, DagRunState } from "./schemas.ts";
import { dagResponse } from "./shapes.ts";
import { now, wakeScheduler } from "./util.ts";

const DAG_ORDER: Record<string, string> = {
  dag_id: "d.dag_id",
  dag_display_name: "d.dag_id",
  next_dagrun: "d.next_dagrun_create_after",
  last_run_state: "lr.state",
  last_run_start_date: "lr.start_date",
};

async function dagOr404(c: ApiContext, dagId: string) {
  const dag = await getApiDag(c.get("deps").db.sql, dagId);
  if (!dag) notFound(`Dag with id ${dagId} was not found`);
  return dag!;
}

export const dags = new Hono<AppEnv>()
  .get("/", async (c) => {
    const q = new QueryReader(c);
    const { limit, offset } = q.page();
    const mode = q.oneOf("tags_match_mode", ["any", "all"]);
    const lastRunState = q.oneOf("last_dag_run_state", DagRunState.options);
    const excludeStale = q.bool("exclude_stale") ?? true;
    const paused = q.bool("paused");
    q.done();
    const order = q.orderBy(DAG_ORDER, "dag_id", "d.dag_id");
    const pattern = q.string("dag_id_pattern") ?? q.string("dag_display_name_pattern");
    const { db } = c.get("deps");
    const page = await listDagsPage(
      db.sql,
      {
        excludeStale,
        paused,
        idPattern: pattern === "~" ? null : pattern,
        tags: q.list("tags"),
        tagsMatchAll: mode === "all",
        lastRunState,
        runStates: q.list("dag_run_state"),
      },
      order,
      limit,
      offset,
    );
    const at = now(c);
    return c.json({
      dags: page.dags.map((d) => dagResponse(d, at)),
      total_entries: page.total,
    });
  })
  .get("/:dag_id", async (c) => {
    const dag = await dagOr404(c, c.req.param("dag_id"));
    return c.json(dagResponse(dag, now(c)));
  })
  .patch("/:dag_id", async (c) => {
    const dagId = c.req.param("dag_id");
    const { db } = c.get("deps");
    const b = await body(c, DAGPatchBody);
    await dagOr404(c, dagId);
    const mask = new QueryReader(c).list("update_mask");
    if (mask.some((field) => field !== "is_paused")) {
      badRequest("Only `is_paused` field can be updated through the REST API");
    }
    if (await setPausedAudited(c, dagId, b.is_paused) && !b.is_paused) await wakeScheduler(db);
    return c.json(dagResponse((await getApiDag(db.sql, dagId))!, now(c)));
  });
