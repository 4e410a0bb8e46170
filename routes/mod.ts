/** The web role: one Hono app, each route group a sub-app mounted here. */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Db } from "../db/client.ts";
import type { Role, WebhookConfig } from "../config.ts";
import { api } from "./api.ts";
import { authApi } from "./auth.ts";
import { apiAccess } from "./auth_access.ts";
import { type AuthSettings, type Principal, resolveAuthSettings } from "./auth_principal.ts";
import { health } from "./health.ts";
import { countRequests, HttpStats, metrics, type ProcessRoles } from "./metrics.ts";
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
  /** For signature timestamps, rate limits, sessions, tokens and new runs; the system clock. */
  clock?: () => Date;
  /** Keys, lifetimes and limits of logins and tokens; defaults, with a random key, when unset. */
  auth?: Partial<AuthSettings>;
  /** The worker and scheduler running in this process, whose figures /metrics shows. */
  process?: ProcessRoles;
}

export type Deps = AppDeps & { auth: AuthSettings; http: HttpStats };

export type AppEnv = { Variables: { deps: Deps; principal: Principal | null } };

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const http = new HttpStats();
  const resolved: Deps = { ...deps, auth: resolveAuthSettings(deps.auth), http };
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("deps", resolved);
    c.set("principal", null);
    await next();
  });
  app.use(countRequests(http));
  // Every route is public (/health, webhooks: signed) or checks a role before it runs
  // (/metrics checks its own bearer token).
  app.use("/api/v2/*", apiAccess);
  app.use("/auth/*", apiAccess);
  app.route("/health", health);
  app.route("/metrics", metrics);
  app.route("/api/v2", api);
  app.route("/auth", authApi);
  app.route("/webhooks", webhooks);
  app.route("/", ui);
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    console.error(`${c.req.method} ${c.req.path} failed:`, error);
    return c.text("Internal server error", 500);
  });
  return app;
}
