/**
 * Who is asking: a user with a dashboard session (cookie) or a JWT from `POST /auth/token`, an
 * API token an Admin created, or the local CLI with the credential the server wrote into
 * GUST_HOME. The API takes bearer tokens only, never the cookie: its JSON bodies are read
 * whatever their content type, so a cookie would let another site's form act through a
 * logged-in browser. The dashboard takes its cookie, and bearer tokens too (for scripts).
 */
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { AUDIENCE, signJwt, verifyJwt } from "../auth/jwt.ts";
import { DEFAULT_ITERATIONS, timingSafeEqual, toBase64Url } from "../auth/password.ts";
import type { UserRole } from "../auth/roles.ts";
import { API_TOKEN_PREFIX, LOCAL_TOKEN_PREFIX, sha256Hex } from "../auth/secrets.ts";
import type { Rate } from "../config.ts";
import { useApiToken } from "../db/api_tokens.ts";
import { findSession } from "../db/sessions.ts";
import { getUser } from "../db/users.ts";
import type { AppEnv } from "./mod.ts";

export interface Principal {
  kind: "user" | "api_token" | "cli";
  /** The username, the API token's name, or "cli". */
  name: string;
  role: UserRole;
  userId: number | null;
  /** How it proved who it is. */
  via: "session" | "jwt" | "api_token" | "local";
  /** The session's id hash, for logout. */
  sessionHash?: string;
}

export interface AuthSettings {
  /** The HS256 key of JWTs; replicas must share it. */
  secretKey: string;
  jwtTtlMs: number;
  sessionIdleMs: number;
  sessionMaxMs: number;
  passwordIterations: number;
  loginRateLimit: { user: Rate | null; address: Rate | null };
  forwardedAllowIps: string[];
  /** The local CLI credential, accepted as an Admin named "cli"; null: none. */
  localToken: string | null;
}

export const DEFAULT_AUTH: Omit<AuthSettings, "secretKey"> = {
  jwtTtlMs: 3_600_000,
  sessionIdleMs: 3_600_000,
  sessionMaxMs: 12 * 3_600_000,
  passwordIterations: DEFAULT_ITERATIONS,
  loginRateLimit: {
    user: { count: 5, windowMs: 300_000 },
    address: { count: 20, windowMs: 300_000 },
  },
  forwardedAllowIps: ["127.0.0.1", "::1"],
  localToken: null,
};

/** Settings with defaults; a missing key is random, so JWTs of this app die with it. */
export function resolveAuthSettings(given: Partial<AuthSettings> = {}): AuthSettings {
  const secretKey = given.secretKey ?? toBase64Url(crypto.getRandomValues(new Uint8Array(48)));
  return { ...DEFAULT_AUTH, ...given, secretKey };
}

export type AuthContext = Context<AppEnv>;

export const SESSION_COOKIE = "gust_session";
/** The JWT claim holding when the user's password last changed, in epoch milliseconds. */
export const PASSWORD_CLAIM = "pwd_at";

/** A JWT for `user`, valid from now for GUST_JWT_TTL. */
export function issueJwt(
  c: AuthContext,
  user: { id: number; passwordChangedAt: Date },
): Promise<string> {
  const { secretKey, jwtTtlMs } = settings(c);
  return signJwt(secretKey, String(user.id), now(c), jwtTtlMs, {
    [PASSWORD_CLAIM]: new Date(user.passwordChangedAt).getTime(),
  });
}

export const now = (c: AuthContext): Date => c.get("deps").clock?.() ?? new Date();
export const settings = (c: AuthContext): AuthSettings => c.get("deps").auth;

/** The request came over TLS: an https URL, or a proxy saying so. */
export function isSecure(c: AuthContext): boolean {
  if (new URL(c.req.url).protocol === "https:") return true;
  const proto = c.req.header("x-forwarded-proto")?.split(",")[0].trim().toLowerCase();
  return proto === "https";
}

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy
 * (GUST_FORWARDED_ALLOW_IPS), in which case the nearest untrusted address of X-Forwarded-For.
 * A request served in process (tests, the CLI's fallback) has no socket: its header is taken.
 */
export function clientAddress(c: AuthContext): string | null {
  const env = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  const peer = env?.remoteAddr?.hostname ?? null;
  const allow = settings(c).forwardedAllowIps;
  const trusted = (addr: string) => allow.includes("*") || allow.includes(addr);
  if (peer !== null && !trusted(peer)) return peer;
  const hops = (c.req.header("x-forwarded-for") ?? "").split(",").map((s) => s.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trusted(hops[i]) || i === 0) return hops[i].slice(0, 64);
  }
  return peer;
}

export const userAgent = (c: AuthContext): string | null =>
  c.req.header("user-agent")?.slice(0, 300) ?? null;

export type Authenticated = { principal: Principal } | { problem: string };

async function fromJwt(c: AuthContext, token: string): Promise<Authenticated> {
  const verdict = await verifyJwt(settings(c).secretKey, token, now(c));
  if ("problem" in verdict) {
    return { problem: verdict.problem === "expired" ? "Token Expired" : "Invalid JWT token" };
  }
  const { claims } = verdict;
  const id = /^\d{1,9}$/.test(claims.sub) ? Number(claims.sub) : null;
  const user = id === null || claims.aud !== AUDIENCE
    ? null
    : await getUser(c.get("deps").db.sql, id);
  // A token carries when its user's password last changed: a later change revokes it, to the
  // millisecond (`iat` counts whole seconds only).
  const current = user ? new Date(user.passwordChangedAt).getTime() : null;
  if (!user || !user.isActive || claims[PASSWORD_CLAIM] !== current) {
    return { problem: "Invalid JWT token" };
  }
  return {
    principal: { kind: "user", name: user.username, role: user.role, userId: user.id, via: "jwt" },
  };
}

const encoder = new TextEncoder();

/** `Authorization: Bearer <token>`: null when absent, else who it is or what is wrong. */
export async function authenticateBearer(c: AuthContext): Promise<Authenticated | null> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
  if (!match) return null;
  const token = match[1];
  const { localToken } = settings(c);
  if (token.startsWith(LOCAL_TOKEN_PREFIX)) {
    if (localToken && timingSafeEqual(encoder.encode(token), encoder.encode(localToken))) {
      return { principal: { kind: "cli", name: "cli", role: "Admin", userId: null, via: "local" } };
    }
    return { problem: "Invalid token" };
  }
  if (token.startsWith(API_TOKEN_PREFIX)) {
    const row = await useApiToken(c.get("deps").db.sql, await sha256Hex(token), now(c));
    if (!row) return { problem: "Invalid token" };
    return {
      principal: {
        kind: "api_token",
        name: row.name,
        role: row.role,
        userId: null,
        via: "api_token",
      },
    };
  }
  return await fromJwt(c, token);
}

/** The dashboard session of the cookie, if it is live. */
export async function authenticateSession(c: AuthContext): Promise<Principal | null> {
  const id = getCookie(c, SESSION_COOKIE);
  if (!id || !/^[A-Za-z0-9_-]{20,100}$/.test(id)) return null;
  const idHash = await sha256Hex(id);
  const s = await findSession(c.get("deps").db.sql, idHash, now(c), settings(c).sessionIdleMs);
  if (!s) return null;
  return {
    kind: "user",
    name: s.username,
    role: s.role,
    userId: s.userId,
    via: "session",
    sessionHash: idHash,
  };
}
