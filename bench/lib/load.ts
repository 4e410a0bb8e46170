/**
 * HTTP load: `wrk` (Debian's package) when installed, else a small Deno client with the same
 * shape (a fixed number of connections, each sending its next request when the last answered).
 */

export interface LoadResult {
  tool: "wrk" | "deno";
  requestsPerS: number;
  p50Ms: number;
  p95Ms: number;
  errors: number;
}

const WRK_SCRIPT = `
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("GUST %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95)))
  io.write(string.format("GUSTERR %d\\n", errors))
end
`;

let wrkPath: string | null | undefined;

async function findWrk(): Promise<string | null> {
  if (wrkPath !== undefined) return wrkPath;
  try {
    const out = await new Deno.Command("wrk", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    wrkPath = out.code === 0 || out.code === 1 ? "wrk" : null;
  } catch {
    wrkPath = null;
  }
  return wrkPath;
}

async function withWrk(
  url: string,
  seconds: number,
  connections: number,
  headers: Record<string, string>,
): Promise<LoadResult> {
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(script, WRK_SCRIPT);
  try {
    const out = await new Deno.Command("wrk", {
      args: [
        `-t2`,
        `-c${connections}`,
        `-d${seconds}s`,
        ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
        "-s",
        script,
        url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const m = /GUST (\d+) (\d+) (\d+) (\d+)/.exec(text);
    if (!m) throw new Error(`wrk printed no summary:\n${text}`);
    const errors = Number(/GUSTERR (\d+)/.exec(text)?.[1] ?? 0);
    return {
      tool: "wrk",
      requestsPerS: Number(m[1]) / (Number(m[2]) / 1e6),
      p50Ms: Number(m[3]) / 1000,
      p95Ms: Number(m[4]) / 1000,
      errors,
    };
  } finally {
    await Deno.remove(script).catch(() => {});
  }
}

async function withDeno(
  url: string,
  seconds: number,
  connections: number,
  headers: Record<string, string>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const res = await fetch(url, { headers });
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))];
  return {
    tool: "deno",
    requestsPerS: latencies.length / elapsed,
    p50Ms: at(0.5),
    p95Ms: at(0.95),
    errors,
  };
}

export async function load(
  url: string,
  o: {
    seconds: number;
    connections: number;
    tool?: "wrk" | "deno";
    headers?: Record<string, string>;
  },
): Promise<LoadResult> {
  const tool = o.tool ?? ((await findWrk()) ? "wrk" : "deno");
  return tool === "wrk"
    ? await withWrk(url, o.seconds, o.connections, o.headers ?? {})
    : await withDeno(url, o.seconds, o.connections, o.headers ?? {});
}
