/**
 * The DAG processor: imports the files of the DAG folder in a sandbox that may read only that
 * folder, with a time limit, and stores what they define. A file that throws, loops, tries the
 * network or defines an invalid DAG becomes an import error with its message; the other files
 * are unaffected. An unchanged DAG makes no new version. Between passes it imports again only
 * the files that changed or import a changed file (see dag_folder_scan.ts).
 */
import type { Db } from "../db/client.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { formatMs, RunnerPool, type RunOutcome } from "../worker/runner_pool.ts";
import {
  affectedDagFiles,
  changedFiles,
  type FolderScan,
  isDagFilePath,
  scanFolder,
  sha256,
} from "./dag_folder_scan.ts";
import { storeParsedFiles } from "./dag_store.ts";

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
  /** Aborting kills the imports in flight; the pass then throws and stores nothing. */
  signal?: AbortSignal;
}

/** The DAG files of a folder (see `isDagFilePath`), sorted. */
export async function listDagFiles(folder: string, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${folder}/${prefix}`)) {
    if (entry.name.startsWith("_") || entry.name.startsWith(".")) continue;
    if (entry.name === "node_modules") continue;
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) files.push(...await listDagFiles(folder, `${path}/`));
    else if (entry.isFile && isDagFilePath(path)) files.push(path);
  }
  return files.sort();
}

/**
 * How many files are imported at once, each in a runner process of its own. No more than the
 * cores: the time limit runs from the runner's start, so oversubscribed runners would eat into it.
 */
const PARSE_CONCURRENCY = Math.max(1, Math.min(4, navigator.hardwareConcurrency ?? 1));

export async function parseDagFolder(folder: string, options: ParseOptions): Promise<ParsedFile[]> {
  return await toParsedFiles(
    await importDagFiles(folder, await listDagFiles(folder), options),
    options,
  );
}

/** What importing one file gave, before DAG ids are checked across files. */
export interface ImportedFile {
  file: string;
  source: string;
  outcome: RunOutcome;
}

/** Imports `files` (paths relative to `folder`), each in a sandboxed runner. */
export async function importDagFiles(
  folder: string,
  files: string[],
  options: ParseOptions,
): Promise<ImportedFile[]> {
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
  const imported: ImportedFile[] = [];
  try {
    let next = 0;
    const work = async (lane: number) => {
      while (next < files.length && !options.signal?.aborted) {
        const i = next++;
        const file = files[i];
        const source = await Deno.readTextFile(`${folder}/${file}`);
        const parse = (fresh: boolean) =>
          runners.run({ op: "parse", file: `${folder}/${file}` }, {
            permissions: {},
            versionKey: `parse-${lane}`,
            timeoutMs: options.timeoutMs,
            fresh,
            signal: options.signal,
          });
        let outcome = await parse(false);
        if (!outcome.ok && outcome.reason !== "timeout") outcome = await parse(true);
        imported[i] = { file, source, outcome };
      }
    };
    const lanes = Math.min(PARSE_CONCURRENCY, files.length);
    await Promise.all(Array.from({ length: lanes }, (_, lane) => work(lane)));
  } finally {
    await runners.close();
  }
  options.signal?.throwIfAborted();
  return imported;
}

/** Checks DAG ids across files and hashes each DAG: the parse of a whole folder. */
export async function toParsedFiles(
  imported: ImportedFile[],
  options: ParseOptions,
): Promise<ParsedFile[]> {
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
        hash: await sha256(new TextEncoder().encode(`${source}\n${JSON.stringify(serialized)}`)),
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
  /** The files imported in this pass (all of them, unless the pass was incremental). */
  imported: string[];
}

/** Parses the whole folder and stores DAG versions and import errors. */
export async function processDagFolder(
  db: Db,
  folder: string,
  options: ParseOptions & { now: Date },
): Promise<ProcessResult> {
  return await new DagProcessor(db, folder, options).process(options.now, { full: true });
}

/**
 * The DAG processor of a running scheduler. It remembers what each file gave and what the
 * folder looked like, so a pass imports only the DAG files a change reaches, and a pass that
 * finds no change neither imports nor writes anything. A full pass imports every file again:
 * the backstop for what a scan cannot see (a DAG built from the time of day, a stored state
 * that someone else changed).
 */
export class DagProcessor {
  private scan: FolderScan | null = null;
  private readonly outcomes = new Map<string, ImportedFile>();
  private files: ParsedFile[] = [];

  constructor(
    private readonly db: Db,
    private readonly folder: string,
    private readonly options: ParseOptions,
  ) {}

  /**
   * `retryFailed` imports again the files whose last import failed, changed or not: what failed
   * may have been passing (a registry that could not be reached, a file the DAG reads at import
   * that was not there yet), and nothing in the folder's modules says when it is back.
   */
  async process(
    now: Date,
    o: { full?: boolean; retryFailed?: boolean } = {},
  ): Promise<ProcessResult> {
    const previous = this.scan;
    const scan = await scanFolder(this.folder, previous ?? undefined);
    const dagFiles = [...scan.keys()].filter(isDagFilePath).sort();
    let toImport = dagFiles;
    if (previous && !o.full) {
      const changed = changedFiles(previous, scan);
      const failedBefore = new Set(this.files.filter((f) => f.error).map((f) => f.file));
      const failed = o.retryFailed ? dagFiles.filter((f) => failedBefore.has(f)) : [];
      if (changed.size === 0 && failed.length === 0) {
        this.scan = scan; // the same content; only touched files' times moved
        return { files: this.files, newVersions: [], imported: [] };
      }
      const affected = changed.size ? affectedDagFiles(scan, dagFiles, changed) : [];
      toImport = [...new Set([...affected, ...failed])].sort();
    }
    for (const f of await importDagFiles(this.folder, toImport, this.options)) {
      this.outcomes.set(f.file, f);
    }
    const imported = dagFiles.map((file) => this.outcomes.get(file)).filter((f) => f !== undefined);
    const files = await toParsedFiles(imported, this.options);
    const newVersions = await storeParsedFiles(this.db, files, new Set(toImport), now);
    // Only once stored: after a pass that failed to write, the next one finds the same changes.
    this.scan = scan;
    this.files = files;
    for (const file of this.outcomes.keys()) {
      if (!dagFiles.includes(file)) this.outcomes.delete(file);
    }
    return { files, newVersions, imported: toImport };
  }
}
