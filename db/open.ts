/**
 * Opens the metadata database: a Postgres server when a URL is given, else embedded PGlite
 * persisted under `<home>/db`, or in memory for throwaway runs (`gust dags test`).
 */
import { PGlite } from "@electric-sql/pglite";
import { type Db, pgliteDb, postgresDb } from "./client.ts";
import { migrate } from "./migrate.ts";

export type DbTarget = { url: string } | { dataDir: string } | { memory: true };

export async function openDb(target: DbTarget, options: { migrate?: boolean } = {}): Promise<Db> {
  let db: Db;
  if ("url" in target) {
    db = postgresDb(target.url);
  } else {
    if ("dataDir" in target) await Deno.mkdir(target.dataDir, { recursive: true });
    const pg = await PGlite.create("dataDir" in target ? target.dataDir : undefined);
    db = pgliteDb(pg);
  }
  if (options.migrate ?? true) await migrate(db);
  return db;
}
