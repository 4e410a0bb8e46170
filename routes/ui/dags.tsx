/** `/`: the DAG list, with search, tag filter and pages; its fragment for htmx's live search. */
import { Hono } from "hono";
import { listImportErrors } from "../../db/dags.ts";
import { dagListMarker, listDagsPage, listTags } from "../../db/ui_dags.ts";
import { listSchedulers } from "../../db/schedulers.ts";
import { DagList, DAGS_PER_PAGE, DagsPage } from "../../views/dags_page.tsx";
import type { AppEnv } from "../mod.ts";
import { conditional, type Marked, marked } from "./cache.ts";
import { coalesce } from "./coalesce.ts";
import { fragment, intParam, page, type UiContext, wantsFragment } from "./common.tsx";

const MAX_IMPORT_ERRORS = 50;

function listQuery(c: UiContext) {
  const q = (c.req.query("q") ?? "").trim().slice(0, 200);
  const tag = c.req.query("tag")?.slice(0, 200) || null;
  const pageNumber = Math.max(1, intParam(c.req.query("page")) ?? 1);
  const filter = { search: q, tag, limit: DAGS_PER_PAGE, offset: (pageNumber - 1) * DAGS_PER_PAGE };
  return { q, tag, pageNumber, filter };
}

function listMarker(c: UiContext): Promise<Marked<string> | null> {
  const { db } = c.get("deps");
  const { filter } = listQuery(c);
  const key = `dags:${JSON.stringify(filter)}`;
  return coalesce(db.sql, key, () => dagListMarker(db.sql, filter).then(marked));
}

export const dagsUi = new Hono<AppEnv>().get("/", conditional(listMarker), async (c) => {
  const { db } = c.get("deps");
  const { q, tag, pageNumber, filter } = listQuery(c);
  const { dags, total } = await listDagsPage(db.sql, filter);
  const list = { dags, total, page: pageNumber, q, tag };
  if (wantsFragment(c)) return fragment(c, <DagList {...list} />);
  const [importErrors, tags, schedulers] = await Promise.all([
    listImportErrors(db.sql).then((errors) => errors.slice(0, MAX_IMPORT_ERRORS)),
    listTags(db.sql),
    listSchedulers(db.sql),
  ]);
  return page(
    c,
    <DagsPage {...list} importErrors={importErrors} tags={tags} schedulers={schedulers} />,
  );
});
