/** The web role: one Hono app, each route group a sub-app mounted here. */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Db } from "../db/client.ts";
import type { Role, WebhookConfig } from "../config.ts";
import { api } from "./api.ts";
import { health } from "./health.ts";
import { ui } from "./ui.tsx";
import { webhooks } from "./webhooks.ts";

export interface AppDeps {
  db: Db;
  roles: Role[];
  startedAt: Date;
  /** The largest request body read (API and webhooks); 1 MiB when unset. */
  maxBodyBytes?: number;
  /** Webhook limits and where secrets are looked up; unset: no secrets, so no webhooks. */
  webhook?: WebhookConfig;
  /** For signature timestamps, rate limits and new runs; the system clock when unset. */
  clock?: () => Date;
}

export type AppEnv = { Variables: { deps: AppDeps } };

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  app.route("/health", health);
  app.route("/api/v2", api);
  app.route("/webhooks", webhooks);
  app.route("/", ui);
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    console.error(`${c.req.method} ${c.req.path} failed:`, error);
    return c.text("Internal server error", 500);
  });
  return app;
}
