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

Deno.test("prepared statements are on unless GUST_DATABASE_PREPARE turns them off", () => {
  assert.equal(loadConfig({}).databasePrepare, true);
  assert.equal(loadConfig({ GUST_DATABASE_PREPARE: "false" }).databasePrepare, false);
  assert.equal(loadConfig({ GUST_DATABASE_PREPARE: "off" }).databasePrepare, false);
  assert.throws(
    () => loadConfig({ GUST_DATABASE_PREPARE: "maybe" }),
    (e: unknown) => e instanceof ConfigError && e.message.includes("GUST_DATABASE_PREPARE"),
  );
});
