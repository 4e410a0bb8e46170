/**
 * Requests sent to one runner together (real runner processes, no database): each is answered on
 * its own, a runner's end leaves the ones behind it unstarted, and the worker's queue batches a
 * task only once it has seen it run quickly.
 */
import assert from "node:assert/strict";
import { type BatchItem, NOT_STARTED, RunnerPool } from "../worker/runner_pool.ts";
import { RunnerQueue } from "../worker/runner_queue.ts";
import type { WireContext } from "../worker/protocol.ts";
import { dagFolder } from "./helpers.ts";

const DAGS = {
  "batch.ts": `
    import { dag } from "gust";
    export default dag({ id: "batch" }, (t) => {
      t.task("quick", (ctx) => ({ pid: Deno.pid, map: ctx.mapIndex }));
      t.task("slow", async (ctx) => {
        await new Promise((r) => setTimeout(r, 30));
        return { pid: Deno.pid, map: ctx.mapIndex };
      });
      t.task("hangs", () => { while (true) { /* spins */ } });
      t.task("millisecond", (ctx) => {
        const until = performance.now() + 0.9;
        while (performance.now() < until) { /* spins */ }
        return ctx.mapIndex;
      });
    });
  `,
};

function item(folder: string, taskId: string, mapIndex: number, timeoutMs?: number): BatchItem {
  const context: WireContext = {
    dagId: "batch",
    runId: "r1",
    taskId,
    mapIndex,
    tryNumber: 1,
    maxTries: 0,
    logicalDate: null,
    dataInterval: null,
    conf: {},
    upstream: {},
  };
  return {
    request: {
      op: "task",
      file: `${folder}/batch.ts`,
      version: "v1",
      context,
      input: {},
      willRetry: false,
      maxResultBytes: 1_000_000,
    },
    opts: { permissions: {}, timeoutMs, timeoutAfterStart: true },
  };
}

async function withPool(fn: (pool: RunnerPool, folder: string) => Promise<void>): Promise<void> {
  const folder = await dagFolder(DAGS);
  const pool = new RunnerPool({ dagsFolder: folder, defaultMemoryMb: 128 });
  try {
    await fn(pool, folder);
  } finally {
    await pool.close();
    await Deno.remove(folder, { recursive: true });
  }
}

Deno.test("a runner serves requests sent together in turn, each answered on its own", async () => {
  await withPool(async (pool, folder) => {
    const answers = pool.runBatch([0, 1, 2].map((i) => item(folder, "quick", i)));
    const outcomes = await Promise.all(answers.map((a) => a.promise));
    const results = outcomes.map((o) => {
      assert.ok(o !== NOT_STARTED && o.ok, JSON.stringify(o));
      return JSON.parse(o.json);
    });
    assert.deepEqual(results.map((r) => r.map), [0, 1, 2]);
    assert.equal(new Set(results.map((r) => r.pid)).size, 1, "one runner served all three");
    for (const a of answers) assert.ok(typeof a.ms() === "number" && a.ms()! < 1_000);
    assert.deepEqual(pool.size, { idle: 1, busy: 0 });
  });
});

Deno.test("requests behind one that timed out are not started; the one before it keeps its result", async () => {
  await withPool(async (pool, folder) => {
    const answers = pool.runBatch([
      item(folder, "quick", 0),
      item(folder, "hangs", -1, 300),
      item(folder, "quick", 1),
    ]);
    const [first, hung, behind] = await Promise.all(answers.map((a) => a.promise));
    assert.ok(first !== NOT_STARTED && first.ok, JSON.stringify(first));
    assert.ok(hung !== NOT_STARTED && !hung.ok && hung.reason === "timeout", JSON.stringify(hung));
    assert.equal(behind, NOT_STARTED);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(pool.size, { idle: 0, busy: 0 }, "the killed runner is not kept");
  });
});

Deno.test("an aborted request waiting its turn is answered at once; its runner is stopped when the turn comes", async () => {
  await withPool(async (pool, folder) => {
    const abort = new AbortController();
    const waiting = item(folder, "quick", 1);
    waiting.opts.signal = abort.signal;
    const answers = pool.runBatch([item(folder, "slow", 0), waiting, item(folder, "quick", 2)]);
    abort.abort();
    const stopped = await answers[1].promise;
    assert.ok(stopped !== NOT_STARTED && !stopped.ok && stopped.error.name === "Aborted");
    const [slow, , last] = await Promise.all(answers.map((a) => a.promise));
    // The slow one finished; then the runner was stopped, so the one after never started.
    assert.ok(slow !== NOT_STARTED && slow.ok, JSON.stringify(slow));
    assert.equal(last, NOT_STARTED);
  });
});

/** A worker's queue over `pool`, and the size of every turn it sends to a runner. */
function recordedQueue(pool: RunnerPool, folder: string, concurrency: number) {
  const sizes: number[] = [];
  const runBatch = pool.runBatch.bind(pool);
  pool.runBatch = (items) => {
    sizes.push(items.length);
    return runBatch(items);
  };
  const queue = new RunnerQueue(pool, concurrency);
  const runAll = (taskId: string, n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) => queue.run(item(folder, taskId, i), `v1:${taskId}`)),
    );
  return { sizes, runAll };
}

Deno.test("the worker's queue batches a task once it has run quickly, and sends slow ones alone", async () => {
  await withPool(async (pool, folder) => {
    const { sizes, runAll } = recordedQueue(pool, folder, 2);

    // Unknown at first: each of the first two goes alone, to its own runner.
    await runAll("quick", 2);
    assert.deepEqual(sizes, [1, 1]);
    sizes.length = 0;
    // Known to be quick, twenty asked for together take a turn or two, not twenty.
    const outcomes = await runAll("quick", 20);
    assert.ok(outcomes.every((o) => o.ok));
    assert.ok(sizes.length <= 2, `batches: ${sizes}`);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 20);
    sizes.length = 0;
    await runAll("slow", 6);
    assert.deepEqual(sizes, [1, 1, 1, 1, 1, 1]);
  });
});

Deno.test("a runner's turn holds about two milliseconds of a quick task; no-ops fill it", async () => {
  await withPool(async (pool, folder) => {
    const { sizes, runAll } = recordedQueue(pool, folder, 8);
    // Measured five times each, one at a time: a run the busy machine paused is outvoted.
    for (const taskId of ["quick", "millisecond"]) {
      for (let i = 0; i < 5; i++) await runAll(taskId, 1);
    }
    sizes.length = 0;
    await runAll("quick", 8);
    assert.deepEqual(sizes, [8], "eight no-ops in one turn, not one per free runner");
    sizes.length = 0;
    // About 0.9 ms each: two fit in a turn (one, or alone, if the machine makes it slower).
    const outcomes = await runAll("millisecond", 8);
    assert.deepEqual(outcomes.map((o) => o.ok && JSON.parse(o.json)), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.ok(Math.max(...sizes) <= 2, `batches: ${sizes}`);
  });
});

/**
 * The queue's choices for given durations. A scripted pool stands in for the runners here: a
 * real one cannot be made to report a paused run on demand.
 */
function scriptedQueue(concurrency: number) {
  const sizes: number[] = [];
  let nextMs: () => number | undefined = () => 0.01;
  let nextOk = true;
  const pool = {
    runBatch: (items: BatchItem[]) => {
      sizes.push(items.length);
      return items.map(() => {
        const ms = nextMs();
        const outcome = nextOk ? { ok: true as const, json: "null" } : {
          ok: false as const,
          reason: "error" as const,
          error: { name: "Error", message: "x" },
        };
        return { promise: Promise.resolve(outcome), ms: () => ms };
      });
    },
  } as unknown as RunnerPool;
  const queue = new RunnerQueue(pool, concurrency);
  const runAll = (n: number) =>
    Promise.all(Array.from({ length: n }, () => queue.run(item("/dags", "quick", 0), "v1:quick")));
  return {
    sizes,
    runAll,
    script: (ms: () => number | undefined, ok = true) => {
      nextMs = ms;
      nextOk = ok;
    },
  };
}

Deno.test("one paused run does not make a quick task slow; a failure does, until it runs quickly", async () => {
  const { sizes, runAll, script } = scriptedQueue(8);
  for (let i = 0; i < 4; i++) await runAll(1);
  script(() => 40); // the machine paused this run
  await runAll(1);
  script(() => 0.01);
  sizes.length = 0;
  await runAll(8);
  assert.deepEqual(sizes, [8], "still quick after one paused run of five");

  script(() => undefined, false);
  await runAll(1);
  sizes.length = 0;
  script(() => 0.01);
  await runAll(3);
  assert.deepEqual(sizes, [1, 1, 1], "after a failure each goes alone");
  sizes.length = 0;
  await runAll(8);
  assert.deepEqual(sizes, [8], "quick again once it ran quickly");
});
