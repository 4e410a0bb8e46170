/**
 * Gust's configuration: the environment, parsed once with zod. A bad value fails at start with
 * the variable's name; nothing else in the code reads `Deno.env`.
 */
import { z } from "zod";
import { parseDuration } from "./sdk/options.ts";

const ROLES = ["web", "scheduler", "worker"] as const;
export type Role = typeof ROLES[number];

const durationMs = (fallback: string) =>
  z.string().default(fallback).transform((value, ctx) => {
    const ms = parseDuration(/^\d+$/.test(value) ? Number(value) : value);
    if (ms === null) {
      ctx.addIssue({ code: "custom", message: `not a duration: ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return ms;
  });

const list = (fallback: string) =>
  z.string().default(fallback).transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean));

const int = (fallback: number, min = 1) => z.coerce.number().int().min(min).default(fallback);

const bool = (fallback: boolean) =>
  z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"]).default(fallback ? "true" : "false")
    .transform((v) => ["true", "1", "yes", "on"].includes(v));

/** `60/1m`: at most 60 in any minute; `off`: no limit. */
const rate = (fallback: string) =>
  z.string().default(fallback).transform((value, ctx) => {
    if (value.trim() === "off") return null;
    const match = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(value);
    const windowMs = match ? parseDuration(match[2]) : null;
    if (!match || Number(match[1]) < 1 || !windowMs) {
      ctx.addIssue({
        code: "custom",
        message: `not a rate: ${
          JSON.stringify(value)
        } (use "<count>/<duration>", e.g. "60/1m", or "off")`,
      });
      return z.NEVER;
    }
    return { count: Number(match[1]), windowMs };
  });

const secretMap = z.string().optional().transform((value, ctx) => {
  if (value === undefined || value.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    ctx.addIssue({ code: "custom", message: "not valid JSON" });
    return z.NEVER;
  }
  const checked = z.record(z.string(), z.string().min(1)).safeParse(parsed);
  if (!checked.success) {
    ctx.addIssue({ code: "custom", message: "must be a JSON object of DAG ids to secrets" });
    return z.NEVER;
  }
  return checked.data;
});

/** An optional text; set to "" counts as unset. */
const optionalText = (check: z.ZodString = z.string()) =>
  z.string().optional().transform((v) => (v === undefined || v.trim() === "" ? undefined : v))
    .pipe(check.optional());

const schema = z.object({
  DATABASE_URL: z.string().url().optional(),
  GUST_DATABASE_PREPARE: bool(true),
  GUST_HOME: z.string().default("./.gust"),
  GUST_DAGS_FOLDER: z.string().default("./dags"),
  GUST_HOST: z.string().default("127.0.0.1"),
  GUST_PORT: int(8080, 0),
  GUST_METRICS_PORT: optionalText(z.string().regex(/^\d+$/, "must be a port number"))
    .transform((v) => (v === undefined ? null : Number(v))).pipe(
      z.number().int().min(0).max(65535).nullable(),
    ),
  GUST_API_URL: z.string().url().optional(),
  GUST_ROLES: list(ROLES.join(",")).pipe(z.array(z.enum(ROLES)).min(1)),
  GUST_WORKER_CONCURRENCY: int(4),
  GUST_WORKER_PREFETCH: int(0, 0),
  GUST_WORKER_QUEUES: list("default").pipe(z.array(z.string()).min(1)),
  GUST_LEASE: durationMs("30s"),
  GUST_SCHEDULER_LEASE: durationMs("10s"),
  GUST_MAX_RESULT_BYTES: int(1_048_576),
  GUST_RUNNER_MEMORY_MB: int(256, 16),
  GUST_DAG_IMPORT_TIMEOUT: durationMs("30s"),
  GUST_DAG_REFRESH_INTERVAL: durationMs("30s"),
  GUST_DAG_REPARSE_INTERVAL: durationMs("5m"),
  GUST_DAG_RETRY_INTERVAL: durationMs("30s"),
  GUST_MAX_BODY_BYTES: int(1_048_576),
  GUST_WEBHOOK_TOLERANCE: durationMs("5m"),
  GUST_WEBHOOK_RATE_LIMIT: rate("60/1m"),
  GUST_WEBHOOK_IDEMPOTENCY_TTL: durationMs("24h"),
  GUST_WEBHOOK_SECRETS: secretMap,
  GUST_SECRET_KEY: optionalText(z.string().min(32, "must be at least 32 characters")),
  GUST_JWT_TTL: durationMs("1h"),
  GUST_SESSION_IDLE_TIMEOUT: durationMs("1h"),
  GUST_SESSION_MAX_AGE: durationMs("12h"),
  GUST_LOGIN_RATE_LIMIT: rate("5/5m"),
  GUST_LOGIN_RATE_LIMIT_ADDRESS: rate("20/5m"),
  GUST_PASSWORD_ITERATIONS: int(600_000, 600_000),
  GUST_FORWARDED_ALLOW_IPS: list("127.0.0.1,::1"),
  GUST_API_TOKEN: optionalText(),
});

export interface Config {
  databaseUrl: string | null;
  /** Prepared statements on the Postgres server (off for PgBouncer before 1.21 in transaction mode). */
  databasePrepare: boolean;
  home: string;
  /**
   * Caches shared by every home on this machine (a migrated empty database, from which a new
   * embedded home is made): `$XDG_CACHE_HOME/gust`, else `~/.cache/gust`, else `<home>/cache`.
   */
  cacheDir: string;
  dagsFolder: string;
  host: string;
  port: number;
  /**
   * Where a process without the web role serves `/health` and its own `/metrics`; null: it
   * serves no HTTP (a web process serves both on `port`).
   */
  metricsPort: number | null;
  /** Where the CLI reaches a running server; from GUST_HOST and GUST_PORT by default. */
  apiUrl: string;
  roles: Role[];
  worker: {
    concurrency: number;
    /** Tasks claimed beyond `concurrency`, waiting for a runner (throughput over strict priority). */
    prefetch: number;
    queues: string[];
    leaseMs: number;
    runnerMemoryMb: number;
  };
  maxResultBytes: number;
  /** A frozen or cut-off leading scheduler is replaced within about this long. */
  schedulerLeaseMs: number;
  dagImportTimeoutMs: number;
  /** How often the DAG folder is checked for changes; changed files are imported again. */
  dagRefreshIntervalMs: number;
  /** How often every DAG file is imported again, changed or not. */
  dagReparseIntervalMs: number;
  /** How often a DAG file whose import failed is imported again, unchanged. */
  dagRetryIntervalMs: number;
  /** Variables tasks may be given when they declare them by name. */
  taskEnv: Record<string, string>;
  /** The largest request body the API and webhooks read; a larger one is refused with 413. */
  maxBodyBytes: number;
  webhook: WebhookConfig;
  auth: AuthConfig;
  /** GUST_API_TOKEN: the credential the CLI sends to a running server; null: the local one. */
  apiToken: string | null;
}

export interface Rate {
  count: number;
  windowMs: number;
}

export interface AuthConfig {
  /** GUST_SECRET_KEY; null: generated once and kept in GUST_HOME (one machine only). */
  secretKey: string | null;
  /** How long a JWT from `POST /auth/token` is valid. */
  jwtTtlMs: number;
  /** A dashboard session ends after this long without a request... */
  sessionIdleMs: number;
  /** ...and this long after the login, whatever happens. */
  sessionMaxMs: number;
  /** Failed logins allowed per username and per client address in any window; null: no limit. */
  loginRateLimit: { user: Rate | null; address: Rate | null };
  /** PBKDF2 iterations for new password hashes (never fewer than OWASP's 600,000). */
  passwordIterations: number;
  /** Proxies whose X-Forwarded-For names the client (`*`: any); others are the client. */
  forwardedAllowIps: string[];
}

export interface WebhookConfig {
  /** How far a signed timestamp may be from the server's clock, either way. */
  toleranceMs: number;
  /** Webhook runs per DAG in any window of `windowMs`; null: unlimited. */
  rateLimit: Rate | null;
  /** How long an idempotency key (or delivery id) keeps returning its first run. */
  idempotencyTtlMs: number;
  /** GUST_WEBHOOK_SECRETS: DAG id -> secret. */
  secrets: Record<string, string>;
  /** The environment, where `GUST_WEBHOOK_SECRET_<ID>` and a DAG's `secretEnv` are looked up. */
  variables: Record<string, string>;
}

/** `GUST_WEBHOOK_SECRET_` and the DAG id upper-cased, every other character than A-Z0-9 as `_`. */
export function webhookSecretVariable(dagId: string): string {
  return `GUST_WEBHOOK_SECRET_${dagId.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/**
 * A DAG's webhook secret: the variable its `secretEnv` names when it names one; otherwise
 * `GUST_WEBHOOK_SECRET_<ID>`, then its entry in GUST_WEBHOOK_SECRETS. Null when none is set.
 */
export function webhookSecret(
  config: WebhookConfig,
  dagId: string,
  secretEnv: string | null,
): string | null {
  if (secretEnv) return config.variables[secretEnv] || null;
  return config.variables[webhookSecretVariable(dagId)] || config.secrets[dagId] || null;
}

export const DEFAULT_WEBHOOK_CONFIG: WebhookConfig = {
  toleranceMs: 300_000,
  rateLimit: { count: 60, windowMs: 60_000 },
  idempotencyTtlMs: 86_400_000,
  secrets: {},
  variables: {},
};

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string> = Deno.env.toObject()): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  }
  const c = parsed.data;
  return {
    databaseUrl: c.DATABASE_URL ?? null,
    databasePrepare: c.GUST_DATABASE_PREPARE,
    home: absolute(c.GUST_HOME),
    cacheDir: env.XDG_CACHE_HOME
      ? `${absolute(env.XDG_CACHE_HOME)}/gust`
      : env.HOME
      ? `${absolute(env.HOME)}/.cache/gust`
      : `${absolute(c.GUST_HOME)}/cache`,
    dagsFolder: absolute(c.GUST_DAGS_FOLDER),
    host: c.GUST_HOST,
    port: c.GUST_PORT,
    metricsPort: c.GUST_METRICS_PORT,
    apiUrl: (c.GUST_API_URL ??
      `http://${
        ["0.0.0.0", "::", ""].includes(c.GUST_HOST) ? "127.0.0.1" : c.GUST_HOST
      }:${c.GUST_PORT}`)
      .replace(/\/+$/, ""),
    roles: c.GUST_ROLES,
    worker: {
      concurrency: c.GUST_WORKER_CONCURRENCY,
      prefetch: c.GUST_WORKER_PREFETCH,
      queues: c.GUST_WORKER_QUEUES,
      leaseMs: c.GUST_LEASE,
      runnerMemoryMb: c.GUST_RUNNER_MEMORY_MB,
    },
    maxResultBytes: c.GUST_MAX_RESULT_BYTES,
    schedulerLeaseMs: c.GUST_SCHEDULER_LEASE,
    dagImportTimeoutMs: c.GUST_DAG_IMPORT_TIMEOUT,
    dagRefreshIntervalMs: c.GUST_DAG_REFRESH_INTERVAL,
    dagReparseIntervalMs: c.GUST_DAG_REPARSE_INTERVAL,
    dagRetryIntervalMs: c.GUST_DAG_RETRY_INTERVAL,
    taskEnv: env,
    maxBodyBytes: c.GUST_MAX_BODY_BYTES,
    webhook: {
      toleranceMs: c.GUST_WEBHOOK_TOLERANCE,
      rateLimit: c.GUST_WEBHOOK_RATE_LIMIT,
      idempotencyTtlMs: c.GUST_WEBHOOK_IDEMPOTENCY_TTL,
      secrets: c.GUST_WEBHOOK_SECRETS,
      variables: env,
    },
    auth: {
      secretKey: c.GUST_SECRET_KEY ?? null,
      jwtTtlMs: c.GUST_JWT_TTL,
      sessionIdleMs: c.GUST_SESSION_IDLE_TIMEOUT,
      sessionMaxMs: c.GUST_SESSION_MAX_AGE,
      loginRateLimit: { user: c.GUST_LOGIN_RATE_LIMIT, address: c.GUST_LOGIN_RATE_LIMIT_ADDRESS },
      passwordIterations: c.GUST_PASSWORD_ITERATIONS,
      forwardedAllowIps: c.GUST_FORWARDED_ALLOW_IPS,
    },
    apiToken: c.GUST_API_TOKEN ?? null,
  };
}

function absolute(path: string): string {
  const resolved = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return resolved.replace(/\/(\.\/)+/g, "/").replace(/\/\.$/, "").replace(/\/+$/, "");
}
