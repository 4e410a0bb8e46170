/**
 * Conditional answers for the dashboard pages that are asked for again and again: the DAG list
 * and a DAG's grid, whose htmx fragment every open grid polls every 2 to 10 s. The route reads a
 * change marker first (row versions of what the page shows, a millisecond or two of database
 * time: `gridMarker`, `dagListMarker`), and from it and everything else the answer depends on
 * comes a weak ETag. Then:
 *
 * - a request whose `If-None-Match` holds that ETag gets a 304 without anything rendered (a
 *   browser sends it for a page it has, and for htmx's polls too: they are XHRs, which go
 *   through the HTTP cache, and `Cache-Control: no-cache` lets the browser keep a copy it must
 *   revalidate);
 * - another request for an ETag rendered lately gets the HTML kept from then, gzipped once;
 * - only a marker not seen before renders.
 *
 * Measured with 200 tasks × 25 runs, the grid cost about 17 ms of CPU per request before (the
 * cells' query, rendering, gzip); now an unchanged grid costs its marker read and the writing.
 */
import type { MiddlewareHandler } from "hono";
import { gzipSync } from "node:zlib";
import type { Sql } from "../../db/client.ts";
import type { AppEnv } from "../mod.ts";
import { type UiContext, wantsFragment } from "./common.tsx";

/**
 * What a page shows for the session asking, beyond the data: nothing yet. Once pages depend on
 * who is signed in (a Viewer sees no action buttons, forms carry a CSRF token), this must return
 * each such input (the role, the token, the user name if shown), or one session would be
 * answered with a page rendered for another.
 */
export function pageVary(_c: UiContext): unknown[] {
  return [];
}

// The markers say which data a page shows, not which code rendered it: a new process (a deploy,
// a restart) must not confirm a copy rendered by the previous one.
const BOOT = crypto.randomUUID();

const VARY = "HX-Request, HX-History-Restore-Request, Accept-Encoding";
const CACHE_CONTROL = "private, no-cache";

/**
 * Middleware for a GET route: `read` gives the page's change marker (null: let the route answer,
 * as it does for a DAG that does not exist), then the answer comes as described above. The route
 * renders only when it must, and can read the marker with `markerOf`.
 */
export function conditional<M>(
  read: (c: UiContext) => Promise<M | null>,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const marker = await read(c);
    if (marker === null) return await next();
    markers.set(c, marker);
    const etag = await etagOf([BOOT, c.req.url, wantsFragment(c), pageVary(c), marker]);
    const headers: Record<string, string> = {
      ETag: etag,
      "Cache-Control": CACHE_CONTROL,
      Vary: VARY,
    };
    if (matches(c.req.header("If-None-Match"), etag)) {
      c.res = c.body(null, 304, headers);
      return;
    }
    const cache = cacheOf(c.get("deps").db.sql);
    let page = cache.get(etag);
    if (!page) {
      await next();
      if (c.res.status !== 200) return;
      page = { body: new TextEncoder().encode(await c.res.text()), gzip: null };
      cache.set(etag, page);
      c.res = undefined; // the answer below replaces the route's, headers and all
    }
    headers["Content-Type"] = "text/html; charset=UTF-8";
    if (!acceptsGzip(c.req.header("Accept-Encoding"))) {
      c.res = c.body(page.body, 200, headers);
      return;
    }
    if (!page.gzip) {
      page.gzip = new Uint8Array(gzipSync(page.body));
      cache.set(etag, page);
    }
    headers["Content-Encoding"] = "gzip";
    c.res = c.body(page.gzip, 200, headers);
  };
}

const markers = new WeakMap<UiContext, unknown>();

/** The marker `conditional` read for this request, if it read one. */
export function markerOf<M>(c: UiContext): M | null {
  return (markers.get(c) as M | undefined) ?? null;
}

async function etagOf(parts: unknown[]): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(JSON.stringify(parts)),
  );
  const bytes = new Uint8Array(digest, 0, 16);
  return `W/"${btoa(String.fromCharCode(...bytes)).replace(/=+$/, "")}"`;
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

interface Page {
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer> | null;
}

/**
 * The pages rendered lately, least recently used first out. Bounded in bytes: a grid of 200 ×
 * 25 cells is about 250 KB of HTML and 20 KB gzipped, so the default keeps about a hundred.
 */
export class PageCache {
  #pages = new Map<string, Page>();
  #bytes = 0;

  constructor(readonly maxBytes = 32 * 1024 * 1024) {}

  get(key: string): Page | undefined {
    const page = this.#pages.get(key);
    if (page) {
      this.#pages.delete(key);
      this.#pages.set(key, page);
    }
    return page;
  }

  set(key: string, page: Page): void {
    const old = this.#pages.get(key);
    if (old) this.#bytes -= size(old);
    this.#pages.delete(key);
    this.#pages.set(key, page);
    this.#bytes += size(page);
    for (const [oldest, p] of this.#pages) {
      if (this.#bytes <= this.maxBytes || oldest === key) break;
      this.#pages.delete(oldest);
      this.#bytes -= size(p);
    }
  }

  get bytes(): number {
    return this.#bytes;
  }
}

function size(page: Page): number {
  return page.body.byteLength + (page.gzip?.byteLength ?? 0);
}

// Per database (the memo map a database and its transactions share): a test process opens many.
const caches = new WeakMap<Map<string, unknown>, PageCache>();

function cacheOf(sql: Sql): PageCache {
  let cache = caches.get(sql.cache);
  if (!cache) caches.set(sql.cache, cache = new PageCache());
  return cache;
}
