/**
 * Authentication for tests: apps whose requests carry an Admin credential unless they bring
 * their own, users with cheap password hashes (a test is not the place for 600,000 PBKDF2
 * iterations; the hash format records the count, so they verify like any other), logins
 * through the real login page and token endpoint, and API tokens.
 */
import { Hono } from "hono";
import { hashPassword } from "../auth/password.ts";
import type { UserRole } from "../auth/roles.ts";
import { API_TOKEN_PREFIX, randomToken, sha256Hex } from "../auth/secrets.ts";
import { insertApiToken } from "../db/api_tokens.ts";
import type { Db } from "../db/client.ts";
import { insertUser, type User } from "../db/users.ts";
import { type AuthSettings, PASSWORD_CLAIM } from "../routes/auth_principal.ts";
import { signJwt } from "../auth/jwt.ts";
import { type AppDeps, type AppEnv, createApp } from "../routes/mod.ts";

export const TEST_ITERATIONS = 1000;
export const TEST_PASSWORD = "correct horse battery staple";
export const TEST_SECRET_KEY = "test-secret-key-test-secret-key-test-secret-key";
/** The local credential of test apps: an Admin named "cli". */
export const TEST_LOCAL_TOKEN = "gustlocal_" + "t".repeat(43);
export const ORIGIN = "http://localhost";

export function testAuth(o: Partial<AuthSettings> = {}): Partial<AuthSettings> {
  return {
    secretKey: TEST_SECRET_KEY,
    passwordIterations: TEST_ITERATIONS,
    localToken: TEST_LOCAL_TOKEN,
    ...o,
  };
}

/** An app whose requests without their own Authorization or Cookie header act as `token`. */
export function withCredential(app: Hono<AppEnv>, token = TEST_LOCAL_TOKEN): Hono<AppEnv> {
  const outer = new Hono<AppEnv>();
  outer.all("*", (c) => {
    const req = new Request(c.req.raw);
    if (!req.headers.has("authorization") && !req.headers.has("cookie")) {
      req.headers.set("authorization", `Bearer ${token}`);
    }
    return app.fetch(req, c.env);
  });
  return outer;
}

/** The web app on `db`, on the clock given (the system's otherwise), with test auth settings. */
export function authTestApp(
  db: Db,
  o: { clock?: () => Date; auth?: Partial<AuthSettings>; deps?: Partial<AppDeps> } = {},
): Hono<AppEnv> {
  return createApp({
    db,
    roles: ["web"],
    startedAt: new Date(),
    clock: o.clock,
    auth: testAuth(o.auth),
    ...o.deps,
  });
}

/** `createApp` with test settings, its requests made as an Admin unless they say otherwise. */
export function adminApp(deps: AppDeps): Hono<AppEnv> {
  return withCredential(createApp({ ...deps, auth: testAuth(deps.auth) }));
}

export async function createTestUser(
  db: Db,
  username: string,
  role: UserRole,
  password = TEST_PASSWORD,
): Promise<User> {
  const passwordHash = await hashPassword(password, TEST_ITERATIONS);
  const user = await db.begin((tx) =>
    insertUser(tx, { username, role, passwordHash, now: new Date() })
  );
  if (!user) throw new Error(`User ${username} exists`);
  return user;
}

/** Creates an API token straight in the database; returns the token. */
export async function createTestToken(db: Db, name: string, role: UserRole): Promise<string> {
  const token = randomToken(API_TOKEN_PREFIX);
  await insertApiToken(db.sql, {
    name,
    role,
    tokenHash: await sha256Hex(token),
    prefix: token.slice(0, 9),
    createdBy: "test",
    now: new Date(),
    expiresAt: null,
  });
  return token;
}

/** A JWT for `user` as `POST /auth/token` would issue it at `at`, signed with the test key. */
export function signTestJwt(
  user: Pick<User, "id" | "passwordChangedAt">,
  at = new Date(),
  ttlMs = 3_600_000,
): Promise<string> {
  return signJwt(TEST_SECRET_KEY, String(user.id), at, ttlMs, {
    [PASSWORD_CLAIM]: new Date(user.passwordChangedAt).getTime(),
  });
}

/** The `name=value` of a Set-Cookie header, or null. */
export function cookieOf(res: Response, name = "gust_session"): string | null {
  for (const header of res.headers.getSetCookie()) {
    const [pair] = header.split(";");
    if (pair.startsWith(`${name}=`) && pair.length > name.length + 1) return pair;
  }
  return null;
}

/** Logs in through the login page as a browser on this site would; returns the session cookie. */
export async function login(
  app: Hono<AppEnv>,
  username: string,
  password = TEST_PASSWORD,
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await app.request("/login", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: ORIGIN,
      ...headers,
    },
    body: new URLSearchParams({ username, password }).toString(),
  });
  await res.body?.cancel();
  const cookie = cookieOf(res);
  if (res.status !== 303 || !cookie) throw new Error(`Login of ${username} failed: ${res.status}`);
  return cookie;
}

/** A JWT from `POST /auth/token`. */
export async function jwtFor(
  app: Hono<AppEnv>,
  username: string,
  password = TEST_PASSWORD,
): Promise<string> {
  const res = await app.request("/auth/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`Token for ${username}: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** The Authorization header of the local credential a running server wrote into `home`. */
export async function localCredential(home: string): Promise<Record<string, string>> {
  const text = await Deno.readTextFile(`${home}/cli_credential.json`);
  return { authorization: `Bearer ${JSON.parse(text).token}` };
}
