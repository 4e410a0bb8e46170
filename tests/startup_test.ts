/**
 * `deno task start` as a user runs it: the web server answers as soon as the database is open,
 * while the first parse of the DAG folder is still under way, without reporting errors; and a
 * shutdown in the middle of that parse, or before the roles have started, ends it at once.
 */
import assert from "node:assert/strict";
import { localCredential } from "./auth_helpers.ts";
import { dagFolder } from "./helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;

// Its import waits until the test writes `_go` beside it (the sandbox may read the folder).
const GATED = `
import { dag } from "gust";
const go = new URL("./_go", import.meta.url);
while (!(await Deno.stat(go).then(() => true, () => false))) {
  await new Promise((r) => setTimeout(r, 50));
}
export default dag({ id: "gated" }, (t) => { t.task("work", () => 1); });
`;

function startGust(folder: string, home: string, port: number, stdout: "null" | "piped" = "null") {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-worker-options", `--config=${ROOT}deno.json`, `${ROOT}main.ts`],
    env: {
      GUST_DAGS_FOLDER: folder,
      GUST_HOME: home,
      GUST_PORT: String(port),
      GUST_DAG_IMPORT_TIMEOUT: "5m",
      NO_COLOR: "1",
    },
    stdout,
    stderr: "null",
  }).spawn();
  return child;
}

/** Kills what is left of the process and removes its folders. */
async function cleanUp(child: Deno.ChildProcess, folder: string, home: string) {
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
  await child.status;
  await Deno.remove(folder, { recursive: true });
  await Deno.remove(home, { recursive: true });
}

async function until<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await fn().catch(() => null);
    if (value !== null) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** A GET as the local CLI would send it, with the credential the server wrote into `home`. */
async function get(url: string, home: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { headers: await localCredential(home) });
  return { status: response.status, text: await response.text() };
}

/** Runner processes importing files of `folder` (the DAG processor's sandbox). */
function runnersOf(folder: string): string[] {
  const ps = new Deno.Command("ps", { args: ["-eo", "args"], stdout: "piped" }).outputSync();
  return new TextDecoder().decode(ps.stdout).split("\n")
    .filter((line) => line.includes("runner_main.ts") && line.includes(`--allow-read=${folder}`));
}

/** A DAG folder holding the gated file, an empty Gust home and a port, for one start. */
async function gatedSetup(): Promise<{ folder: string; home: string; port: number }> {
  const folder = await dagFolder({ "gated.ts": GATED });
  const home = await Deno.makeTempDir({ prefix: "gust_home_" });
  return { folder, home, port: 20000 + Math.floor(Math.random() * 20000) };
}

Deno.test({
  name: "the server answers /health while its first DAG parse is still running",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const { folder, home, port } = await gatedSetup();
    const base = `http://127.0.0.1:${port}`;
    const child = startGust(folder, home, port);
    try {
      await t.step("/health is healthy before any DAG is stored", async () => {
        const health = await until("/health", async () => {
          const r = await get(`${base}/health`, home);
          return r.status === 200 ? r : null;
        });
        const body = JSON.parse(health.text);
        assert.deepEqual([body.status, body.database.status], ["healthy", "healthy"]);
        assert.equal((await get(`${base}/api/v2/dags/gated`, home)).status, 404);
      });

      await t.step("while the parse runs, the pages and the API report no error", async () => {
        await until("the first parse", () => Promise.resolve(runnersOf(folder).length || null));
        const health = JSON.parse((await get(`${base}/health`, home)).text);
        assert.equal(health.status, "healthy");
        const page = await get(`${base}/`, home);
        assert.equal(page.status, 200);
        assert.doesNotMatch(page.text, /id="import-errors"|role="alert"/);
        const errors = JSON.parse((await get(`${base}/api/v2/importErrors`, home)).text);
        assert.equal(errors.total_entries, 0);
        assert.equal((await get(`${base}/api/v2/dags/gated`, home)).status, 404);
      });

      await t.step("the DAG appears once its import ends", async () => {
        await Deno.writeTextFile(`${folder}/_go`, "");
        await until("the DAG", async () => {
          const r = await get(`${base}/api/v2/dags/gated`, home);
          return r.status === 200 ? r : null;
        });
      });
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(folder, { recursive: true });
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name: "a shutdown during the first DAG parse stops it and exits",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { folder, home, port } = await gatedSetup();
    const child = startGust(folder, home, port);
    try {
      await until("the first parse", () => Promise.resolve(runnersOf(folder).length || null));
      child.kill("SIGTERM");
      // The import would wait five minutes (its time limit); the shutdown does not.
      const status = await Promise.race([
        child.status,
        new Promise<null>((r) => setTimeout(() => r(null), 30_000)),
      ]);
      assert.equal(status?.code, 0);
      // Killed on the way out; the kernel may take a moment to end a process on a busy machine.
      await until(
        "the import's runner to end",
        () => Promise.resolve(runnersOf(folder).length === 0 || null),
        5000,
      );
    } finally {
      await cleanUp(child, folder, home);
    }
  },
});

Deno.test({
  name: "a SIGTERM as soon as the server listens, before the other roles start, stops cleanly",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { folder, home, port } = await gatedSetup();
    const child = startGust(folder, home, port, "piped");
    let output = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const read = async () => {
      const chunk = await reader.read();
      if (chunk.done) return false;
      output += chunk.value;
      return true;
    };
    try {
      // The scheduler and the worker start after this line; a signal meanwhile once killed the
      // process outright (exit 143) instead of shutting it down.
      while (!output.includes("Gust is running") && await read());
      child.kill("SIGTERM");
      while (await read());
      const status = await child.status;
      assert.equal(status.code, 0, output);
      assert.match(output, /Shutting down[\s\S]*Stopped/);
    } finally {
      await cleanUp(child, folder, home);
    }
  },
});
