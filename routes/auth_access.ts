/**
 * Who may call what. Every route is listed with the permission it needs: the API's in
 * `api/operations.ts` (the source of its OpenAPI document too), the dashboard's in
 * `ui/access.ts`; tests check both lists against the routers, so a new route cannot be
 * forgotten. A request is matched to its entry by Hono's own trie router on the same path Hono
 * routes on, so the check and the handler cannot disagree about which route a path is. A path
 * that matches no entry still needs a signed-in caller (it answers 404 then).
 *
 * Refusals happen here, before any handler runs, so a refused request changes nothing.
 */
import type { MiddlewareHandler } from "hono";
import { TrieRouter } from "hono/router/trie-router";
import { type Access, can } from "../auth/roles.ts";
import { OPERATIONS } from "./api/operations.ts";
import {
  type AuthContext,
  authenticateBearer,
  authenticateSession,
  type Principal,
} from "./auth_principal.ts";
import type { AppEnv } from "./mod.ts";
import { UI_ACCESS } from "./ui/access.ts";
import { forbidden, safeBack } from "./ui/common.tsx";

/** A router from (method, path) to the permission a route needs. */
class AccessMap {
  private readonly router = new TrieRouter<Access>();
  constructor(routes: { method: string; path: string; access: Access }[]) {
    for (const r of routes) this.router.add(r.method.toUpperCase(), r.path, r.access);
  }
  /** The entry's permission; "read" (any signed-in caller) for a path with no entry. */
  access(method: string, path: string): Access {
    const verb = method.toUpperCase() === "HEAD" ? "GET" : method.toUpperCase();
    const [matches] = this.router.match(verb, path);
    return matches[0]?.[0] ?? "read";
  }
}

export const apiAccessMap = new AccessMap(
  OPERATIONS.map((op) => ({ ...op, path: op.path.replace(/\{(\w+)\}/g, ":$1") })),
);
export const uiAccessMap = new AccessMap(UI_ACCESS);

function apiRefusal(c: AuthContext, status: 401 | 403, detail: string) {
  const headers: Record<string, string> = { "x-content-type-options": "nosniff" };
  if (status === 401) headers["www-authenticate"] = "Bearer";
  return c.json({ detail }, status, headers);
}

/** For `/api/v2/*` and `/auth/*`: a bearer token, and a role that allows the operation. */
export const apiAccess: MiddlewareHandler<AppEnv> = async (c, next) => {
  const access = apiAccessMap.access(c.req.method, c.req.path);
  if (access === "public") return await next();
  const auth = await authenticateBearer(c);
  if (!auth || "problem" in auth) return apiRefusal(c, 401, auth?.problem ?? "Not authenticated");
  if (!can(auth.principal.role, access)) return apiRefusal(c, 403, "Forbidden");
  c.set("principal", auth.principal);
  await next();
};

/**
 * The page to return to after logging in: the page asked for; for an htmx request, the page it
 * came from (HX-Current-URL); for a form post, its Referer. Only a path of this site.
 */
function origin(c: AuthContext): string {
  const own = new URL(c.req.url);
  const from = c.req.header("hx-request") === "true"
    ? c.req.header("hx-current-url")
    : c.req.method === "GET" || c.req.method === "HEAD"
    ? own.href
    : c.req.header("referer");
  const url = from && URL.canParse(from) ? new URL(from) : null;
  if (!url || url.origin !== own.origin) return "/";
  return safeBack(url.pathname + url.search, "/");
}

export const loginUrl = (next: string) =>
  next === "/" ? "/login" : `/login?next=${encodeURIComponent(next)}`;

/** For the dashboard: a session (or a bearer token), and a role that allows the route. */
export const uiAccess: MiddlewareHandler<AppEnv> = async (c, next) => {
  const access = uiAccessMap.access(c.req.method, c.req.path);
  if (access === "public") return await next();
  let principal: Principal | null = await authenticateSession(c);
  if (!principal && c.req.header("authorization")) {
    const auth = await authenticateBearer(c);
    if (auth && "principal" in auth) principal = auth.principal;
  }
  if (!principal) {
    const to = loginUrl(origin(c));
    c.header("Cache-Control", "no-store");
    // htmx follows HX-Redirect with a full page load; a plain redirect would be swapped in.
    if (c.req.header("hx-request") === "true") {
      return c.text("Not authenticated", 401, { "HX-Redirect": to });
    }
    return c.redirect(to, c.req.method === "GET" || c.req.method === "HEAD" ? 302 : 303);
  }
  c.set("principal", principal);
  if (!can(principal.role, access)) {
    const message = `Your role (${principal.role}) does not allow this`;
    if (c.req.header("hx-request") === "true") return c.text(message, 403);
    return forbidden(c, message);
  }
  await next();
};
