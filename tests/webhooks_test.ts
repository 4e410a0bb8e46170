/**
 * Webhooks as a sender sees them: signatures (Gust's and GitHub's, with GitHub's documented
 * example), replays, idempotency under concurrent duplicate deliveries, body limits, malformed
 * and hostile bodies, paused DAGs and rate limits, and that a refused request writes nothing.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { DEFAULT_WEBHOOK_CONFIG, type WebhookConfig } from "../config.ts";
import type { Db } from "../db/client.ts";
import { recordImportError, storeDagVersion } from "../db/dags.ts";
import { parseDagFolder, type ParsedFile } from "../scheduler/dag_processor.ts";
import { createApp } from "../routes/mod.ts";
import {
  signGitHub,
  signGust,
  timingSafeEqual,
  verifySignature,
} from "../routes/webhook_signature.ts";
import { TEST_LOCAL_TOKEN, testAuth } from "./auth_helpers.ts";
import { dagFolder, dbTest, TestClock } from "./helpers.ts";

/** Webhooks need no credential; reading the API does. */
const ADMIN = { authorization: `Bearer ${TEST_LOCAL_TOKEN}` };

// GitHub's example, from "Validating webhook deliveries" in its documentation.
const GITHUB_SECRET = "It's a Secret to Everybody";
const GITHUB_PAYLOAD = "Hello, World!";
const GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

const SECRETS: Record<string, string> = {
  GUST_WEBHOOK_SECRET_GITHUB_PUSH: GITHUB_SECRET,
  GUST_WEBHOOK_SECRET_ORDERS: "orders-secret",
  GUST_WEBHOOK_SECRET_PAUSED_HOOK: "paused-secret",
  GUST_WEBHOOK_SECRET_RATE_HOOK: "rate-secret",
  MY_HOOK_SECRET: "named-secret",
};

const DAGS = {
  "hooks.ts": `
import { dag } from "gust";
import { z } from "zod";
const work = (t) => { t.task("a", () => 1); };
export const github = dag({ id: "github_push", webhook: true }, work);
export const orders = dag({
  id: "orders",
  webhook: true,
  params: z.object({ order_id: z.number().int(), note: z.string().default("") }),
}, work);
export const named = dag({ id: "named-hook", webhook: { secretEnv: "MY_HOOK_SECRET" } }, work);
export const plain = dag({ id: "plain" }, work);
export const noSecret = dag({ id: "no_secret", webhook: true }, work);
export const paused = dag({ id: "paused_hook", webhook: true, pausedOnCreation: true }, work);
export const rate = dag({ id: "rate_hook", webhook: true }, work);
`,
};

let parsed: Promise<ParsedFile[]> | null = null;

/** Parses the DAG files once for the whole file (runner processes are slow to start). */
async function loadDags(db: Db, now: Date): Promise<void> {
  parsed ??= dagFolder(DAGS).then((folder) => parseDagFolder(folder, { timeoutMs: 20_000 }));
  for (const f of await parsed) {
    if (f.error) await recordImportError(db.sql, { filename: f.file, ...f.error, now });
    for (const d of f.dags) {
      await storeDagVersion(db, { ...d, fileloc: f.file, source: f.source, now });
    }
  }
}

async function counts(db: Db) {
  const [row] = await db.sql<{ runs: number; tis: number; deliveries: number }>`
    SELECT (SELECT count(*) FROM dag_run)::int AS runs,
      (SELECT count(*) FROM task_instance)::int AS tis,
      (SELECT count(*) FROM webhook_delivery)::int AS deliveries`;
  return row;
}

function setup(
  db: Db,
  clock: TestClock,
  webhook: Partial<WebhookConfig> = {},
  maxBodyBytes?: number,
) {
  const app = createApp({
    db,
    roles: [],
    startedAt: clock.now(),
    clock: clock.now,
    maxBodyBytes,
    webhook: { ...DEFAULT_WEBHOOK_CONFIG, rateLimit: null, variables: SECRETS, ...webhook },
    auth: testAuth(),
  });
  const seconds = () => String(Math.floor(clock.now().getTime() / 1000));
  return {
    app,
    /** A request signed with Gust's scheme. */
    async gust(
      dagId: string,
      body: string,
      o: { secret?: string; timestamp?: string; key?: string; headers?: Record<string, string> } =
        {},
    ) {
      const timestamp = o.timestamp ?? seconds();
      const secret = o.secret ?? SECRETS[`GUST_WEBHOOK_SECRET_${dagId.toUpperCase()}`];
      return await app.request(`/webhooks/${dagId}`, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "x-gust-timestamp": timestamp,
          "x-gust-signature": await signGust(secret, timestamp, body),
          ...(o.key ? { "idempotency-key": o.key } : {}),
          ...o.headers,
        },
      });
    },
    /** A request signed as GitHub signs, with its delivery id. */
    async github(dagId: string, body: string, delivery?: string, headers = {}) {
      const secret = SECRETS[`GUST_WEBHOOK_SECRET_${dagId.toUpperCase()}`] ?? GITHUB_SECRET;
      return await app.request(`/webhooks/${dagId}`, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "x-hub-signature-256": await signGitHub(secret, body),
          "x-github-event": "push",
          ...(delivery ? { "x-github-delivery": delivery } : {}),
          ...headers,
        },
      });
    },
  };
}

/** Asserts the answer's status and that the request wrote nothing. */
async function refused(
  db: Db,
  status: number,
  send: () => Response | Promise<Response>,
) {
  const before = await counts(db);
  const res = await send();
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.deepEqual(await counts(db), before, "a refused request wrote nothing");
  return JSON.parse(text);
}

Deno.test("GitHub's documented example signature is what Gust computes and accepts", async () => {
  assert.equal(await signGitHub(GITHUB_SECRET, GITHUB_PAYLOAD), GITHUB_SIGNATURE);
  const headers = new Headers({ "x-hub-signature-256": GITHUB_SIGNATURE });
  const body = new TextEncoder().encode(GITHUB_PAYLOAD);
  const verdict = await verifySignature(headers, body, GITHUB_SECRET, new Date(), 300_000);
  assert.deepEqual(verdict, { ok: true, scheme: "github", signature: GITHUB_SIGNATURE.slice(7) });
  const wrong = await verifySignature(headers, body, "another secret", new Date(), 300_000);
  assert.equal(wrong.ok, false);
});

Deno.test("Gust's signature is the HMAC-SHA256 of `<timestamp>.<body>`", async () => {
  const body = '{"a":1}';
  // Computed independently, with Node's crypto module.
  const expected = createHmac("sha256", "k").update(`1700000000.${body}`).digest("hex");
  assert.equal(await signGust("k", "1700000000", body), `sha256=${expected}`);
  const now = new Date(1_700_000_000_000);
  const headers = new Headers({
    "x-gust-timestamp": "1700000000",
    "x-gust-signature": `sha256=${expected.toUpperCase()}`,
  });
  const bytes = new TextEncoder().encode(body);
  assert.equal((await verifySignature(headers, bytes, "k", now, 300_000)).ok, true);
  headers.set("x-gust-timestamp", "1700000001"); // the timestamp is covered by the signature
  assert.deepEqual(await verifySignature(headers, bytes, "k", now, 300_000), {
    ok: false,
    reason: "Signature does not match",
  });
});

Deno.test("timingSafeEqual compares whole byte arrays", () => {
  const a = new Uint8Array([1, 2, 3]);
  assert.equal(timingSafeEqual(a, new Uint8Array([1, 2, 3])), true);
  assert.equal(timingSafeEqual(a, new Uint8Array([1, 2, 4])), false);
  assert.equal(timingSafeEqual(a, new Uint8Array([1, 2])), false);
});

dbTest("signed webhooks start runs; bad, stale and foreign signatures do not", async (t, db) => {
  const clock = new TestClock(new Date("2026-03-01T12:00:00Z"));
  await loadDags(db, clock.now());
  const { app, gust, github } = setup(db, clock);

  await t.step("a valid Gust signature starts a run with the body as conf (202)", async () => {
    const res = await gust("orders", JSON.stringify({ order_id: 7 }), { key: "order-7" });
    assert.equal(res.status, 202);
    const body = await res.json();
    assert.equal(body.dag_id, "orders");
    assert.equal(body.duplicate, false);
    assert.equal(body.state, "running"); // started at once: the DAG may run it now
    assert.match(body.dag_run_id, /^webhook__2026-03-01T12:00:00\.000Z_[0-9a-f]{8}$/);
    assert.equal(res.headers.get("location"), body.url);
    // Committed before the answer: any reader sees the run and its tasks at once.
    const [run] = await db.sql<{ runType: string; conf: unknown; tis: number }>`
      SELECT run_type AS "runType", conf,
        (SELECT count(*)::int FROM task_instance ti WHERE ti.dag_run_id = r.id) AS tis
      FROM dag_run r WHERE run_id = ${body.dag_run_id}`;
    assert.deepEqual(run, { runType: "webhook", conf: { order_id: 7, note: "" }, tis: 1 });
    // The URL answers with the run, in Airflow's shape.
    const api = await (await app.request(body.url, { headers: ADMIN })).json();
    assert.equal(api.dag_run_id, body.dag_run_id);
    assert.equal(api.run_type, "manual");
    assert.equal(api.triggered_by, "rest_api");
  });

  await t.step("a DAG's own secret variable (secretEnv) signs its webhooks", async () => {
    assert.equal((await gust("named-hook", "{}", { secret: "named-secret" })).status, 202);
    await refused(db, 401, () => gust("named-hook", "{}", { secret: "wrong" }));
  });

  await t.step("a bad signature is 401 and writes nothing", async () => {
    const body = JSON.stringify({ order_id: 8 });
    const bad = await refused(db, 401, () => gust("orders", body, { secret: "not the secret" }));
    assert.equal(bad.detail, "Signature does not match");
    await refused(db, 401, () => app.request("/webhooks/orders", { method: "POST", body }) // unsigned
    );
    await refused(
      db,
      401,
      () => gust("orders", body, { headers: { "x-gust-signature": "sha256=abc" } }),
    );
    await refused(
      db,
      401,
      () => gust("orders", body, { headers: { "x-gust-timestamp": "yesterday" } }),
    );
    // The signature of another body.
    const ts = String(Math.floor(clock.now().getTime() / 1000));
    await refused(db, 401, async () =>
      app.request("/webhooks/orders", {
        method: "POST",
        body,
        headers: {
          "x-gust-timestamp": ts,
          "x-gust-signature": await signGust("orders-secret", ts, '{"order_id":9}'),
        },
      }));
  });

  await t.step("another DAG's secret is a bad signature", async () => {
    await refused(
      db,
      401,
      () => gust("orders", JSON.stringify({ order_id: 1 }), { secret: GITHUB_SECRET }),
    );
    await refused(db, 401, () => gust("github_push", "{}", { secret: "orders-secret" }));
  });

  await t.step("a timestamp outside the 5 minute tolerance is 401", async () => {
    const now = Math.floor(clock.now().getTime() / 1000);
    const body = JSON.stringify({ order_id: 10 });
    for (const skew of [-301, 301]) {
      const res = await refused(
        db,
        401,
        () => gust("orders", body, { timestamp: String(now + skew) }),
      );
      assert.equal(res.detail, "Signature timestamp is outside the tolerance");
    }
    for (const skew of [-299, 299]) {
      const res = await gust("orders", body, { timestamp: String(now + skew), key: `skew${skew}` });
      assert.equal(res.status, 202);
    }
  });

  await t.step(
    "a replayed signed request returns the first run, with or without its key",
    async () => {
      const body = JSON.stringify({ order_id: 11 });
      const timestamp = String(Math.floor(clock.now().getTime() / 1000));
      const first = await (await gust("orders", body, { timestamp, key: "replay-11" })).json();
      const before = await counts(db);
      const again = await gust("orders", body, { timestamp, key: "replay-11" });
      assert.equal(again.status, 202);
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      const replay = await again.json();
      assert.equal(replay.dag_run_id, first.dag_run_id);
      assert.equal(replay.duplicate, true);
      // The key is not signed: swapping it does not make the same signed request new.
      const swapped = await (await gust("orders", body, { timestamp, key: "another-key" })).json();
      assert.equal(swapped.dag_run_id, first.dag_run_id);
      const keyless = await (await gust("orders", body, { timestamp })).json();
      assert.equal(keyless.dag_run_id, first.dag_run_id);
      assert.deepEqual(await counts(db), before);
      // Later, the same request is stale.
      clock.advance(301_000);
      await refused(db, 401, () => gust("orders", body, { timestamp, key: "replay-11" }));
    },
  );

  await t.step("a key reused with another body is 422", async () => {
    assert.equal((await gust("orders", '{"order_id": 12}', { key: "k-12" })).status, 202);
    const res = await refused(db, 422, () => gust("orders", '{"order_id": 13}', { key: "k-12" }));
    assert.equal(res.detail[0].type, "idempotency_key_reused");
  });

  await t.step("GitHub's scheme: signature of the body, delivery id as the key", async () => {
    const body = JSON.stringify({ ref: "refs/heads/main", after: "abc123" });
    const first = await github("github_push", body, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert.equal(first.status, 202);
    const run = await first.json();
    const redelivered = await github("github_push", body, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert.equal((await redelivered.json()).dag_run_id, run.dag_run_id);
    // GitHub's example payload is signed correctly but is not a JSON object: signature passes,
    // the body is refused.
    const example = await refused(db, 422, () =>
      app.request("/webhooks/github_push", {
        method: "POST",
        body: GITHUB_PAYLOAD,
        headers: { "x-hub-signature-256": GITHUB_SIGNATURE, "x-github-delivery": "d-example" },
      }));
    assert.equal(example.detail[0].type, "json_invalid");
    await refused(db, 401, () =>
      app.request("/webhooks/github_push", {
        method: "POST",
        body: GITHUB_PAYLOAD + " ",
        headers: { "x-hub-signature-256": GITHUB_SIGNATURE },
      }));
  });

  await t.step("GitHub's ping is answered and starts nothing", async () => {
    const before = await counts(db);
    const res = await github("github_push", '{"zen":"Keep it logically awesome."}', "ping-1", {
      "x-github-event": "ping",
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await counts(db), before);
  });

  await t.step("unknown DAGs and DAGs without webhooks or secrets are 404 alike", async () => {
    const a = await refused(db, 404, () => gust("nope", "{}", { secret: "x" }));
    const b = await refused(db, 404, () => gust("plain", "{}", { secret: "x" }));
    const c = await refused(db, 404, () => gust("no_secret", "{}", { secret: "x" }));
    assert.deepEqual([a, b, c].map((r) => r.detail.replace(/"[^"]*"/, "")), [
      "DAG  does not accept webhooks",
      "DAG  does not accept webhooks",
      "DAG  does not accept webhooks",
    ]);
    const get = await app.request("/webhooks/orders");
    assert.equal(get.status, 405);
  });

  await t.step("a paused DAG is 409, after the signature is checked", async () => {
    await refused(db, 401, () => gust("paused_hook", "{}", { secret: "wrong" }));
    const res = await refused(db, 409, () => gust("paused_hook", "{}", { key: "p1" }));
    assert.match(res.detail, /paused/);
  });
});

dbTest("concurrent duplicate deliveries start one run", async (t, db) => {
  const clock = new TestClock(new Date("2026-03-01T12:00:00Z"));
  await loadDags(db, clock.now());
  const { gust, github } = setup(db, clock);

  await t.step("10 parallel GitHub deliveries with one delivery id", async () => {
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => github("github_push", body, "same-delivery")),
    );
    const bodies = await Promise.all(answers.map((r) => r.json()));
    assert.deepEqual(answers.map((r) => r.status), Array(10).fill(202));
    assert.equal(new Set(bodies.map((b) => b.dag_run_id)).size, 1);
    assert.equal(bodies.filter((b) => !b.duplicate).length, 1);
    const [{ n }] = await db.sql<{ n: number }>`
      SELECT count(*)::int AS n FROM dag_run WHERE dag_id = 'github_push'`;
    assert.equal(n, 1);
  });

  await t.step("10 parallel Gust deliveries with one key, each signed anew", async () => {
    const body = JSON.stringify({ order_id: 1 });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      gust("orders", body, {
        key: "same-key",
        timestamp: String(Math.floor(clock.now().getTime() / 1000) - i),
      })));
    const bodies = await Promise.all(answers.map((r) => r.json()));
    assert.deepEqual(answers.map((r) => r.status), Array(10).fill(202));
    assert.equal(new Set(bodies.map((b) => b.dag_run_id)).size, 1);
    const [{ n }] = await db.sql<{ n: number }>`
      SELECT count(*)::int AS n FROM dag_run WHERE dag_id = 'orders'`;
    assert.equal(n, 1);
  });

  await t.step("5 parallel distinct deliveries start 5 runs", async () => {
    const answers = await Promise.all(
      Array.from(
        { length: 5 },
        (_, i) => github("github_push", JSON.stringify({ n: i }), `distinct-${i}`),
      ),
    );
    assert.deepEqual(answers.map((r) => r.status), Array(5).fill(202));
    const ids = new Set(await Promise.all(answers.map(async (r) => (await r.json()).dag_run_id)));
    assert.equal(ids.size, 5);
  });
});

dbTest("oversized, malformed and hostile bodies", async (t, db) => {
  const clock = new TestClock(new Date("2026-03-01T12:00:00Z"));
  await loadDags(db, clock.now());
  const limit = 64 * 1024;
  const { app, gust } = setup(db, clock, {}, limit);
  const secret = SECRETS.GUST_WEBHOOK_SECRET_ORDERS;

  await t.step("a declared length over the limit is 413 before a byte is read", async () => {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const ts = String(Math.floor(clock.now().getTime() / 1000));
    await refused(db, 413, async () =>
      app.request("/webhooks/orders", {
        method: "POST",
        body: stream,
        headers: {
          "content-length": String(limit + 1),
          "x-gust-timestamp": ts,
          "x-gust-signature": await signGust(secret, ts, ""),
        },
      }));
    assert.ok(pulled <= 1, `read ${pulled} chunks of a body refused by its length`);
  });

  await t.step("an endless body without a length is cut at the limit (413)", async () => {
    let bytes = 0;
    const chunk = new Uint8Array(16 * 1024).fill(32);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    await refused(db, 413, () => app.request("/webhooks/orders", { method: "POST", body: stream }));
    assert.ok(bytes <= limit + 4 * chunk.byteLength, `read ${bytes} bytes of an endless body`);
  });

  await t.step(
    "a signed body one byte over the limit is 413; at the limit it is read",
    async () => {
      const at = JSON.stringify({ order_id: 1, note: "x".repeat(limit - 30) });
      const padded = at.padEnd(limit, " ");
      assert.equal((await gust("orders", padded, { key: "at-limit" })).status, 202);
      await refused(db, 413, () => gust("orders", padded + " "));
    },
  );

  await t.step("malformed JSON, non-objects and confs the params refuse are 422", async () => {
    for (const body of ["{nope", "[1, 2]", '"text"', "null", "42"]) {
      const res = await refused(db, 422, () => gust("orders", body));
      assert.ok(Array.isArray(res.detail) && res.detail[0].loc[0] === "body", body);
    }
    const res = await refused(db, 422, () => gust("orders", JSON.stringify({ order_id: "x" })));
    assert.match(res.detail.map((d: { msg: string }) => d.msg).join(";"), /order_id/);
    await refused(db, 422, () => gust("orders", "{}")); // order_id is required
    await refused(db, 422, () => gust("orders", '{"order_id":1}', { key: "k".repeat(300) }));
  });

  await t.step("hostile strings in conf are stored and returned as data", async () => {
    const hostile = {
      order_id: 1,
      note: `<script>alert("x")</script>'; DROP TABLE dag_run; -- \u0000\u202e`.replace(
        "\u0000",
        "",
      ),
    };
    const res = await gust("orders", JSON.stringify(hostile), {
      key: "<img src=x onerror=alert(1)>",
    });
    assert.equal(res.status, 202);
    const { url } = await res.json();
    const run = await app.request(url, { headers: ADMIN });
    assert.match(run.headers.get("content-type")!, /application\/json/);
    assert.equal(run.headers.get("x-content-type-options"), "nosniff");
    assert.deepEqual((await run.json()).conf, hostile);
    const [{ n }] = await db.sql<{ n: number }>`SELECT count(*)::int AS n FROM dag_run`;
    assert.ok(n >= 1, "dag_run is still there");
  });

  await t.step("hostile DAG ids in the path are a 404 in JSON", async () => {
    for (const id of ["<script>alert(1)</script>", "'; DROP TABLE dag; --", "..%2F..%2Fetc", "~"]) {
      const res = await refused(
        db,
        404,
        () => app.request(`/webhooks/${encodeURIComponent(id)}`, { method: "POST", body: "{}" }),
      );
      assert.equal(typeof res.detail, "string");
    }
  });
});

dbTest("rate limits and forgotten idempotency keys", async (t, db) => {
  const clock = new TestClock(new Date("2026-03-01T12:00:00Z"));
  await loadDags(db, clock.now());
  const { gust } = setup(db, clock, {
    rateLimit: { count: 2, windowMs: 60_000 },
    idempotencyTtlMs: 3_600_000,
  });

  await t.step("past the DAG's limit a delivery is 429 with Retry-After", async () => {
    assert.equal((await gust("rate_hook", '{"n":1}', { key: "r1" })).status, 202);
    clock.advance(10_000);
    assert.equal((await gust("rate_hook", '{"n":2}', { key: "r2" })).status, 202);
    clock.advance(10_000);
    let retryAfter = "";
    await refused(db, 429, async () => {
      const res = await gust("rate_hook", '{"n":3}', { key: "r3" });
      retryAfter = res.headers.get("retry-after") ?? "";
      return res;
    });
    assert.equal(retryAfter, "40"); // the first run leaves the window 40 s from now
    // A repeat of an accepted delivery is not a new run, so it is answered even now.
    const repeat = await gust("rate_hook", '{"n":1}', { key: "r1" });
    assert.equal(repeat.status, 202);
    // Other DAGs have limits of their own.
    assert.equal((await gust("orders", '{"order_id":1}', { key: "o1" })).status, 202);
    clock.advance(41_000);
    assert.equal((await gust("rate_hook", '{"n":3}', { key: "r3" })).status, 202);
  });

  await t.step("a key older than its time to live starts a run again", async () => {
    const first = await (await gust("orders", '{"order_id":5}', { key: "ttl" })).json();
    clock.advance(3_600_001);
    const later = await (await gust("orders", '{"order_id":5}', { key: "ttl" })).json();
    assert.equal(later.duplicate, false);
    assert.notEqual(later.dag_run_id, first.dag_run_id);
  });
});
