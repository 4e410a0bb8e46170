/** The dashboard's pages, rendered on the server. */
import { Hono } from "hono";
import { renderToString } from "preact-render-to-string";
import { listImportErrors } from "../db/dags.ts";
import { type DagListItem, DagsPage } from "../views/dags_page.tsx";
import type { AppEnv } from "./mod.ts";

export const ui = new Hono<AppEnv>().get("/", async (c) => {
  const { db } = c.get("deps");
  // One query for the list and the five latest runs of each DAG, not one per DAG.
  const dags = await db.sql<DagListItem>`
    SELECT d.dag_id AS "dagId", v.serialized->>'description' AS description,
      v.serialized->>'schedule' AS schedule,
      ARRAY(SELECT jsonb_array_elements_text(v.serialized->'tags')) AS tags,
      d.is_paused AS "isPaused",
      COALESCE((SELECT json_agg(json_build_object('runId', r.run_id, 'state', r.state))
        FROM (SELECT run_id, state FROM dag_run WHERE dag_id = d.dag_id
          ORDER BY run_after DESC, id DESC LIMIT 5) r), '[]') AS "recentRuns"
    FROM dag d JOIN dag_version v ON v.id = d.latest_version_id
    WHERE d.is_active ORDER BY d.dag_id`;
  const importErrors = await listImportErrors(db.sql);
  return c.html(
    `<!DOCTYPE html>${renderToString(<DagsPage dags={dags} importErrors={importErrors} />)}`,
  );
});
