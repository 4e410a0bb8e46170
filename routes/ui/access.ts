/**
 * Every dashboard route with the permission it needs (see `../auth_access.ts`). A test checks
 * this list against the routes the dashboard serves, both ways.
 */
import type { Access } from "../../auth/roles.ts";

export interface UiRoute {
  method: "GET" | "POST";
  path: string;
  access: Access;
}

const DAG = "/dags/:dagId";
const RUN = `${DAG}/runs/:runId`;
const TI = `${RUN}/tasks/:taskId`;

export const UI_ACCESS: UiRoute[] = [
  { method: "GET", path: "/static/htmx.min.js", access: "public" },
  { method: "GET", path: "/static/gust.css", access: "public" },
  { method: "GET", path: "/login", access: "public" },
  { method: "POST", path: "/login", access: "public" },
  { method: "POST", path: "/logout", access: "read" },
  { method: "GET", path: "/account", access: "read" },
  { method: "POST", path: "/account/password", access: "read" },
  { method: "GET", path: "/", access: "read" },
  { method: "GET", path: DAG, access: "read" },
  { method: "POST", path: `${DAG}/trigger`, access: "trigger" },
  { method: "POST", path: `${DAG}/pause`, access: "pause" },
  { method: "GET", path: `${DAG}/graph`, access: "read" },
  { method: "GET", path: `${DAG}/runs`, access: "read" },
  { method: "GET", path: `${DAG}/code`, access: "read" },
  { method: "GET", path: `${DAG}/versions`, access: "read" },
  { method: "GET", path: RUN, access: "read" },
  { method: "POST", path: `${RUN}/clear`, access: "clear" },
  { method: "POST", path: `${RUN}/mark`, access: "mark" },
  { method: "GET", path: TI, access: "read" },
  { method: "GET", path: `${TI}/log`, access: "read" },
  { method: "POST", path: `${TI}/clear`, access: "clear" },
  { method: "POST", path: `${TI}/mark`, access: "mark" },
  { method: "GET", path: "/ti/:id", access: "read" },
  { method: "GET", path: "/pools", access: "read" },
  { method: "POST", path: "/pools", access: "pools" },
  { method: "POST", path: "/pools/:name", access: "pools" },
  { method: "POST", path: "/pools/:name/delete", access: "pools" },
  { method: "GET", path: "/admin/users", access: "users" },
  { method: "POST", path: "/admin/users", access: "users" },
  { method: "POST", path: "/admin/users/:username/role", access: "users" },
  { method: "POST", path: "/admin/users/:username/password", access: "users" },
  { method: "POST", path: "/admin/users/:username/active", access: "users" },
  { method: "GET", path: "/admin/tokens", access: "tokens" },
  { method: "POST", path: "/admin/tokens", access: "tokens" },
  { method: "POST", path: "/admin/tokens/:id/revoke", access: "tokens" },
  { method: "GET", path: "/admin/audit", access: "audit" },
];
