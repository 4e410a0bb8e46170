/**
 * What every dashboard route shares: rendering a page or its htmx fragment, answering an action
 * (the fragment for htmx, a redirect for a plain form post), reading form fields, loading the
 * DAG a page is about, and waking the scheduler after a change.
 */
import type { Context } from "hono";
import type { VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import type { Db } from "../../db/client.ts";
import { getDagVersion } from "../../db/dags.ts";
import { getDagHeader } from "../../db/ui_dags.ts";
import type { DagPageBase } from "../../views/dag_header.tsx";
import { NotFoundPage } from "../../views/layout.tsx";
import { ForbiddenPage } from "../../views/login_page.tsx";
import { type Viewer, ViewerContext } from "../../views/viewer.ts";
import { RUN_CHANGED_CHANNEL } from "../../db/channels.ts";
import type { AppEnv } from "../mod.ts";

export type UiContext = Context<AppEnv>;

/**
 * An htmx request for this URL's fragment. A history restore (back button after a swap that
 * pushed the URL) sends HX-Request too, but wants the whole page.
 */
export function wantsFragment(c: UiContext): boolean {
  return c.req.header("HX-Request") === "true" &&
    c.req.header("HX-History-Restore-Request") !== "true";
}

export type PageStatus = 200 | 401 | 403 | 404 | 409 | 422 | 429;

function html(c: UiContext, node: VNode, status: PageStatus, doctype: string) {
  // The same URL answers with a page or a fragment, so caches must key on the header; and
  // every page shows its viewer's name and controls, so none may be shared.
  c.header("Vary", "HX-Request");
  c.header("Cache-Control", "no-store");
  const principal = c.get("principal");
  const viewer: Viewer | null = principal
    ? { name: principal.name, role: principal.role, hasSession: principal.via === "session" }
    : null;
  const body = renderToString(
    <ViewerContext.Provider value={viewer}>{node}</ViewerContext.Provider>,
  );
  return c.html(doctype + body, status);
}

export function page(c: UiContext, node: VNode, status: PageStatus = 200) {
  return html(c, node, status, "<!DOCTYPE html>");
}

export function fragment(c: UiContext, node: VNode, status: PageStatus = 200) {
  return html(c, node, status, "");
}

export function notFound(c: UiContext, message: string) {
  return page(c, <NotFoundPage message={message} />, 404);
}

export function forbidden(c: UiContext, message: string) {
  return page(c, <ForbiddenPage message={message} />, 403);
}

/** After a POST: the updated fragment for htmx, or back to a page for a plain form. */
export function answer(c: UiContext, node: () => VNode | Promise<VNode>, back: string) {
  if (c.req.header("HX-Request") === "true") {
    return Promise.resolve(node()).then((n) => fragment(c, n));
  }
  return c.redirect(back, 303);
}

/**
 * Only a path on this site is a place to go back to: never `//host`, a scheme, a backslash
 * (browsers read `/\\host` as `//host`) or a control character (they drop tabs and newlines,
 * so `/<tab>/host` would become `//host`).
 */
export function safeBack(value: string | undefined, fallback: string): string {
  // deno-lint-ignore no-control-regex
  return value && /^\/(?![/\\])[^\\\u0000-\u001f\u007f]*$/.test(value) ? value : fallback;
}

/** Form fields as strings (files are not expected and are dropped). */
export async function formFields(c: UiContext): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === "string") fields[key] = value;
  }
  return fields;
}

/** A non-negative integer query parameter, or null when absent or malformed. */
export function intParam(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return null;
  return Number(value);
}

export async function loadDag(db: Db, dagId: string): Promise<DagPageBase | null> {
  const header = await getDagHeader(db.sql, dagId);
  if (!header) return null;
  const { serialized } = await getDagVersion(db.sql, header.latestVersionId);
  return { header, dag: serialized };
}

/** Wakes the scheduler after a change made here; a lost notification only costs a poll. */
export async function wakeScheduler(db: Db): Promise<void> {
  await db.notify(RUN_CHANGED_CHANNEL, "ui").catch(() => {});
}
