/**
 * Which file a runner imports for a DAG version. While the DAG file is unchanged it is the file
 * itself; once it changed, a copy of the version's stored source is written beside it (so its
 * relative imports still resolve) and imported instead, so a run finishes on the code it started
 * with. The copies are dotfiles, which the DAG processor skips. Modules that the DAG file
 * imports are not versioned: a run sees their current code.
 */

/** The file a runner imports for a DAG version, and the module version it imports it as. */
export interface DagModule {
  file: string;
  /**
   * The hash of the version's stored source, not of the DAG: the DAGs of one file then share
   * one module in a runner. Keyed by the DAG's own hash, a file of 25 DAGs was imported 25 times
   * by every runner (about 50 ms each), and runners were retired for the modules they held.
   */
  version: string;
}

export async function dagModule(
  dagsFolder: string,
  v: { fileloc: string; source: string },
): Promise<DagModule> {
  let version = sourceHashes.get(v.source);
  if (!version) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(v.source));
    version = Array.from(
      new Uint8Array(digest).slice(0, 12),
      (b) => b.toString(16).padStart(2, "0"),
    )
      .join("");
    if (sourceHashes.size > 10_000) sourceHashes.clear();
    sourceHashes.set(v.source, version);
  }
  const file = await dagFileFor(dagsFolder, {
    fileloc: v.fileloc,
    hash: version,
    source: v.source,
  });
  return { file, version };
}

/** By the source itself: version ids are only unique within one database. */
const sourceHashes = new Map<string, string>();

/**
 * `hash` names the source: a pinned copy is one file per distinct source. The answer is kept
 * while the file's inode, size and modification time stay the same: a fan-out asks for every one
 * of thousands of instances, and reading the file each time cost a tenth of a millisecond of the
 * worker's thread apiece, where a stat costs a few microseconds.
 */
async function dagFileFor(
  dagsFolder: string,
  version: { fileloc: string; hash: string; source: string },
): Promise<string> {
  const stamp = fileStamp(`${dagsFolder}/${version.fileloc}`);
  const key = `${dagsFolder}\0${version.fileloc}\0${version.hash}`;
  const known = resolved.get(key);
  if (stamp && known?.stamp === stamp) return known.file;
  const file = await resolveDagFile(dagsFolder, version);
  if (resolved.size > 1000) resolved.clear();
  if (stamp) resolved.set(key, { stamp, file });
  return file;
}

const resolved = new Map<string, { stamp: string; file: string }>();

/** Inode, size and modification time: one of them changes whenever the file is rewritten. */
function fileStamp(path: string): string | null {
  try {
    const info = Deno.statSync(path);
    return `${info.ino}:${info.size}:${info.mtime?.getTime() ?? "?"}`;
  } catch {
    return null;
  }
}

async function resolveDagFile(
  dagsFolder: string,
  version: { fileloc: string; hash: string; source: string },
): Promise<string> {
  const path = `${dagsFolder}/${version.fileloc}`;
  const current = await Deno.readTextFile(path).catch(() => null);
  if (current === version.source) return path;
  const slash = path.lastIndexOf("/");
  const pinned = `${path.slice(0, slash)}/.gust-${version.hash.slice(0, 12)}-${
    path.slice(slash + 1)
  }`;
  try {
    // Written under a temporary name and renamed, so a concurrent runner never reads half a file.
    const tmp = `${pinned}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(tmp, version.source);
    await Deno.rename(tmp, pinned);
  } catch (error) {
    // A read-only DAG folder (a mounted volume): run the current file rather than nothing.
    const readOnly = (error as { code?: string }).code === "EROFS";
    if (!(error instanceof Deno.errors.PermissionDenied || readOnly)) {
      throw error;
    }
    return path;
  }
  return pinned;
}
