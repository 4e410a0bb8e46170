import assert from "node:assert/strict";
import { acceptsGzip, matches, PageCache } from "./cache.ts";

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
