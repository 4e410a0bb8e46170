/**
 * `/static/`: htmx, read from its npm package (pinned in deno.json, never from a CDN), and the
 * stylesheet. Pages link them with a version in the query, so they can be cached for a year.
 */
import { Hono } from "hono";
import htmx from "htmx.org/dist/htmx.min.js" with { type: "text" };
import { CSS } from "../../views/style.ts";
import type { AppEnv } from "../mod.ts";

const YEAR = "public, max-age=31536000, immutable";

function asset(body: string, type: string) {
  const etag = `"${body.length.toString(16)}-${hash(body)}"`;
  return (req: Request) =>
    req.headers.get("If-None-Match") === etag
      ? new Response(null, { status: 304, headers: { ETag: etag, "Cache-Control": YEAR } })
      : new Response(body, {
        headers: { "Content-Type": type, "Cache-Control": YEAR, ETag: etag },
      });
}

function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16);
}

const htmxAsset = asset(htmx, "text/javascript; charset=utf-8");
const cssAsset = asset(CSS, "text/css; charset=utf-8");

export const staticUi = new Hono<AppEnv>()
  .get("/htmx.min.js", (c) => htmxAsset(c.req.raw))
  .get("/gust.css", (c) => cssAsset(c.req.raw));
