/**
 * What changed in the DAG folder since the last look, and which DAG files that reaches. Importing
 * a file costs a runner process; looking at the folder costs a `stat` per file and a read of the
 * files whose size or modification time moved. So the DAG processor imports a file again only
 * when it, or a module it imports, changed; and everything when it cannot tell who is affected.
 */
import { dirname, join, normalize } from "node:path";

export interface ScannedFile {
  mtimeMs: number;
  size: number;
  /** SHA-256 of the content: a touched but unchanged file is not a change. */
  hash: string;
  /** For modules: the files of the folder it imports statically (paths relative to the folder). */
  imports: string[];
  /** A module that may read files or import modules this scan cannot see (see `readsFiles`). */
  opaque: boolean;
}

/** Every file of the folder by relative path, with forward slashes. */
export type FolderScan = Map<string, ScannedFile>;

const MODULE = /\.(ts|tsx|mts|cts|js|mjs|cjs|jsx)$/;
const DAG_FILE = /\.(ts|tsx|mts|js|mjs|jsx)$/;

/**
 * Whether a path (relative to the DAG folder) may define DAGs. Names starting with `_` or `.`,
 * test files and `node_modules` are skipped, so helpers can live beside DAGs without being
 * imported as DAG files.
 */
export function isDagFilePath(path: string): boolean {
  const parts = path.split("/");
  const name = parts.at(-1)!;
  return parts.every((p) => !p.startsWith("_") && !p.startsWith(".") && p !== "node_modules") &&
    DAG_FILE.test(name) && !/_test\.\w+$/.test(name);
}

/**
 * Never a dependency of a DAG: the workers' pinned copies of DAG versions (worker/dag_files.ts
 * writes them into the folder whenever a DAG file changed under a running version), editors'
 * swap, backup and lock files, and folders no DAG imports from by path.
 */
function ignored(name: string): boolean {
  return name.startsWith(".gust-") || name.endsWith("~") || /\.sw[a-p]$/.test(name) ||
    name.startsWith(".#") || /^#.*#$/.test(name) || name === "4913" || name === ".git" ||
    name === "node_modules";
}

/** Looks at every file of `folder`, reading only those that changed since `previous`. */
export async function scanFolder(folder: string, previous?: FolderScan): Promise<FolderScan> {
  const scan: FolderScan = new Map();
  const walk = async (prefix: string) => {
    for await (const entry of Deno.readDir(`${folder}/${prefix}`)) {
      if (ignored(entry.name)) continue;
      const path = `${prefix}${entry.name}`;
      if (entry.isDirectory) {
        await walk(`${path}/`);
        continue;
      }
      if (!entry.isFile) continue; // as the DAG file listing does: symlinks are not followed
      const info = await Deno.stat(`${folder}/${path}`).catch(() => null);
      if (!info?.isFile) continue;
      const mtimeMs = info.mtime?.getTime() ?? 0;
      const before = previous?.get(path);
      if (before && before.mtimeMs === mtimeMs && before.size === info.size) {
        scan.set(path, before);
        continue;
      }
      const bytes = await Deno.readFile(`${folder}/${path}`).catch(() => null);
      if (!bytes) continue; // removed meanwhile
      const text = MODULE.test(path) ? new TextDecoder().decode(bytes) : null;
      scan.set(path, {
        mtimeMs,
        size: info.size,
        hash: await sha256(bytes),
        imports: text === null ? [] : localImports(path, text),
        opaque: text !== null && readsFiles(text),
      });
    }
  };
  await walk("");
  return scan;
}

/** Paths added, removed or whose content changed. */
export function changedFiles(before: FolderScan, after: FolderScan): Set<string> {
  const changed = new Set<string>();
  for (const [path, file] of after) {
    if (before.get(path)?.hash !== file.hash) changed.add(path);
  }
  for (const path of before.keys()) if (!after.has(path)) changed.add(path);
  return changed;
}

/**
 * The DAG files to import again after `changed`: those that changed, those whose static imports
 * reach a changed file, and, when a file other than a DAG file changed, those that may read
 * files by other means. A changed file that is no DAG file and that no DAG file imports (data
 * read at import time, a module imported by a computed name) could matter to any of them: then
 * all of them. A DAG file that is gone needs no import (its DAGs are deactivated).
 */
export function affectedDagFiles(
  scan: FolderScan,
  dagFiles: string[],
  changed: Set<string>,
): string[] {
  const reach = new Map(dagFiles.map((file) => [file, closure(scan, file)]));
  const helpers = [...changed].filter((path) => !isDagFilePath(path));
  if (!helpers.every((path) => [...reach.values()].some((r) => r.has(path)))) return dagFiles;
  return dagFiles.filter((file) => {
    const r = [...reach.get(file)!];
    if (r.some((path) => changed.has(path))) return true;
    return helpers.length > 0 && r.some((path) => scan.get(path)?.opaque);
  });
}

/** The file and every file it imports, directly or not (including imports that do not exist). */
function closure(scan: FolderScan, file: string): Set<string> {
  const seen = new Set<string>([file]);
  const todo = [file];
  while (todo.length) {
    for (const next of scan.get(todo.pop()!)?.imports ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

// `import x from "s"`, `export { y } from "s"`, `import "s"` and `import("s")` with a literal.
// Comments and strings that merely look like imports add dependencies, which is harmless.
const SPECIFIER =
  /\b(?:import|export)\b[\s\w{},*$]*?\bfrom\s*["']([^"']+)["']|\bimport\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*[,)]/g;

/** The folder-relative paths of the relative and absolute specifiers in `text`. */
export function localImports(path: string, text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(SPECIFIER)) {
    const specifier = m[1] ?? m[2] ?? m[3];
    if (!specifier.startsWith("./") && !specifier.startsWith("../")) continue;
    const resolved = normalize(join(dirname(path), specifier.replace(/[?#].*$/, "")));
    if (!resolved.startsWith("../")) found.add(resolved);
  }
  return [...found];
}

/**
 * A module that can depend on files without a static import: it reads files, imports by a
 * computed name, or resolves paths from its own URL. Such a module is imported again whenever a
 * file other than a DAG file changes.
 */
function readsFiles(text: string): boolean {
  return /\bDeno\s*\.\s*(read|open|stat|lstat|realPath|watchFs)|\bimport\s*\(\s*[^"'\s)]|\bimport\.meta\b|\brequire\s*\(|\bfetch\s*\(/
    .test(text);
}

export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
