/**
 * Dashboard sessions, keyed by the SHA-256 of the id in the cookie. A session is valid while
 * its absolute expiry is ahead, it has been seen within the idle timeout, and its user is
 * active; its `last_seen_at` is renewed at most once a minute, so a page that polls every two
 * seconds costs one write a minute, not thirty.
 */
import type { UserRole } from "../auth/roles.ts";
import type { Sql } from "./client.ts";

/** How stale `last_seen_at` may get before a request renews it. */
const TOUCH_EVERY_MS = 60_000;

export interface SessionUser {
  idHash: string;
  userId: number;
  username: string;
  role: UserRole;
  lastSeenAt: Date;
}

export async function insertSession(
  tx: Sql,
  s: {
    idHash: string;
    userId: number;
    now: Date;
    expiresAt: Date;
    clientAddr: string | null;
    userAgent: string | null;
  },
): Promise<void> {
  await tx`
    INSERT INTO user_session (id_hash, user_id, created_at, last_seen_at, expires_at,
      client_addr, user_agent)
    VALUES (${s.idHash}, ${s.userId}, ${s.now}, ${s.now}, ${s.expiresAt}, ${s.clientAddr},
      ${s.userAgent})`;
}

/** The live session with this id hash and its active user, renewing its idle expiry. */
export async function findSession(
  sql: Sql,
  idHash: string,
  now: Date,
  idleMs: number,
): Promise<SessionUser | null> {
  const [row] = await sql<SessionUser>`
    SELECT s.id_hash AS "idHash", u.id AS "userId", u.username, u.role,
      s.last_seen_at AS "lastSeenAt"
    FROM user_session s JOIN app_user u ON u.id = s.user_id
    WHERE s.id_hash = ${idHash} AND s.expires_at > ${now} AND u.is_active
      AND s.last_seen_at > ${new Date(now.getTime() - idleMs)}`;
  if (!row) return null;
  if (now.getTime() - new Date(row.lastSeenAt).getTime() > TOUCH_EVERY_MS) {
    await sql`UPDATE user_session SET last_seen_at = ${now}
      WHERE id_hash = ${idHash} AND last_seen_at < ${now}`;
  }
  return row;
}

export async function deleteSession(tx: Sql, idHash: string): Promise<boolean> {
  const rows = await tx`DELETE FROM user_session WHERE id_hash = ${idHash} RETURNING user_id`;
  return rows.length > 0;
}

/** Ends every session of a user (password change, deactivation); returns how many. */
export async function deleteUserSessions(tx: Sql, userId: number): Promise<number> {
  const rows = await tx`DELETE FROM user_session WHERE user_id = ${userId} RETURNING user_id`;
  return rows.length;
}

/** Forgets sessions that can no longer be used; called now and then, at login. */
export async function pruneSessions(sql: Sql, now: Date, idleMs: number): Promise<void> {
  await sql`DELETE FROM user_session
    WHERE expires_at <= ${now} OR last_seen_at <= ${new Date(now.getTime() - idleMs)}`;
}
