/**
 * Long-lived API tokens, found by the SHA-256 of the token. `last_used_at` is renewed at most
 * once a minute per token, so a busy script costs one write a minute; it is therefore accurate
 * to the minute.
 */
import type { UserRole } from "../auth/roles.ts";
import { raw, type Sql } from "./client.ts";

const TOUCH_EVERY_MS = 60_000;

export interface ApiToken {
  id: number;
  name: string;
  role: UserRole;
  prefix: string;
  createdBy: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const COLUMNS = raw(`id, name, role, prefix, created_by AS "createdBy", created_at AS "createdAt",
  expires_at AS "expiresAt", last_used_at AS "lastUsedAt", revoked_at AS "revokedAt"`);

/** Inserts a token; null when a live token already has this name (whatever its case). */
export async function insertApiToken(
  tx: Sql,
  t: {
    name: string;
    role: UserRole;
    tokenHash: string;
    prefix: string;
    createdBy: string | null;
    now: Date;
    expiresAt: Date | null;
  },
): Promise<ApiToken | null> {
  const rows = await tx<ApiToken>`
    INSERT INTO api_token (name, role, token_hash, prefix, created_by, created_at, expires_at)
    VALUES (${t.name}, ${t.role}, ${t.tokenHash}, ${t.prefix}, ${t.createdBy}, ${t.now},
      ${t.expiresAt})
    ON CONFLICT DO NOTHING
    RETURNING ${COLUMNS}`;
  return rows[0] ?? null;
}

/** The live token with this hash, renewing its `last_used_at`. */
export async function useApiToken(sql: Sql, tokenHash: string, now: Date) {
  const [row] = await sql<ApiToken>`
    SELECT ${COLUMNS} FROM api_token
    WHERE token_hash = ${tokenHash} AND revoked_at IS NULL
      AND (expires_at IS NULL OR expires_at > ${now})`;
  if (!row) return null;
  const last = row.lastUsedAt ? new Date(row.lastUsedAt).getTime() : 0;
  if (now.getTime() - last > TOUCH_EVERY_MS) {
    await sql`UPDATE api_token SET last_used_at = ${now}
      WHERE id = ${row.id} AND (last_used_at IS NULL OR last_used_at < ${now})`;
  }
  return row;
}

export async function listApiTokens(sql: Sql): Promise<ApiToken[]> {
  return await sql<ApiToken>`
    SELECT ${COLUMNS} FROM api_token ORDER BY revoked_at IS NOT NULL, lower(name), id`;
}

export async function getApiToken(sql: Sql, id: number): Promise<ApiToken | null> {
  const [row] = await sql<ApiToken>`SELECT ${COLUMNS} FROM api_token WHERE id = ${id}`;
  return row ?? null;
}

/** Revokes a live token; null when there is none with this id (or it was revoked already). */
export async function revokeApiToken(tx: Sql, id: number, now: Date): Promise<ApiToken | null> {
  const [row] = await tx<ApiToken>`
    UPDATE api_token SET revoked_at = ${now} WHERE id = ${id} AND revoked_at IS NULL
    RETURNING ${COLUMNS}`;
  return row ?? null;
}
