/**
 * Users: who may log in, with which role. Names are unique whatever their case. A change that
 * could leave no active Admin (demoting or deactivating the last one) is refused in the same
 * transaction that would make it, with the Admins locked, so two concurrent demotions cannot
 * both pass.
 */
import type { UserRole } from "../auth/roles.ts";
import { raw, type Sql } from "./client.ts";

export interface User {
  id: number;
  username: string;
  role: UserRole;
  isActive: boolean;
  passwordChangedAt: Date;
  createdAt: Date;
  lastLoginAt: Date | null;
}

export interface UserWithHash extends User {
  passwordHash: string;
}

const USER_COLUMNS = raw(`id, username, role, is_active AS "isActive",
  password_changed_at AS "passwordChangedAt", created_at AS "createdAt",
  last_login_at AS "lastLoginAt"`);

export class UserError extends Error {}

export async function countUsers(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }>`SELECT count(*)::int AS n FROM app_user`;
  return row.n;
}

/** Inserts a user; null when the name is taken (whatever its case). */
export async function insertUser(
  tx: Sql,
  u: { username: string; role: UserRole; passwordHash: string; now: Date },
): Promise<User | null> {
  const rows = await tx<User>`
    INSERT INTO app_user (username, role, password_hash, password_changed_at, created_at,
      updated_at)
    VALUES (${u.username}, ${u.role}, ${u.passwordHash}, ${u.now}, ${u.now}, ${u.now})
    ON CONFLICT DO NOTHING
    RETURNING ${USER_COLUMNS}`;
  return rows[0] ?? null;
}

const FIRST_USER_LOCK = 7_406_830; // arbitrary, constant: "gust first user"

/**
 * Creates the first user when there is none; false when one exists. Web replicas starting at
 * once serialize on a lock, so exactly one creates it (and prints its password).
 */
export async function insertFirstUser(
  tx: Sql,
  u: { username: string; role: UserRole; passwordHash: string; now: Date },
): Promise<boolean> {
  await tx`SELECT pg_advisory_xact_lock(${FIRST_USER_LOCK})`;
  if (await countUsers(tx) > 0) return false;
  return (await insertUser(tx, u)) !== null;
}

export async function findUserByName(sql: Sql, username: string): Promise<UserWithHash | null> {
  const [row] = await sql<UserWithHash>`
    SELECT ${USER_COLUMNS}, password_hash AS "passwordHash"
    FROM app_user WHERE lower(username) = lower(${username})`;
  return row ?? null;
}

export async function getUser(sql: Sql, id: number): Promise<User | null> {
  const [row] = await sql<User>`
    SELECT ${USER_COLUMNS} FROM app_user WHERE id = ${id}`;
  return row ?? null;
}

export async function getPasswordHash(sql: Sql, id: number): Promise<string | null> {
  const [row] = await sql<{ hash: string }>`
    SELECT password_hash AS hash FROM app_user WHERE id = ${id} AND is_active`;
  return row?.hash ?? null;
}

export async function listUsers(sql: Sql): Promise<User[]> {
  return await sql<User>`SELECT ${USER_COLUMNS} FROM app_user ORDER BY lower(username)`;
}

/** Refuses a change to `userId` that would leave no active Admin; locks the Admins first. */
async function keepAnAdmin(tx: Sql, userId: number, staysAdmin: boolean): Promise<void> {
  if (staysAdmin) return;
  const admins = await tx<{ id: number }>`
    SELECT id FROM app_user WHERE role = 'Admin' AND is_active ORDER BY id FOR UPDATE`;
  if (admins.length === 1 && admins[0].id === userId) {
    throw new UserError("Cannot remove the last active Admin: make another user Admin first");
  }
}

export async function setUserRole(tx: Sql, userId: number, role: UserRole, now: Date) {
  await keepAnAdmin(tx, userId, role === "Admin");
  const rows = await tx`
    UPDATE app_user SET role = ${role}, updated_at = ${now}
    WHERE id = ${userId} AND role IS DISTINCT FROM ${role} RETURNING id`;
  return rows.length > 0;
}

export async function setUserActive(tx: Sql, userId: number, active: boolean, now: Date) {
  await keepAnAdmin(tx, userId, active);
  const rows = await tx`
    UPDATE app_user SET is_active = ${active}, updated_at = ${now}
    WHERE id = ${userId} AND is_active <> ${active} RETURNING id`;
  return rows.length > 0;
}

/** A new password: JWTs issued before `now` stop working (sessions are deleted by the caller). */
export async function setUserPassword(tx: Sql, userId: number, passwordHash: string, now: Date) {
  await tx`
    UPDATE app_user SET password_hash = ${passwordHash}, password_changed_at = ${now},
      updated_at = ${now}
    WHERE id = ${userId}`;
}

/** A stronger hash of the same password, after a login verified it: nothing is revoked. */
export async function upgradePasswordHash(sql: Sql, userId: number, old: string, fresh: string) {
  await sql`UPDATE app_user SET password_hash = ${fresh}
    WHERE id = ${userId} AND password_hash = ${old}`;
}

export async function recordLogin(tx: Sql, userId: number, now: Date): Promise<void> {
  await tx`UPDATE app_user SET last_login_at = ${now} WHERE id = ${userId}`;
}
