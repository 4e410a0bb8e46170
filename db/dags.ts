/** Queries on DAGs, their versions and import errors. */
import { type Db, json, type Sql } from "./client.ts";
import type { SerializedDag } from "../sdk/serialize.ts";

export interface DagVersion {
  id: number;
  dagId: string;
  versionNumber: number;
  hash: string;
  fileloc: string;
  serialized: SerializedDag;
}

/**
 * Stores a parsed DAG. An unchanged DAG (same hash) makes no new version; a changed one gets
 * the next version number and becomes the DAG's latest. Safe to run twice or concurrently.
 */
export async function storeDagVersion(
  db: Db,
  v: { serialized: SerializedDag; hash: string; fileloc: string; source: string; now: Date },
): Promise<{ versionId: number; created: boolean }> {
  const dagId = v.serialized.dagId;
  return await db.begin(async (tx) => {
    await tx`
      INSERT INTO dag (dag_id, fileloc, is_paused, last_parsed_at)
      VALUES (${dagId}, ${v.fileloc}, ${v.serialized.pausedOnCreation}, ${v.now})
      ON CONFLICT (dag_id) DO UPDATE SET fileloc = EXCLUDED.fileloc, is_active = true,
        last_parsed_at = EXCLUDED.last_parsed_at`;
    // Serializes versioning of one DAG, so two processors cannot take the same number.
    await tx`SELECT 1 FROM dag WHERE dag_id = ${dagId} FOR UPDATE`;
    const [existing] = await tx<{ id: number }>`
      SELECT id FROM dag_version WHERE dag_id = ${dagId} AND hash = ${v.hash}`;
    let versionId = existing?.id;
    if (!versionId) {
      const [row] = await tx<{ id: number }>`
        INSERT INTO dag_version (dag_id, version_number, hash, fileloc, serialized, source,
          max_active_runs, max_active_tasks)
        SELECT ${dagId}, COALESCE(max(version_number), 0) + 1, ${v.hash}, ${v.fileloc},
          ${json(v.serialized)}, ${v.source}, ${v.serialized.maxActiveRuns},
          ${v.serialized.maxActiveTasks}
        FROM dag_version WHERE dag_id = ${dagId}
        RETURNING id`;
      versionId = row.id;
    }
    const updated = await tx`
      UPDATE dag SET latest_version_id = ${versionId}, next_dagrun_create_after = NULL
      WHERE dag_id = ${dagId} AND latest_version_id IS DISTINCT FROM ${versionId}
      RETURNING dag_id`;
    return { versionId, created: !existing || updated.length > 0 };
  });
}

export async function recordImportError(
  sql: Sql,
  e: { filename: string; message: string; stack: string | null; now: Date },
): Promise<void> {
  await sql`
    INSERT INTO import_error (filename, message, stack, created_at)
    VALUES (${e.filename}, ${e.message}, ${e.stack}, ${e.now})
    ON CONFLICT (filename) DO UPDATE SET message = EXCLUDED.message, stack = EXCLUDED.stack,
      created_at = EXCLUDED.created_at`;
}

export async function clearImportErrors(sql: Sql, keep: string[]): Promise<void> {
  await sql`DELETE FROM import_error WHERE NOT (filename = ANY(${keep}))`;
}

export interface ImportError {
  filename: string;
  message: string;
  stack: string | null;
  createdAt: Date;
}

export function listImportErrors(sql: Sql): Promise<ImportError[]> {
  return sql<ImportError>`
    SELECT filename, message, stack, created_at AS "createdAt"
    FROM import_error ORDER BY filename`;
}

/** DAGs whose file no longer defines them stop being scheduled; their history stays. */
export async function deactivateMissing(sql: Sql, present: string[]): Promise<void> {
  await sql`UPDATE dag SET is_active = false WHERE is_active AND NOT (dag_id = ANY(${present}))`;
}

/**
 * How many DAG versions a process keeps. Versions never change once written, so the only cost is
 * memory (a one-task DAG is about 1 KB); the scheduler reads the latest version of every due DAG
 * each tick, so the cache must hold more than the active DAGs or every tick misses for all of
 * them (with 500 and 1,000 DAGs it did).
 */
const VERSION_CACHE_SIZE = 10_000;

function cachedVersion(sql: Sql, id: number): DagVersion | undefined {
  const key = `dag_version:${id}`;
  const cached = sql.cache.get(key) as DagVersion | undefined;
  if (cached) {
    // Least recently used goes first: a hit moves the entry to the end of the map's order.
    sql.cache.delete(key);
    sql.cache.set(key, cached);
  }
  return cached;
}

function cacheVersion(sql: Sql, version: DagVersion): void {
  if (sql.cache.size >= VERSION_CACHE_SIZE) sql.cache.delete(sql.cache.keys().next().value!);
  sql.cache.set(`dag_version:${version.id}`, version);
}

/** DAG versions never change once written, so they are cached by id (per database). */
export async function getDagVersion(sql: Sql, id: number): Promise<DagVersion> {
  return cachedVersion(sql, id) ?? (await getDagVersions(sql, [id])).get(id)!;
}

/** Several versions, through the same cache, with the missing ones read in one query. */
export async function getDagVersions(sql: Sql, ids: number[]): Promise<Map<number, DagVersion>> {
  const found = new Map<number, DagVersion>();
  const missing: number[] = [];
  for (const id of new Set(ids)) {
    const cached = cachedVersion(sql, id);
    if (cached) found.set(id, cached);
    else missing.push(id);
  }
  if (missing.length) {
    const rows = await sql<DagVersion>`
      SELECT id, dag_id AS "dagId", version_number AS "versionNumber", hash, fileloc, serialized
      FROM dag_version WHERE id = ANY(${missing}::int[])`;
    for (const row of rows) {
      cacheVersion(sql, row);
      found.set(row.id, row);
    }
  }
  const absent = ids.find((id) => !found.has(id));
  if (absent !== undefined) throw new Error(`DAG version ${absent} does not exist`);
  return found;
}

/** The source a DAG version was parsed from (cached, like the version itself). */
export async function getDagVersionSource(sql: Sql, id: number): Promise<string> {
  const key = `dag_version_source:${id}`;
  const cached = sql.cache.get(key) as string | undefined;
  if (cached !== undefined) return cached;
  const [row] = await sql<{ source: string }>`SELECT source FROM dag_version WHERE id = ${id}`;
  if (!row) throw new Error(`DAG version ${id} does not exist`);
  sql.cache.set(key, row.source);
  return row.source;
}

export interface DagRow {
  dagId: string;
  fileloc: string;
  isPaused: boolean;
  isActive: boolean;
  latestVersionId: number | null;
}

export async function getDag(sql: Sql, dagId: string): Promise<DagRow | null> {
  const [row] = await sql<DagRow>`
    SELECT dag_id AS "dagId", fileloc, is_paused AS "isPaused", is_active AS "isActive",
      latest_version_id AS "latestVersionId"
    FROM dag WHERE dag_id = ${dagId}`;
  return row ?? null;
}

export function listDags(sql: Sql): Promise<(DagRow & { serialized: SerializedDag })[]> {
  return sql`
    SELECT d.dag_id AS "dagId", d.fileloc, d.is_paused AS "isPaused", d.is_active AS "isActive",
      d.latest_version_id AS "latestVersionId", v.serialized
    FROM dag d JOIN dag_version v ON v.id = d.latest_version_id
    WHERE d.is_active ORDER BY d.dag_id`;
}

export async function setPaused(sql: Sql, dagId: string, paused: boolean): Promise<boolean> {
  const rows = await sql`UPDATE dag SET is_paused = ${paused} WHERE dag_id = ${dagId} RETURNING 1`;
  return rows.length > 0;
}
