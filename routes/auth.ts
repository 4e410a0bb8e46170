/**
 * `/auth`: Airflow's token URL (`POST /auth/token`: a username and password for a short-lived
 * JWT), and Gust's own endpoints for users and API tokens (Admin only), which the CLI's
 * `users` and `tokens` commands call. The permission each needs is checked before these run
 * (see `auth_access.ts` and `api/operations.ts`).
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import type { ApiToken } from "../db/api_tokens.ts";
import { listApiTokens } from "../db/api_tokens.ts";
import { listUsers, type User } from "../db/users.ts";
import { BodyTooLarge, readLimited } from "./body.ts";
import {
  ApiTokenPostBody,
  type ApiTokenResponse,
  LoginBody,
  UserPatchBody,
  UserPostBody,
  type UserResponse,
} from "./api/auth_schemas.ts";
import {
  type ApiContext,
  apiError,
  body,
  DEFAULT_MAX_BODY_BYTES,
  intPath,
  validationError,
  zodErrors,
} from "./api/common.ts";
import { checkLogin } from "./auth_login.ts";
import { changeUser, createToken, createUser, ManageError, revokeToken } from "./auth_manage.ts";
import { issueJwt } from "./auth_principal.ts";
import type { AppEnv } from "./mod.ts";

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function userResponse(u: User, password?: string): z.output<typeof UserResponse> {
  return {
    username: u.username,
    role: u.role,
    is_active: u.isActive,
    created_at: iso(u.createdAt)!,
    last_login_at: iso(u.lastLoginAt),
    ...(password !== undefined ? { password } : {}),
  };
}

export function tokenResponse(t: ApiToken, secret?: string): z.output<typeof ApiTokenResponse> {
  return {
    token_id: t.id,
    name: t.name,
    role: t.role,
    prefix: t.prefix,
    created_by: t.createdBy,
    created_at: iso(t.createdAt)!,
    expires_at: iso(t.expiresAt),
    last_used_at: iso(t.lastUsedAt),
    revoked_at: iso(t.revokedAt),
    ...(secret !== undefined ? { token: secret } : {}),
  };
}

/** Airflow's LoginBody, as JSON or as a form; 415 for anything else. */
async function loginBody(c: ApiContext): Promise<z.output<typeof LoginBody>> {
  const type = (c.req.header("content-type") ?? "application/json").split(";")[0].trim();
  if (type === "application/json") return await body(c, LoginBody);
  if (type !== "application/x-www-form-urlencoded") apiError(415, "Unsupported Media Type");
  let bytes: Uint8Array;
  try {
    bytes = await readLimited(c.req.raw, c.get("deps").maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  } catch (error) {
    if (error instanceof BodyTooLarge) apiError(413, error.message);
    throw error;
  }
  const form = new URLSearchParams(new TextDecoder().decode(bytes));
  const parsed = LoginBody.safeParse({
    username: form.get("username") ?? undefined,
    password: form.get("password") ?? undefined,
  }, { reportInput: true });
  if (!parsed.success) validationError(zodErrors(parsed.error, ["body"]));
  return parsed.data!;
}

export const authApi = new Hono<AppEnv>()
  .use(async (c, next) => {
    await next();
    c.res.headers.set("x-content-type-options", "nosniff");
    c.res.headers.set("cache-control", "no-store");
  })
  .post("/token", async (c) => {
    const { username, password } = await loginBody(c);
    if (!username || !password) apiError(400, "Username and password must be provided");
    const outcome = await checkLogin(c, username, password, "api");
    if (!outcome.ok && outcome.status === 429) {
      apiError(429, "Too many failed logins: try again later", {
        "retry-after": String(outcome.retryAfterS),
      });
    }
    if (!outcome.ok) apiError(401, "Invalid credentials");
    const { user, complete } = outcome as Extract<typeof outcome, { ok: true }>;
    const { db } = c.get("deps");
    const token = await issueJwt(c, user);
    await db.begin((tx) => complete(tx));
    return c.json({ access_token: token }, 201);
  })
  .get("/users", async (c) => {
    const users = await listUsers(c.get("deps").db.sql);
    return c.json({ users: users.map((u) => userResponse(u)), total_entries: users.length });
  })
  .post("/users", async (c) => {
    const b = await body(c, UserPostBody);
    const { user, password } = await createUser(c, b);
    return c.json(userResponse(user, password), 201);
  })
  .patch("/users/:username", async (c) => {
    const b = await body(c, UserPatchBody);
    const { user, password } = await changeUser(c, c.req.param("username"), {
      role: b.role,
      password: b.password,
      resetPassword: b.reset_password,
      isActive: b.is_active,
    });
    return c.json(userResponse(user, password));
  })
  .get("/tokens", async (c) => {
    const tokens = await listApiTokens(c.get("deps").db.sql);
    return c.json({ tokens: tokens.map((t) => tokenResponse(t)), total_entries: tokens.length });
  })
  .post("/tokens", async (c) => {
    const b = await body(c, ApiTokenPostBody);
    const { token, secret } = await createToken(c, {
      name: b.name,
      role: b.role,
      expiresInDays: b.expires_in_days,
    });
    return c.json(tokenResponse(token, secret), 201);
  })
  .delete("/tokens/:token_id", async (c) => {
    return c.json(tokenResponse(await revokeToken(c, intPath(c, "token_id"))));
  })
  .all("*", (c) => c.json({ detail: "Not Found" }, 404))
  .onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (error instanceof ManageError) return c.json({ detail: error.message }, error.status);
    console.error(`${c.req.method} ${c.req.path} failed:`, error);
    return c.json({ detail: "Internal Server Error" }, 500);
  });
