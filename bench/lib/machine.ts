/** The machine a benchmark ran on, and the versions that matter, for the results' header. */
import postgres from "postgres";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  deno: string;
  v8: string;
  postgres: string | null;
  node: string | null;
  redis: string | null;
  load: number[];
  /** The commit measured, with "+changes" when the work tree differed from it. */
  commit: string | null;
}

async function output(cmd: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

async function commit(): Promise<string | null> {
  const root = new URL("../../", import.meta.url).pathname;
  const head = await output("git", ["-C", root, "rev-parse", "--short", "HEAD"]);
  if (!head) return null;
  const dirty = await output("git", ["-C", root, "status", "--porcelain", "--untracked-files=no"]);
  return dirty ? `${head}+changes` : head;
}

export async function describeMachine(databaseUrl: string | null): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  let pgVersion: string | null = null;
  if (databaseUrl) {
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`SHOW server_version`;
      pgVersion = String(row.server_version);
    } catch {
      pgVersion = null;
    } finally {
      await sql.end();
    }
  }
  const redisInfo = await output("redis-cli", ["-h", "127.0.0.1", "INFO", "server"]);
  return {
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0) / 1024 / 1024 * 10) /
      10,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    postgres: pgVersion,
    node: (await output("node", ["--version"]))?.replace(/^v/, "") ?? null,
    redis: /redis_version:(\S+)/.exec(redisInfo ?? "")?.[1] ?? null,
    load: Deno.loadavg(),
    commit: await commit(),
  };
}
