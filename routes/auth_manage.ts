/**
 * Changes to users and API tokens, shared by the admin pages, the `/auth/users` and
 * `/auth/tokens` endpoints (and so the CLI). Each change and its audit row are one
 * transaction. A new password or a deactivation ends the user's sessions in that transaction;
 * their JWTs stop working because they were issued before the change.
 */
import { hashPassword, randomPassword, verifyPassword } from "../auth/password.ts";
import type { UserRole } from "../auth/roles.ts";
import { API_TOKEN_PREFIX, randomToken, sha256Hex } from "../auth/secrets.ts";
import { type ApiToken, insertApiToken, revokeApiToken } from "../db/api_tokens.ts";
import { insertAudit } from "../db/audit_log.ts";
import { deleteUserSessions } from "../db/sessions.ts";
import {
  findUserByName,
  getPasswordHash,
  getUser,
  insertUser,
  setUserActive,
  setUserPassword,
  setUserRole,
  type User,
  UserError,
} from "../db/users.ts";
import { auditEntry } from "./auth_audit.ts";
import { type AuthContext, now, settings } from "./auth_principal.ts";
import { startSession } from "./auth_session.ts";

export class ManageError extends Error {
  constructor(message: string, readonly status: 404 | 409 | 422) {
    super(message);
  }
}

const audit = (c: AuthContext, event: string, extra: Record<string, unknown>) =>
  auditEntry(c, event, {}, extra);

export async function createUser(
  c: AuthContext,
  u: { username: string; role: UserRole; password?: string },
): Promise<{ user: User; password?: string }> {
  const { db } = c.get("deps");
  const password = u.password ?? randomPassword();
  const passwordHash = await hashPassword(password, settings(c).passwordIterations);
  const user = await db.begin(async (tx) => {
    const made = await insertUser(tx, { ...u, passwordHash, now: now(c) });
    if (made) {
      await insertAudit(tx, audit(c, "user_create", { username: made.username, role: u.role }));
    }
    return made;
  });
  if (!user) throw new ManageError(`User "${u.username}" already exists`, 409);
  return { user, ...(u.password === undefined ? { password } : {}) };
}

export interface UserChange {
  role?: UserRole;
  password?: string;
  /** Generate a new password and return it once. */
  resetPassword?: boolean;
  isActive?: boolean;
}

export async function changeUser(
  c: AuthContext,
  username: string,
  change: UserChange,
): Promise<{ user: User; password?: string }> {
  const { db } = c.get("deps");
  const found = await findUserByName(db.sql, username);
  if (!found) throw new ManageError(`User "${username}" does not exist`, 404);
  const generated = change.resetPassword && change.password === undefined
    ? randomPassword()
    : undefined;
  const password = change.password ?? generated;
  const hash = password === undefined
    ? null
    : await hashPassword(password, settings(c).passwordIterations);
  const at = now(c);
  const target = { username: found.username };
  try {
    await db.begin(async (tx) => {
      if (change.role !== undefined && await setUserRole(tx, found.id, change.role, at)) {
        await insertAudit(
          tx,
          audit(c, "user_role_change", { ...target, from: found.role, to: change.role }),
        );
      }
      if (hash !== null) {
        await setUserPassword(tx, found.id, hash, at);
        const ended = await deleteUserSessions(tx, found.id);
        await insertAudit(
          tx,
          audit(c, "user_password_reset", { ...target, sessions_ended: ended }),
        );
      }
      if (change.isActive !== undefined && await setUserActive(tx, found.id, change.isActive, at)) {
        const ended = change.isActive ? 0 : await deleteUserSessions(tx, found.id);
        const event = change.isActive ? "user_activate" : "user_deactivate";
        await insertAudit(tx, audit(c, event, { ...target, sessions_ended: ended }));
      }
    });
  } catch (error) {
    if (error instanceof UserError) throw new ManageError(error.message, 409);
    throw error;
  }
  return {
    user: (await getUser(db.sql, found.id))!,
    ...(generated ? { password: generated } : {}),
  };
}

/**
 * The signed-in user's own new password: every session of theirs ends, this browser gets a new
 * one, and their JWTs stop working. False when the current password is wrong.
 */
export async function changeOwnPassword(
  c: AuthContext,
  userId: number,
  current: string,
  next: string,
): Promise<boolean> {
  const { db } = c.get("deps");
  const stored = await getPasswordHash(db.sql, userId);
  if (!stored || !await verifyPassword(current, stored)) return false;
  const hash = await hashPassword(next, settings(c).passwordIterations);
  await db.begin(async (tx) => {
    await setUserPassword(tx, userId, hash, now(c));
    const ended = await deleteUserSessions(tx, userId);
    await insertAudit(tx, audit(c, "password_change", { sessions_ended: ended }));
    await startSession(c, tx, userId);
  });
  return true;
}

export async function createToken(
  c: AuthContext,
  t: { name: string; role: UserRole; expiresInDays?: number | null },
): Promise<{ token: ApiToken; secret: string }> {
  const { db } = c.get("deps");
  const secret = randomToken(API_TOKEN_PREFIX);
  const at = now(c);
  const expiresAt = t.expiresInDays ? new Date(at.getTime() + t.expiresInDays * 86_400_000) : null;
  const token = await db.begin(async (tx) => {
    const made = await insertApiToken(tx, {
      name: t.name,
      role: t.role,
      tokenHash: await sha256Hex(secret),
      prefix: secret.slice(0, API_TOKEN_PREFIX.length + 4),
      createdBy: c.get("principal")?.name ?? null,
      now: at,
      expiresAt,
    });
    if (made) {
      await insertAudit(
        tx,
        audit(c, "token_create", { token_id: made.id, name: made.name, role: made.role }),
      );
    }
    return made;
  });
  if (!token) throw new ManageError(`A live API token is already named "${t.name}"`, 409);
  return { token, secret };
}

export async function revokeToken(c: AuthContext, id: number): Promise<ApiToken> {
  const { db } = c.get("deps");
  const token = await db.begin(async (tx) => {
    const revoked = await revokeApiToken(tx, id, now(c));
    if (revoked) {
      await insertAudit(tx, audit(c, "token_revoke", { token_id: id, name: revoked.name }));
    }
    return revoked;
  });
  if (!token) throw new ManageError(`There is no live API token ${id}`, 404);
  return token;
}
