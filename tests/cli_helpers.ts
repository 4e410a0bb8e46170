/** The gust CLI run as a user runs it: a process of its own, with this checkout's config. */

const ROOT = new URL("..", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `gust <args>` with `env` (and `stdin` written to it, when given) and waits for it. */
export async function runGust(
  env: Record<string, string>,
  args: string[],
  stdin?: string,
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${ROOT}deno.json`, `${ROOT}cli/mod.ts`, ...args],
    env: { ...env, NO_COLOR: "1" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/**
 * Runs `fn` with a GUST_HOME and a DAG folder of its own, and an environment that points the CLI
 * at them with no server answering (port 1), so the commands open the embedded database
 * themselves; both folders are removed after.
 */
export async function withEmbeddedHome(
  fn: (env: Record<string, string>, home: string) => Promise<void>,
): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "gust_home_" });
  const dags = await Deno.makeTempDir({ prefix: "gust_dags_" });
  try {
    await fn({ GUST_HOME: home, GUST_DAGS_FOLDER: dags, GUST_PORT: "1" }, home);
  } finally {
    await Deno.remove(home, { recursive: true });
    await Deno.remove(dags, { recursive: true });
  }
}
