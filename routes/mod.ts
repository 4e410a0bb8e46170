/** The web role: one Hono app, each route group a sub-app mounted here. */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Db } from "../db/client.ts";
import type { Role } from "../config.ts";
import { api } from "./api.ts";
import { health } from "./health.ts";
import { ui } from "./ui.tsx";

export interface AppDeps {
  db: Db;
  roles: Role[];
  startedAt: Date;
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
  app.route("/", ui);
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    console.error(`${c.req.method} ${c.req.path} failed:`, error);
    return c.text("Internal server error", 500);
  });
  return app;
}
