import assert from "node:assert/strict";
import { Hono } from "hono";
import type { AppEnv, Deps } from "../mod.ts";
import { acceptsGzip, conditional, marked, matches } from "./cache.ts";
import type { UiContext } from "./common.tsx";
import { PageCache } from "./page_cache.ts";

Deno.test("If-None-Match matches weakly, in a list, or as *", () => {
  const etag = 'W/"abc"';
  assert.ok(matches('W/"abc"', etag));
  assert.ok(matches('"abc"', etag), "W/ is ignored");
  assert.ok(matches('"x", W/"abc"', etag));
  assert.ok(matches(" * ", etag));
  assert.ok(!matches('"abcd"', etag));
  assert.ok(!matches(undefined, etag));
  assert.ok(!matches("", etag));
});

Deno.test("Accept-Encoding allows gzip by name or through *, never with q=0", () => {
  assert.ok(acceptsGzip("gzip, deflate, br"));
  assert.ok(acceptsGzip("br;q=1.0, GZIP;q=0.5"));
  assert.ok(acceptsGzip("*"));
  assert.ok(!acceptsGzip("gzip;q=0, *"), "gzip refused by name despite *");
  assert.ok(!acceptsGzip("br, deflate"));
  assert.ok(!acceptsGzip("*;q=0"));
  assert.ok(!acceptsGzip(undefined));
});

Deno.test("the page cache keeps to its bytes, least recently used out first", () => {
  const page = (n: number) => ({ body: new Uint8Array(n), gzip: null });
  const cache = new PageCache(100);
  cache.set("a", page(40));
  cache.set("b", page(40));
  assert.ok(cache.get("a"), "a is now the most recently used");
  cache.set("c", page(40));
  assert.equal(cache.get("b"), undefined, "b went first");
  assert.ok(cache.get("a") && cache.get("c"));
  assert.equal(cache.bytes, 80);
  cache.set("a", { body: new Uint8Array(40), gzip: new Uint8Array(10) });
  assert.equal(cache.bytes, 90, "a page stored again is counted once");
  cache.set("huge", page(500));
  assert.ok(cache.get("huge"), "a page larger than the cache stays, alone");
  assert.equal(cache.bytes, 500);
});

/** A one-route app behind `conditional`, whose marker and answer the test sets. */
function probe() {
  const state = { marker: "m1", status: 200 as 200 | 404, renders: 0 };
  // As a signed-in page would vary: by a role the request carries.
  const role = (c: UiContext) => [c.req.header("X-Role") ?? "viewer"];
  const deps = { db: { sql: { cache: new Map() } } } as unknown as Deps;
  const app = new Hono<AppEnv>()
    .use(async (c, next) => {
      c.set("deps", deps);
      await next();
    })
    .get("/", conditional(() => marked(state.marker), role), async (c) => {
      state.renders++;
      await new Promise((resolve) => setTimeout(resolve, 20)); // a render takes a while
      return c.html(`<p>${state.marker} for ${role(c)[0]}</p>`, state.status);
    });
  return { app, state };
}

Deno.test("requests for the same new page wait for one render", async () => {
  const { app, state } = probe();
  const answers = await Promise.all(Array.from({ length: 8 }, () => app.request("/")));
  assert.equal(state.renders, 1);
  for (const res of answers) {
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "<p>m1 for viewer</p>");
  }
  assert.equal(new Set(answers.map((r) => r.headers.get("etag"))).size, 1);
  await (await app.request("/")).text();
  assert.equal(state.renders, 1, "kept");
  state.marker = "m2";
  assert.equal(await (await app.request("/")).text(), "<p>m2 for viewer</p>");
  assert.equal(state.renders, 2, "a new marker renders");
});

Deno.test("an answer that is not a page is neither kept nor shared", async () => {
  const { app, state } = probe();
  state.status = 404;
  const answers = await Promise.all([app.request("/"), app.request("/")]);
  assert.deepEqual(answers.map((r) => r.status), [404, 404]);
  await Promise.all(answers.map((r) => r.text()));
  assert.equal(state.renders, 2);
  assert.equal(answers[0].headers.get("etag"), null);
});

Deno.test("what varies by session gives another ETag and another kept page", async () => {
  const { app, state } = probe();
  const viewer = await app.request("/");
  const admin = await app.request("/", { headers: { "X-Role": "admin" } });
  assert.equal(await viewer.text(), "<p>m1 for viewer</p>");
  assert.equal(await admin.text(), "<p>m1 for admin</p>", "not the viewer's page");
  assert.notEqual(viewer.headers.get("etag"), admin.headers.get("etag"));
  const crossed = await app.request("/", {
    headers: { "X-Role": "admin", "If-None-Match": viewer.headers.get("etag")! },
  });
  assert.equal(crossed.status, 200, "the viewer's copy is not confirmed for an admin");
  assert.equal(await crossed.text(), "<p>m1 for admin</p>");
  assert.equal(state.renders, 2);
});
