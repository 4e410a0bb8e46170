/**
 * Conditional answers for the dashboard pages that are asked for again and again: the DAG list
 * and a DAG's grid, whose htmx fragment every open grid polls every 2 to 10 s. The route reads a
 * change marker first (what the page shows, hashed in the database: `gridMarker`,
 * `dagListMarker`), and from it and everything else the answer depends on comes a weak ETag.
 * Then:
 *
 * - a request whose `If-None-Match` holds that ETag gets a 304 without anything rendered (a
 *   browser sends it for a page it has, and for htmx's polls too: they are XHRs, which go
 *   through the HTTP cache, and `Cache-Control: no-cache` lets the browser keep a copy it must
 *   revalidate);
 * - another request for an ETag rendered lately gets the HTML kept from then, gzipped once;
 * - only a marker not seen before renders, once for all the requests that want it.
 *
 * Measured on the benchmark's 200 tasks × 25 runs and 502 DAGs (wrk, 16 connections, idle): the
 * grid went from about 25 to 650 answers a second and the list from 170 to 2,100; what is left
 * per request is mostly the marker's read (coalesced, see coalesce.ts) and writing the answer.
 */
import type { MiddlewareHandler } from "hono";
import { gzipSync } from "node:zlib";
import type { AppEnv } from "../mod.ts";
import { type UiContext, wantsFragment } from "./common.tsx";
import { type Page, pageStore } from "./page_cache.ts";

/**
 * What a page shows for the one asking, beyond the data: the viewer's name, role and whether it
 * signed in with a session (the header shows them; a Viewer's page has no action buttons).
 * Everything a page renders from the request must be here, or one user would be answered with a
 * page rendered for another. And whatever decides who may see a page runs before `conditional`
 * (the access middleware in ui.tsx), since a 304 or a kept page skips the route.
 */
export function pageVary(c: UiContext): unknown[] {
  const p = c.get("principal");
  return p ? [p.kind, p.name, p.role, p.via === "session"] : [null];
}

// The markers say which data a page shows, not which code rendered it: a new process (a deploy,
// a restart) must not confirm a copy rendered by the previous one.
const BOOT = crypto.randomUUID();

const VARY = "HX-Request, HX-History-Restore-Request, Accept-Encoding";
const CACHE_CONTROL = "private, no-cache";

/** A change marker with its digest, computed once for all the requests that share its read. */
export interface Marked<M> {
  value: M;
  digest: string;
}

export async function marked<M>(value: M | null): Promise<Marked<M> | null> {
  return value === null ? null : { value, digest: await digest(JSON.stringify(value)) };
}

/**
 * Middleware for a GET route: `read` gives the page's change marker (null: let the route answer,
 * as it does for a DAG that does not exist), then the answer comes as described above. The route
 * renders only when it must, once for all the requests that want the same new page, and can read
 * the marker with `markerOf`.
 */
export function conditional<M>(
  read: (c: UiContext) => Promise<Marked<M> | null>,
  vary: (c: UiContext) => unknown[] = pageVary,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const marker = await read(c);
    if (marker === null) return await next();
    markers.set(c, marker.value);
    const variant = JSON.stringify([BOOT, c.req.url, wantsFragment(c), vary(c)]);
    const etag = `W/"${marker.digest}.${await variantDigest(variant)}"`;
    const headers: Record<string, string> = {
      ETag: etag,
      "Cache-Control": CACHE_CONTROL,
      Vary: VARY,
    };
    if (matches(c.req.header("If-None-Match"), etag)) {
      c.res = c.body(null, 304, headers);
      return;
    }
    const store = pageStore(c.get("deps").db.sql);
    let page = store.pages.get(etag) ?? null;
    const pending = page ? undefined : store.rendering.get(etag);
    if (pending) page = await pending.catch(() => null); // if it failed, try again here
    if (!page) {
      // No await from the lookup to here, so no other request can start the same render.
      const rendering = render(c, next);
      store.rendering.set(etag, rendering);
      try {
        page = await rendering;
      } finally {
        if (store.rendering.get(etag) === rendering) store.rendering.delete(etag);
      }
      if (!page) return; // the route's own answer, not a page to keep, stands
      store.pages.set(etag, page);
      c.res = undefined; // the answer below replaces the route's, headers and all
    }
    headers["Content-Type"] = "text/html; charset=UTF-8";
    if (!acceptsGzip(c.req.header("Accept-Encoding"))) {
      c.res = c.body(page.body, 200, headers);
      return;
    }
    if (!page.gzip) {
      page.gzip = new Uint8Array(gzipSync(page.body));
      store.pages.set(etag, page);
    }
    headers["Content-Encoding"] = "gzip";
    c.res = c.body(page.gzip, 200, headers);
  };
}

async function render(c: UiContext, next: () => Promise<void>): Promise<Page | null> {
  await next();
  if (c.res.status !== 200) return null;
  return { body: new TextEncoder().encode(await c.res.text()), gzip: null };
}

const markers = new WeakMap<UiContext, unknown>();

/** The marker `conditional` read for this request, if it read one. */
export function markerOf<M>(c: UiContext): M | null {
  return (markers.get(c) as M | undefined) ?? null;
}

/** 128 bits of SHA-256, base64: collisions would confirm or serve another page. */
async function digest(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(hash, 0, 16))).replace(/=+$/, "");
}

// The few addresses and sessions that ask again and again, hashed once each.
const variants = new Map<string, string>();

async function variantDigest(variant: string): Promise<string> {
  let hash = variants.get(variant);
  if (hash === undefined) {
    hash = await digest(variant);
    if (variants.size >= 1000) variants.delete(variants.keys().next().value!);
    variants.set(variant, hash);
  }
  return hash;
}

/** `If-None-Match` compares weakly: `W/` is ignored on both sides. */
export function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  const want = etag.replace(/^W\//, "");
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === want);
}

/** Whether `Accept-Encoding` allows gzip (named or through `*`, and not with `q=0`). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let wildcard = false;
  for (const part of header.split(",")) {
    const [name, ...params] = part.split(";").map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith("q="));
    const allowed = q === undefined || Number(q.slice(2)) > 0;
    if (name === "gzip") return allowed;
    if (name === "*") wildcard = allowed;
  }
  return wildcard;
}
