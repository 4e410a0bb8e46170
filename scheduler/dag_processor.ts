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
import { formatMs, RunnerPool, type RunOutcome } from "../worker/runner_pool.ts";

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

/**
 * How many files are imported at once, each in a runner process of its own. No more than the
 * cores: the time limit runs from the runner's start, so oversubscribed runners would eat into it.
 */
const PARSE_CONCURRENCY = Math.max(1, Math.min(4, navigator.hardwareConcurrency ?? 1));

export async function parseDagFolder(folder: string, options: ParseOptions): Promise<ParsedFile[]> {
  const files = await listDagFiles(folder);
  // Files are imported in a few shared runners (starting one costs about 100 ms, which adds up
  // over hundreds of files). A file whose timer throws after its import, or that patches a
  // global, can break the next file imported in the same runner; so every failure other than a
  // timeout is confirmed by importing that file again alone, in a fresh runner, before it is
  // reported.
  const runners = new RunnerPool({
    dagsFolder: folder,
    defaultMemoryMb: options.memoryMb ?? 512,
    maxIdle: PARSE_CONCURRENCY,
  });
  const imported: { file: string; source: string; outcome: RunOutcome }[] = [];
  try {
    let next = 0;
    const work = async (lane: number) => {
      while (next < files.length) {
        const i = next++;
        const file = files[i];
        const source = await Deno.readTextFile(`${folder}/${file}`);
        const parse = (fresh: boolean) =>
          runners.run({ op: "parse", file: `${folder}/${file}` }, {
            permissions: {},
            versionKey: `parse-${lane}`,
            timeoutMs: options.timeoutMs,
            fresh,
          });
        let outcome = await parse(false);
        if (!outcome.ok && outcome.reason !== "timeout") outcome = await parse(true);
        imported[i] = { file, source, outcome };
      }
    };
    await Promise.all(Array.from({ length: PARSE_CONCURRENCY }, (_, lane) => work(lane)));
  } finally {
    await runners.close();
  }
  // In file order, so that of two files defining one DAG id, the first always keeps it.
  const owners = new Map<string, string>();
  const parsed: ParsedFile[] = [];
  for (const { file, source, outcome } of imported) {
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
    // A DAG exported under two names (`export default d; export { d }`) is one DAG.
    const dags = uniqueBy(JSON.parse(outcome.json) as SerializedDag[], (d) => JSON.stringify(d));
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
  return parsed;
}

function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
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
