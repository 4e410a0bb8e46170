/**
 * The dashboard: pages rendered on the server with Preact, updated in place by htmx. Each route
 * group is a sub-app; this module mounts them and wraps them in what every page needs: a
 * Content-Security-Policy that allows only this site's own script and stylesheet (so markup
 * that slipped through escaping could still run nothing), cross-site request protection for
 * every POST (the Origin or Sec-Fetch-Site header must say the request came from a page of this
 * site), the session and role check (`auth_access.ts`: a refused request runs no handler), and
 * compression (a polled grid of 5,000 cells is mostly repetition).
 */
import { Hono, type MiddlewareHandler } from "hono";
import { compress } from "hono/compress";
import { csrf } from "hono/csrf";
import { uiAccess } from "./auth_access.ts";
import type { AppEnv } from "./mod.ts";
import { adminUi } from "./ui/admin.tsx";
import { dagUi } from "./ui/dag.tsx";
import { dagsUi } from "./ui/dags.tsx";
import { loginUi } from "./ui/login.tsx";
import { poolsUi } from "./ui/pools.tsx";
import { runUi } from "./ui/runs.tsx";
import { staticUi } from "./ui/static.ts";
import { taskInstanceUi, tiRedirect } from "./ui/task_instances.tsx";

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.res.headers.set("Content-Security-Policy", CSP);
  c.res.headers.set("X-Content-Type-Options", "nosniff");
  c.res.headers.set("Referrer-Policy", "same-origin");
  c.res.headers.set("X-Frame-Options", "DENY");
};

// Explicit paths, not "*": mounted at "/", a wildcard would also run for the API and webhooks.
// Each path is covered once ("/account/*" covers "/account" too), so nothing runs twice.
const UI_PATHS = [
  "/",
  "/dags/*",
  "/ti/*",
  "/static/*",
  "/login",
  "/logout",
  "/account/*",
  "/admin/*",
  "/pools/*",
];

export const ui = new Hono<AppEnv>();
for (const path of UI_PATHS) ui.use(path, securityHeaders, csrf(), uiAccess, compress());
ui.route("/static", staticUi)
  .route("/", loginUi)
  .route("/admin", adminUi)
  .route("/pools", poolsUi)
  .route("/", dagsUi)
  .route("/dags/:dagId", dagUi)
  .route("/dags/:dagId/runs/:runId", runUi)
  .route("/dags/:dagId/runs/:runId/tasks/:taskId", taskInstanceUi)
  .route("/ti", tiRedirect);
