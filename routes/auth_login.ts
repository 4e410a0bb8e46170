/**
 * Checking a username and password, for the login page and for `POST /auth/token`. Failed
 * attempts are rate limited per username and per client address (GUST_LOGIN_RATE_LIMIT and
 * GUST_LOGIN_RATE_LIMIT_ADDRESS), counted from the audit log's `login_failed` rows, so every
 * web replica sees the same count. A refused attempt is answered before the password is
 * looked at and writes nothing. An unknown name costs as long as a wrong password.
 */
import { dummyHash, hashPassword, needsRehash, verifyPassword } from "../auth/password.ts";
import {
  completeLogin,
  insertLoginAttempt,
  type LoginLimit,
  loginRetryAt,
} from "../db/audit_log.ts";
import type { Sql } from "../db/client.ts";
import {
  findUserByName,
  recordLogin,
  upgradePasswordHash,
  type UserWithHash,
} from "../db/users.ts";
import { auditEntry } from "./auth_audit.ts";
import { type AuthContext, clientAddress, now, settings } from "./auth_principal.ts";

/** The longest name recorded for a failed attempt; longer ones are cut. */
const MAX_RECORDED_NAME = 100;

export type LoginOutcome =
  | {
    ok: true;
    user: UserWithHash;
    /** Records the login in the caller's transaction (with its session, for the dashboard). */
    complete: (tx: Sql, extra?: Record<string, unknown>) => Promise<void>;
  }
  | { ok: false; status: 401 }
  | { ok: false; status: 429; retryAfterS: number };

export async function checkLogin(
  c: AuthContext,
  username: string,
  password: string,
  via: "dashboard" | "api",
): Promise<LoginOutcome> {
  const { db } = c.get("deps");
  const { loginRateLimit, passwordIterations } = settings(c);
  const at = now(c);
  const name = username.trim().slice(0, MAX_RECORDED_NAME);
  const limits = {
    user: limitOf(loginRateLimit.user, at),
    address: limitOf(loginRateLimit.address, at),
  };
  const entry = auditEntry(c, "login_failed", {}, { via }, { owner: name, actor: "anonymous" });
  const attempt = await db.begin((tx) => insertLoginAttempt(tx, { ...entry, owner: name }, limits));
  if (attempt === null) {
    const retryAt = await loginRetryAt(db.sql, name, clientAddress(c), limits, {
      user: loginRateLimit.user?.windowMs ?? 0,
      address: loginRateLimit.address?.windowMs ?? 0,
    });
    return {
      ok: false,
      status: 429,
      retryAfterS: Math.max(1, Math.ceil((retryAt.getTime() - at.getTime()) / 1000)),
    };
  }
  const user = name ? await findUserByName(db.sql, name) : null;
  const hash = user?.passwordHash ?? await dummyHash(passwordIterations);
  const matches = await verifyPassword(password, hash);
  if (!user || !matches || !user.isActive) return { ok: false, status: 401 };
  if (needsRehash(user.passwordHash, passwordIterations)) {
    const fresh = await hashPassword(password, passwordIterations);
    await upgradePasswordHash(db.sql, user.id, user.passwordHash, fresh);
  }
  return {
    ok: true,
    user,
    complete: async (tx, extra = {}) => {
      await completeLogin(tx, attempt, user.username, { ...entry.extra, ...extra });
      await recordLogin(tx, user.id, at);
    },
  };
}

function limitOf(rate: { count: number; windowMs: number } | null, at: Date): LoginLimit | null {
  return rate ? { count: rate.count, since: new Date(at.getTime() - rate.windowMs) } : null;
}
