/**
 * The DAG processor: imports every file of the DAG folder in a sandbox that may read only that
 * folder, with a time limit, and stores what they define. A file that throws, loops, tries the
 * network or defines an invalid DAG becomes an import error with its message; the other files
 * are unaffected. An unchanged DAG makes no new version.
 */
import type { Db } from "../db/client.ts";
import {
  clearImportErrors,
  deactivateMissing,
  recordImportError,
  storeDagVersion,
} from "../db/dags.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { formatMs, RunnerPool } from "../worker/runner_pool.ts";

const DAG_FILE = /\.(ts|tsx|mts|js|mjs|jsx)$/;

export interface ParsedFile {
  /** Path relative to the DAG folder, with forward slashes. */
  file: string;
  source: string;
  dags: { serialized: SerializedDag; hash: string }[];
  error: { message: string; stack: string | null } | null;
}

export interface ParseOptions {
  timeoutMs: number;
  memoryMb?: number;
}

/**
 * Files that may define DAGs. Names starting with `_` or `.`, test files and `node_modules` are
 * skipped, so helpers can live beside DAGs without being imported as DAG files.
 */
export async function listDagFiles(folder: string, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${folder}/${prefix}`)) {
    if (entry.name.startsWith("_") || entry.name.startsWith(".")) continue;
    if (entry.name === "node_modules") continue;
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) files.push(...await listDagFiles(folder, `${path}/`));
    else if (entry.isFile && DAG_FILE.test(entry.name) && !/_test\.\w+$/.test(entry.name)) {
      files.push(path);
    }
  }
  return files.sort();
}

let parseCycle = 0;

export async function parseDagFolder(folder: string, options: ParseOptions): Promise<ParsedFile[]> {
  const files = await listDagFiles(folder);
  // A fresh runner per cycle: a warm one would keep its cached imports of changed files.
  const runners = new RunnerPool({
    dagsFolder: folder,
    defaultMemoryMb: options.memoryMb ?? 512,
    maxIdle: 1,
  });
  const versionKey = `parse-${++parseCycle}`;
  const parsed: ParsedFile[] = [];
  const owners = new Map<string, string>();
  try {
    for (const file of files) {
      const source = await Deno.readTextFile(`${folder}/${file}`);
      const outcome = await runners.run({ op: "parse", file: `${folder}/${file}` }, {
        permissions: {},
        versionKey,
        timeoutMs: options.timeoutMs,
      });
      if (!outcome.ok) {
        const message = outcome.reason === "timeout"
          ? `Importing ${file} took longer than ${formatMs(options.timeoutMs)}; it was stopped`
          : outcome.error.message;
        parsed.push({
          file,
          source,
          dags: [],
          error: { message, stack: outcome.error.stack ?? null },
        });
        continue;
      }
      const dags = JSON.parse(outcome.json) as SerializedDag[];
      const clash = dags.find((d) =>
        owners.has(d.dagId) || dags.filter((o) => o.dagId === d.dagId).length > 1
      );
      if (clash) {
        const other = owners.get(clash.dagId) ?? file;
        parsed.push({
          file,
          source,
          dags: [],
          error: {
            message: `DAG "${clash.dagId}" is defined twice (in ${other} and ${file})`,
            stack: null,
          },
        });
        continue;
      }
      for (const d of dags) owners.set(d.dagId, file);
      parsed.push({
        file,
        source,
        dags: await Promise.all(dags.map(async (serialized) => ({
          serialized,
          hash: await sha256(`${source}\n${JSON.stringify(serialized)}`),
        }))),
        error: null,
      });
    }
  } finally {
    await runners.close();
  }
  return parsed;
}

export interface ProcessResult {
  files: ParsedFile[];
  newVersions: string[];
}

/** Parses the folder and stores DAG versions and import errors. */
export async function processDagFolder(
  db: Db,
  folder: string,
  options: ParseOptions & { now: Date },
): Promise<ProcessResult> {
  const files = await parseDagFolder(folder, options);
  const newVersions: string[] = [];
  for (const f of files) {
    if (f.error) {
      await recordImportError(db.sql, { filename: f.file, ...f.error, now: options.now });
      continue;
    }
    for (const d of f.dags) {
      const stored = await storeDagVersion(db, {
        ...d,
        fileloc: f.file,
        source: f.source,
        now: options.now,
      });
      if (stored.created) newVersions.push(d.serialized.dagId);
    }
  }
  await clearImportErrors(db.sql, files.filter((f) => f.error).map((f) => f.file));
  // A file that failed keeps its DAGs active: a typo must not unschedule a production DAG.
  const failedFiles = new Set(files.filter((f) => f.error).map((f) => f.file));
  const keep = await db.sql<{ dagId: string }>`
    SELECT dag_id AS "dagId" FROM dag WHERE fileloc = ANY(${[...failedFiles]})`;
  await deactivateMissing(db.sql, [
    ...files.flatMap((f) => f.dags.map((d) => d.serialized.dagId)),
    ...keep.map((k) => k.dagId),
  ]);
  return { files, newVersions };
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
