/**
 * `POST /webhooks/<dag_id>`: a signed webhook starts a run of a DAG that opted in
 * (`webhook: true` in its definition), with the JSON body as the run's conf.
 *
 * The checks run from the cheapest to the costliest, and a refused request writes nothing:
 * 404 unknown DAG, DAG without webhooks or without a configured secret (one answer for all, so
 * the endpoint does not tell which DAGs exist); 413 body over the limit (the declared length
 * first, then counted while it streams); 401 bad or stale signature; 422 body that is not a JSON
 * object or a conf that the DAG's params refuse. Then, in one transaction holding a per-DAG
 * lock: a delivery seen before (same idempotency key, or the same signed request) returns its
 * first run; 409 paused DAG; 429 over the DAG's rate limit; else the run and the delivery are
 * written together. The 202 answer is sent after that transaction commits.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import {
  DEFAULT_WEBHOOK_CONFIG,
  type WebhookConfig,
  webhookSecret,
  webhookSecretVariable,
} from "../config.ts";
import { insertAudit } from "../db/audit_log.ts";
import type { Db, Sql } from "../db/client.ts";
import { getDag, getDagVersion } from "../db/dags.ts";
import {
  type Delivery,
  findDelivery,
  insertDelivery,
  lockDagWebhooks,
  pruneDeliveries,
  recentWebhookRuns,
} from "../db/webhook_deliveries.ts";
import {
  createAndStartRun,
  type PlannedRun,
  planRun,
  TriggerError,
} from "../scheduler/trigger_run.ts";
import { RUN_CHANGED_CHANNEL, TASKS_QUEUED_CHANNEL } from "../db/channels.ts";
import { auditEntry } from "./auth_audit.ts";
import { BodyTooLarge, readLimited } from "./body.ts";
import type { AppEnv } from "./mod.ts";
import { verifySignature } from "./webhook_signature.ts";

const DEFAULT_MAX_BODY_BYTES = 1_048_576;
/** Longer keys are refused: a key is an id, not a payload. */
const MAX_KEY_LENGTH = 255;

function refuse(status: 401 | 404 | 409 | 413 | 422 | 429, detail: unknown, headers = {}): never {
  throw new HTTPException(status, {
    res: Response.json({ detail }, { status, headers }),
  });
}

const invalid = (type: string, loc: string[], msg: string): never =>
  refuse(422, [{ type, loc, msg }]);

class LostRace extends Error {}

/** Secrets missing for a DAG that asks for webhooks, warned about once per DAG and process. */
const warned = new Set<string>();

function accepted(dagId: string, runId: string, state: string, duplicate: boolean) {
  const url = `/api/v2/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(runId)}`;
  return Response.json(
    { dag_id: dagId, dag_run_id: runId, url, state, duplicate },
    {
      status: 202,
      headers: { location: url, ...(duplicate ? { "idempotent-replayed": "true" } : {}) },
    },
  );
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The body as a conf: a JSON object (an empty body is `{}`), else a 422. */
function parseConf(bytes: Uint8Array): Record<string, unknown> {
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return invalid("json_invalid", ["body"], "JSON decode error");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return invalid("model_attributes_type", ["body"], "Input should be a JSON object");
  }
  return value as Record<string, unknown>;
}

async function runState(db: Db, dagId: string, runId: string): Promise<string> {
  const [row] = await db.sql<{ state: string }>`
    SELECT state FROM dag_run WHERE dag_id = ${dagId} AND run_id = ${runId}`;
  return row?.state ?? "queued";
}

/** The DAG's webhook secret; null when the DAG is unknown, takes no webhooks or has none set. */
async function secretOf(db: Db, settings: WebhookConfig, dagId: string): Promise<string | null> {
  const row = await getDag(db.sql, dagId);
  if (!row?.isActive || !row.latestVersionId) return null;
  const hook = (await getDagVersion(db.sql, row.latestVersionId)).serialized.webhook ?? null;
  if (!hook) return null;
  const secret = webhookSecret(settings, dagId, hook.secretEnv);
  if (!secret && !warned.has(dagId)) {
    warned.add(dagId);
    console.warn(
      `DAG "${dagId}" accepts webhooks but no secret is set: set ${
        hook.secretEnv ?? webhookSecretVariable(dagId)
      }`,
    );
  }
  return secret;
}

/** The first run of a delivery seen before; a key reused with another body is a 422. */
function firstRun(first: Delivery, delivery: Delivery): string {
  if (first.bodySha256 !== delivery.bodySha256) {
    invalid(
      "idempotency_key_reused",
      ["header", "idempotency-key"],
      "This idempotency key was already used with a different body",
    );
  }
  return first.runId;
}

/**
 * Decides a checked delivery in one transaction under the DAG's webhook lock: the first run of a
 * delivery seen before, or 409 (paused), or 429 (over the rate limit), or a new run written
 * together with its delivery. A refusal throws, which rolls everything back.
 */
async function deliver(
  db: Db,
  settings: WebhookConfig,
  plan: PlannedRun,
  delivery: Delivery,
  now: Date,
  record: (tx: Sql) => Promise<void>,
): Promise<{ runId: string; duplicate: boolean; started?: boolean; queued?: number }> {
  const dagId = plan.run.dagId;
  const { idempotencyKey: key, signature } = delivery;
  return await db.begin(async (tx) => {
    await lockDagWebhooks(tx, dagId);
    // Forgotten keys first, so that an expired one starts a run again.
    await pruneDeliveries(tx, dagId, new Date(now.getTime() - settings.idempotencyTtlMs));
    const first = await findDelivery(tx, dagId, key, signature);
    if (first) return { runId: firstRun(first, delivery), duplicate: true };
    const [dag] = await tx<{ isPaused: boolean }>`
      SELECT is_paused AS "isPaused" FROM dag WHERE dag_id = ${dagId}`;
    if (dag?.isPaused) refuse(409, `DAG "${dagId}" is paused`);
    if (settings.rateLimit) {
      const { count, windowMs } = settings.rateLimit;
      const recent = await recentWebhookRuns(tx, dagId, new Date(now.getTime() - windowMs));
      if (recent.count >= count) {
        const oldest = recent.oldest ? new Date(recent.oldest).getTime() : now.getTime();
        const seconds = Math.max(1, Math.ceil((oldest + windowMs - now.getTime()) / 1000));
        refuse(
          429,
          `DAG "${dagId}" accepts at most ${count} webhook runs per ${windowMs / 1000} s`,
          {
            "retry-after": String(seconds),
          },
        );
      }
    }
    const run = await createAndStartRun(tx, plan.run, plan.dag, now);
    if (!run.created) throw new Error(`Webhook run id ${plan.run.runId} already exists`);
    // The lock makes a conflict here impossible; should one happen, the run is rolled back and
    // the answer is the delivery that won.
    if (!await insertDelivery(tx, dagId, delivery, now)) throw new LostRace();
    await record(tx);
    return { runId: plan.run.runId, duplicate: false, started: run.started, queued: run.queued };
  }).catch(async (error) => {
    if (!(error instanceof LostRace)) throw error;
    const first = await findDelivery(db.sql, dagId, key, signature);
    if (!first) throw new Error("A conflicting webhook delivery vanished");
    return { runId: firstRun(first, delivery), duplicate: true };
  });
}

export const webhooks = new Hono<AppEnv>()
  .use(async (c, next) => {
    await next();
    c.res.headers.set("x-content-type-options", "nosniff");
  })
  .post("/:dag_id", async (c) => {
    const deps = c.get("deps");
    const { db } = deps;
    const settings = deps.webhook ?? DEFAULT_WEBHOOK_CONFIG;
    const now = deps.clock?.() ?? new Date();
    const dagId = c.req.param("dag_id");
    const noWebhook = () => refuse(404, `DAG "${dagId}" does not accept webhooks`);

    const secret = (await secretOf(db, settings, dagId)) ?? noWebhook();

    let raw: Uint8Array<ArrayBuffer>;
    try {
      raw = await readLimited(c.req.raw, deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLarge) refuse(413, error.message);
      throw error;
    }
    const verdict = await verifySignature(
      c.req.raw.headers,
      raw!,
      secret,
      now,
      settings.toleranceMs,
    );
    if (!verdict.ok) refuse(401, verdict.reason, { "www-authenticate": "Signature" });
    const { scheme, signature } = verdict as Extract<typeof verdict, { ok: true }>;

    if (c.req.header("x-github-event") === "ping") {
      return c.json({ dag_id: dagId, ping: true }, 200);
    }
    const key = c.req.header("idempotency-key") ?? c.req.header("x-github-delivery") ?? null;
    if (key !== null && (key.length === 0 || key.length > MAX_KEY_LENGTH)) {
      invalid(
        "string_too_long",
        ["header", "idempotency-key"],
        `1 to ${MAX_KEY_LENGTH} characters`,
      );
    }
    const conf = parseConf(raw!);
    let plan: PlannedRun;
    try {
      plan = await planRun(db, {
        dagId,
        conf,
        runId: `webhook__${now.toISOString()}_${crypto.randomUUID().slice(0, 8)}`,
        logicalDate: null,
        runType: "webhook",
        triggeredBy: "webhook",
        now,
      });
    } catch (error) {
      if (!(error instanceof TriggerError)) throw error;
      if (error.problem === "unknown_dag") noWebhook();
      refuse(422, error.issues.map((msg) => ({ type: "value_error", loc: ["body"], msg })));
    }

    const delivery: Delivery = {
      idempotencyKey: key,
      // GitHub's signature covers the body only: two deliveries with one body are not replays.
      signature: scheme === "gust" ? signature : null,
      bodySha256: await sha256(raw!),
      runId: plan!.run.runId,
    };
    const entry = auditEntry(
      c,
      "trigger",
      { dagId, runId: plan!.run.runId },
      { via: "webhook", scheme, idempotency_key: key },
      { owner: "webhook", actor: "webhook" },
    );
    const outcome = await deliver(
      db,
      settings,
      plan!,
      delivery,
      now,
      (tx) => insertAudit(tx, entry),
    );
    if (!outcome.duplicate) await db.notify(RUN_CHANGED_CHANNEL, "webhook").catch(() => {});
    if (outcome.queued) await db.notify(TASKS_QUEUED_CHANNEL, "webhook").catch(() => {});
    const state = outcome.duplicate
      ? await runState(db, dagId, outcome.runId)
      : outcome.started
      ? "running"
      : "queued";
    return accepted(dagId, outcome.runId, state, outcome.duplicate);
  })
  .all("/:dag_id", (c) => c.json({ detail: "Method Not Allowed" }, 405, { allow: "POST" }));
