/**
 * What the DAG processor compares a parse with before it writes: each DAG's file, state and
 * latest version hash, and the import errors on record. Writing only what differs keeps a
 * re-parse of an unchanged folder to two reads instead of a transaction per DAG.
 */
import type { Sql } from "./client.ts";

export interface StoredDag {
  dagId: string;
  fileloc: string;
  isActive: boolean;
  hash: string | null;
}

export function storedDags(sql: Sql): Promise<StoredDag[]> {
  return sql<StoredDag>`
    SELECT d.dag_id AS "dagId", d.fileloc, d.is_active AS "isActive", v.hash
    FROM dag d LEFT JOIN dag_version v ON v.id = d.latest_version_id`;
}

export function storedImportErrors(
  sql: Sql,
): Promise<{ filename: string; message: string; stack: string | null }[]> {
  return sql`SELECT filename, message, stack FROM import_error`;
}

/** DAGs whose file was imported again and found unchanged: parsed now, nothing else moves. */
export async function markParsed(sql: Sql, dagIds: string[], now: Date): Promise<void> {
  if (dagIds.length === 0) return;
  await sql`UPDATE dag SET last_parsed_at = ${now} WHERE dag_id = ANY(${dagIds}::text[])`;
}

/** The DAGs last stored from these files. */
export async function dagsOfFiles(sql: Sql, files: string[]): Promise<string[]> {
  if (files.length === 0) return [];
  const rows = await sql<{ dagId: string }>`
    SELECT dag_id AS "dagId" FROM dag WHERE fileloc = ANY(${files}::text[])`;
  return rows.map((r) => r.dagId);
}
