import assert from "node:assert/strict";
import { explainWaiting, type WaitingFacts } from "./explain_waiting.ts";

const base: WaitingFacts = {
  state: null,
  tryNumber: 0,
  nextRetryAt: null,
  pool: "default_pool",
  poolSlots: 1,
  queue: "default",
  runState: "running",
  triggerRule: "all_success",
  upstream: [],
  poolSize: 128,
  poolUsed: 0,
  dagPaused: false,
  dagActiveTasks: 0,
  maxActiveTasks: 16,
  dagRunningRuns: 1,
  maxActiveRuns: 16,
  now: new Date("2025-01-01T00:00:00Z"),
};

Deno.test("running and finished instances are not waiting", () => {
  for (const state of ["running", "success", "failed", "skipped", "upstream_failed"] as const) {
    assert.deepEqual(explainWaiting({ ...base, state }), []);
  }
});

Deno.test("each reason a task instance waits for", () => {
  const one = (facts: Partial<WaitingFacts>) => explainWaiting({ ...base, ...facts }).join(" | ");
  assert.match(one({ runState: "queued", dagRunningRuns: 16 }), /maxActiveRuns is 16/);
  assert.match(one({ dagPaused: true }), /DAG is paused/);
  assert.match(
    one({
      upstream: [{ taskId: "a", mapIndex: -1, state: "running" }, {
        taskId: "m",
        mapIndex: 2,
        state: null,
      }],
    }),
    /upstream tasks \(trigger rule all_success\): a \(running\), m\[2\] \(not started\)/,
  );
  assert.match(one({ upstream: [{ taskId: "a", mapIndex: -1, state: "success" }] }), /next pass/);
  assert.match(
    one({ state: "scheduled", poolSize: 2, poolUsed: 2 }),
    /Pool "default_pool" is full: 2 of 2/,
  );
  assert.match(one({ state: "scheduled", poolSize: null }), /does not exist/);
  assert.equal(
    one({ state: "scheduled", poolSize: -1, poolUsed: 500 }),
    "Scheduled: the scheduler queues it on its next pass.",
  );
  assert.match(one({ state: "scheduled", dagActiveTasks: 16 }), /maxActiveTasks is 16/);
  assert.match(one({ state: "queued", queue: "gpu" }), /serves the "gpu" queue/);
  assert.match(
    one({ state: "up_for_retry", tryNumber: 1, nextRetryAt: new Date("2025-01-01T00:05:00Z") }),
    /Try 1 failed; the next try starts at 2025-01-01T00:05:00.000Z/,
  );
});
