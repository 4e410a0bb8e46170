// graphile-worker, a Postgres job queue (LISTEN/NOTIFY wake-ups, SKIP LOCKED claims).
// Latency: its defaults (one job at a time, no local queue, completions not batched).
// Throughput: what its performance docs recommend: more concurrent jobs with a pool of
// concurrency + 2, a local queue that locks a batch of jobs per fetch, and batched completions
// (`completeJobBatchDelay: 0`, the cheapest setting that batches; the docs suggest trying up to
// 250 ms, which only delays the durable completion, not the work).
import { Logger, makeWorkerUtils, run } from "graphile-worker";

const quiet = new Logger(() => () => {});

function settings(mode) {
  return mode === "latency" ? { concurrency: 1, maxPoolSize: 10, preset: {} } : {
    concurrency: 24,
    maxPoolSize: 26,
    preset: { worker: { localQueue: { size: 100 }, completeJobBatchDelay: 0 } },
  };
}

export default {
  config: (o) => settings(o.shape === "chain" ? "latency" : "throughput"),
  async setup(o) {
    const utils = await makeWorkerUtils({ connectionString: o.url, logger: quiet });
    await utils.migrate();
    await utils.release();
  },
  async startWorker(o, mode, handler) {
    const s = settings(mode);
    const runner = await run({
      connectionString: o.url,
      concurrency: s.concurrency,
      maxPoolSize: s.maxPoolSize,
      noHandleSignals: true,
      pollInterval: 2000,
      logger: quiet,
      preset: s.preset,
      taskList: {
        job: async (payload, helpers) => {
          await handler(payload, (next) => helpers.addJob("job", next));
        },
      },
    });
    return { stop: () => runner.stop() };
  },
  async enqueue(o, jobs) {
    const utils = await makeWorkerUtils({ connectionString: o.url, logger: quiet });
    for (let i = 0; i < jobs.length; i += 5000) {
      await utils.addJobs(
        jobs.slice(i, i + 5000).map((payload) => ({ identifier: "job", payload })),
      );
    }
    await utils.release();
  },
  async teardown() {},
};
