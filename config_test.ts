import assert from "node:assert/strict";
import { ConfigError, loadConfig, webhookSecret, webhookSecretVariable } from "./config.ts";

Deno.test("webhook settings have defaults and are read from the environment", () => {
  const defaults = loadConfig({});
  assert.equal(defaults.maxBodyBytes, 1_048_576);
  assert.deepEqual(defaults.webhook.rateLimit, { count: 60, windowMs: 60_000 });
  assert.equal(defaults.webhook.toleranceMs, 300_000);
  assert.equal(defaults.webhook.idempotencyTtlMs, 86_400_000);
  const set = loadConfig({
    GUST_MAX_BODY_BYTES: "2048",
    GUST_WEBHOOK_TOLERANCE: "30s",
    GUST_WEBHOOK_RATE_LIMIT: "10/1h",
    GUST_WEBHOOK_IDEMPOTENCY_TTL: "1h",
  });
  assert.equal(set.maxBodyBytes, 2048);
  assert.equal(set.webhook.toleranceMs, 30_000);
  assert.deepEqual(set.webhook.rateLimit, { count: 10, windowMs: 3_600_000 });
  assert.equal(set.webhook.idempotencyTtlMs, 3_600_000);
  assert.equal(loadConfig({ GUST_WEBHOOK_RATE_LIMIT: "off" }).webhook.rateLimit, null);
});

Deno.test("a bad webhook setting stops the start and names the variable", () => {
  for (
    const [name, value] of [
      ["GUST_WEBHOOK_RATE_LIMIT", "lots"],
      ["GUST_WEBHOOK_RATE_LIMIT", "0/1m"],
      ["GUST_WEBHOOK_TOLERANCE", "soon"],
      ["GUST_WEBHOOK_SECRETS", "{not json"],
      ["GUST_WEBHOOK_SECRETS", '["a"]'],
      ["GUST_WEBHOOK_SECRETS", '{"a": 1}'],
    ]
  ) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(name),
      `${name}=${value}`,
    );
  }
  // The secrets themselves never appear in the message.
  assert.throws(
    () => loadConfig({ GUST_WEBHOOK_SECRETS: '{"a": "hunter2", "b": 3}' }),
    (e: unknown) => e instanceof ConfigError && !e.message.includes("hunter2"),
  );
});

Deno.test("a DAG's webhook secret: its own variable, then the per-DAG variable, then the map", () => {
  assert.equal(webhookSecretVariable("etl.daily-v2"), "GUST_WEBHOOK_SECRET_ETL_DAILY_V2");
  const config = loadConfig({
    GUST_WEBHOOK_SECRET_ORDERS: "from-variable",
    GUST_WEBHOOK_SECRETS: '{"orders": "from-map", "billing": "billing-map"}',
    GITHUB_SECRET: "from-named",
  }).webhook;
  assert.equal(webhookSecret(config, "orders", null), "from-variable");
  assert.equal(webhookSecret(config, "billing", null), "billing-map");
  assert.equal(webhookSecret(config, "orders", "GITHUB_SECRET"), "from-named");
  // A DAG that names its variable gets that one or none, never another DAG's secret.
  assert.equal(webhookSecret(config, "orders", "UNSET_SECRET"), null);
  assert.equal(webhookSecret(config, "unknown", null), null);
  assert.equal(webhookSecret(loadConfig({ GUST_WEBHOOK_SECRET_X: "" }).webhook, "x", null), null);
});

Deno.test("a worker prefetches nothing unless GUST_WORKER_PREFETCH says so", () => {
  assert.equal(loadConfig({}).worker.prefetch, 0);
  assert.equal(loadConfig({ GUST_WORKER_PREFETCH: "8" }).worker.prefetch, 8);
  assert.throws(
    () => loadConfig({ GUST_WORKER_PREFETCH: "-1" }),
    (e: unknown) => e instanceof ConfigError && e.message.includes("GUST_WORKER_PREFETCH"),
  );
});

Deno.test("a process without the web role serves metrics only when GUST_METRICS_PORT is set", () => {
  assert.equal(loadConfig({}).metricsPort, null);
  assert.equal(loadConfig({ GUST_METRICS_PORT: "" }).metricsPort, null);
  assert.equal(loadConfig({ GUST_METRICS_PORT: "9464" }).metricsPort, 9464);
  for (const bad of ["http", "70000", "-1"]) {
    assert.throws(
      () => loadConfig({ GUST_METRICS_PORT: bad }),
      (e: unknown) => e instanceof ConfigError && e.message.includes("GUST_METRICS_PORT"),
      bad,
    );
  }
});

Deno.test("prepared statements are on unless GUST_DATABASE_PREPARE turns them off", () => {
  assert.equal(loadConfig({}).databasePrepare, true);
  assert.equal(loadConfig({ GUST_DATABASE_PREPARE: "false" }).databasePrepare, false);
  assert.equal(loadConfig({ GUST_DATABASE_PREPARE: "off" }).databasePrepare, false);
  assert.throws(
    () => loadConfig({ GUST_DATABASE_PREPARE: "maybe" }),
    (e: unknown) => e instanceof ConfigError && e.message.includes("GUST_DATABASE_PREPARE"),
  );
});

Deno.test("auth settings have safe defaults and are read from the environment", () => {
  const d = loadConfig({}).auth;
  assert.equal(d.secretKey, null);
  assert.equal(d.jwtTtlMs, 3_600_000);
  assert.equal(d.sessionIdleMs, 3_600_000);
  assert.equal(d.sessionMaxMs, 12 * 3_600_000);
  assert.deepEqual(d.loginRateLimit, {
    user: { count: 5, windowMs: 300_000 },
    address: { count: 20, windowMs: 300_000 },
  });
  assert.equal(d.passwordIterations, 600_000);
  assert.deepEqual(d.forwardedAllowIps, ["127.0.0.1", "::1"]);
  assert.equal(loadConfig({}).apiToken, null);
  const set = loadConfig({
    GUST_SECRET_KEY: "k".repeat(40),
    GUST_JWT_TTL: "15m",
    GUST_SESSION_IDLE_TIMEOUT: "10m",
    GUST_SESSION_MAX_AGE: "1h",
    GUST_LOGIN_RATE_LIMIT: "off",
    GUST_LOGIN_RATE_LIMIT_ADDRESS: "100/1h",
    GUST_PASSWORD_ITERATIONS: "1000000",
    GUST_FORWARDED_ALLOW_IPS: "10.0.0.1, *",
    GUST_API_TOKEN: "gust_abc",
  });
  assert.equal(set.auth.secretKey, "k".repeat(40));
  assert.equal(set.auth.jwtTtlMs, 900_000);
  assert.equal(set.auth.sessionIdleMs, 600_000);
  assert.equal(set.auth.sessionMaxMs, 3_600_000);
  assert.deepEqual(set.auth.loginRateLimit, {
    user: null,
    address: { count: 100, windowMs: 3_600_000 },
  });
  assert.equal(set.auth.passwordIterations, 1_000_000);
  assert.deepEqual(set.auth.forwardedAllowIps, ["10.0.0.1", "*"]);
  assert.equal(set.apiToken, "gust_abc");
  assert.equal(loadConfig({ GUST_SECRET_KEY: "", GUST_API_TOKEN: " " }).auth.secretKey, null);
});

Deno.test("a weak or malformed auth setting stops the start and names the variable", () => {
  for (
    const [name, value] of [
      ["GUST_SECRET_KEY", "too short"],
      ["GUST_PASSWORD_ITERATIONS", "1000"],
      ["GUST_JWT_TTL", "soon"],
      ["GUST_LOGIN_RATE_LIMIT", "many"],
    ]
  ) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (e: unknown) =>
        e instanceof ConfigError && e.message.includes(name) && !e.message.includes("too short"),
      `${name}=${value}`,
    );
  }
});

Deno.test("the DAG folder's intervals have defaults and are read as durations", () => {
  const defaults = loadConfig({});
  assert.deepEqual(
    [defaults.dagReparseIntervalMs, defaults.dagRetryIntervalMs],
    [300_000, 30_000],
  );
  const set = loadConfig({ GUST_DAG_REPARSE_INTERVAL: "10m", GUST_DAG_RETRY_INTERVAL: "5s" });
  assert.deepEqual([set.dagReparseIntervalMs, set.dagRetryIntervalMs], [600_000, 5_000]);
  assert.throws(
    () => loadConfig({ GUST_DAG_RETRY_INTERVAL: "often" }),
    (e: unknown) => e instanceof ConfigError && e.message.includes("GUST_DAG_RETRY_INTERVAL"),
  );
});
