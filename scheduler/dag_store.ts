/**
 * Stores a parse of the DAG folder: DAG versions, import errors, and which DAGs are active.
 * It compares with what is stored first and writes only the differences, so a re-parse that
 * finds nothing new costs two reads, not a transaction per DAG.
 */
import type { Db } from "../db/client.ts";
import {
  clearImportErrors,
  deactivateMissing,
  recordImportError,
  storeDagVersion,
} from "../db/dags.ts";
import { dagsOfFiles, markParsed, storedDags, storedImportErrors } from "../db/parsed_dags.ts";
import type { ParsedFile } from "./dag_processor.ts";

/**
 * `files` is every DAG file of the folder; `imported`, those imported in this pass (the others
 * were unchanged and kept their last outcome). Returns the ids of DAGs with a new version.
 */
export async function storeParsedFiles(
  db: Db,
  files: ParsedFile[],
  imported: Set<string>,
  now: Date,
): Promise<string[]> {
  const stored = new Map((await storedDags(db.sql)).map((d) => [d.dagId, d]));
  const newVersions: string[] = [];
  const unchanged: string[] = [];
  for (const f of files) {
    for (const d of f.dags) {
      const s = stored.get(d.serialized.dagId);
      if (s?.hash === d.hash && s.fileloc === f.file && s.isActive) {
        if (imported.has(f.file)) unchanged.push(d.serialized.dagId);
        continue;
      }
      const result = await storeDagVersion(db, { ...d, fileloc: f.file, source: f.source, now });
      if (result.created) newVersions.push(d.serialized.dagId);
    }
  }
  await markParsed(db.sql, unchanged, now);

  const failed = files.filter((f) => f.error);
  const recorded = new Map((await storedImportErrors(db.sql)).map((e) => [e.filename, e]));
  for (const f of failed) {
    const r = recorded.get(f.file);
    // A file imported again records its error anew (its time is when it was last seen).
    if (imported.has(f.file) || r?.message !== f.error!.message || r.stack !== f.error!.stack) {
      await recordImportError(db.sql, { filename: f.file, ...f.error!, now });
    }
  }
  await clearImportErrors(db.sql, failed.map((f) => f.file));
  // A file that failed keeps its DAGs active: a typo must not unschedule a production DAG.
  const keep = await dagsOfFiles(db.sql, failed.map((f) => f.file));
  await deactivateMissing(db.sql, [
    ...files.flatMap((f) => f.dags.map((d) => d.serialized.dagId)),
    ...keep,
  ]);
  return newVersions;
}
