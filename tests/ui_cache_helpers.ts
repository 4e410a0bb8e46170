/**
 * Helpers for the tests of conditional answers: fetch a page as a browser revalidating its copy
 * would, and check that a change gives the page a new ETag (and shows), or that a write that
 * shows nowhere leaves it.
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import type { Db } from "../db/client.ts";
import type { AppEnv } from "../routes/mod.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { createFakeRun, type Doc, parse } from "./ui_helpers.ts";

export const HX = { "HX-Request": "true" };

/** A page the way a browser keeps it: where it was, how it was asked for, its ETag. */
export interface Copy {
  path: string;
  headers: Record<string, string>;
  etag: string;
}

export async function fetchCopy(
  app: Hono<AppEnv>,
  path: string,
  headers: Record<string, string> = {},
): Promise<Copy & { doc: Doc; html: string }> {
  const res = await app.request(path, { headers });
  const html = await res.text();
  assert.equal(res.status, 200, `${path}: ${html.slice(0, 200)}`);
  const etag = res.headers.get("etag") ?? "";
  assert.ok(etag.startsWith('W/"'), `${path}: a weak ETag, not ${etag}`);
  return { path, headers, etag, doc: parse(html), html };
}

/** Asserts the copy is still current: a revalidation gets 304, with no body. */
export async function assertUnchanged(app: Hono<AppEnv>, copy: Copy, what: string) {
  const res = await app.request(copy.path, {
    headers: { ...copy.headers, "If-None-Match": copy.etag },
  });
  assert.equal(res.status, 304, `${what}: ${copy.path} should still be current`);
  assert.equal(await res.text(), "");
  assert.equal(res.headers.get("etag"), copy.etag);
}

/**
 * Asserts the copy is stale: a revalidation gets a new page with a new ETag, which `check`
 * inspects. Returns the new copy, for the next change.
 */
export async function assertChanged(
  app: Hono<AppEnv>,
  copy: Copy,
  what: string,
  check: (doc: Doc) => void = () => {},
): Promise<Copy> {
  const res = await app.request(copy.path, {
    headers: { ...copy.headers, "If-None-Match": copy.etag },
  });
  const html = await res.text();
  assert.equal(res.status, 200, `${what}: ${copy.path} should have changed`);
  const etag = res.headers.get("etag")!;
  assert.notEqual(etag, copy.etag, what);
  check(parse(html));
  return { ...copy, etag };
}

/** A queued manual run of the DAG's latest version, at `at`; returns its id. */
export async function addRun(db: Db, dag: SerializedDag, runId: string, at: Date) {
  const [{ versionId }] = await db.sql<{ versionId: number }>`
    SELECT latest_version_id AS "versionId" FROM dag WHERE dag_id = ${dag.dagId}`;
  return await createFakeRun(db, dag, versionId, runId, { logicalDate: at, now: at });
}
