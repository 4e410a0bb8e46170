// Tests for scheduler/trigger_rules.ts.
//
// Expected outcomes were checked against Airflow 3's
// airflow-core/src/airflow/ti_deps/deps/trigger_rule_dep.py (TriggerRuleDep, scheduler mode
// flag_upstream_failed=True, unmapped downstream task instance) and its unit tests in
// airflow-core/tests/unit/ti_deps/deps/test_trigger_rule_dep.py. Where the docs
// (core-concepts/dags.rst "Trigger Rules", howto/setup-and-teardown.rst) read differently from
// the code, the code wins and a comment says so.

import assert from "node:assert/strict";
import {
  countUpstream,
  evaluateTriggerRule,
  TRIGGER_RULES,
  type TriggerDecision,
  type TriggerRule,
  type UpstreamStates,
} from "./trigger_rules.ts";

type Item = { state: string | null; isSetup: boolean };
/** A setup-task upstream in the given state. */
const setup = (state: string | null): Item => ({ state, isSetup: true });
/** Plain strings (or null) are ordinary upstreams; use setup() for setup tasks. */
type Up = string | null | Item;

function decide(rule: TriggerRule, ...ups: Up[]): TriggerDecision {
  const items = ups.map((u): Item =>
    u !== null && typeof u === "object" ? u : { state: u, isSetup: false }
  );
  return evaluateTriggerRule(rule, countUpstream(items));
}

/** Assert each [upstreams, expected] pair for one rule. */
function check(rule: TriggerRule, cases: Array<[Up[], TriggerDecision]>): void {
  for (const [ups, expected] of cases) {
    const label = ups.map((u) =>
      u !== null && typeof u === "object" ? `setup:${u.state}` : String(u)
    );
    assert.equal(decide(rule, ...ups), expected, `${rule} [${label.join(", ")}]`);
  }
}

Deno.test("all_success", async (t) => {
  await t.step("waits while upstream is unfinished", () => {
    check("all_success", [
      [[null, null], "wait"],
      [["success", "running"], "wait"],
      [["success", "queued"], "wait"],
      [["success", "up_for_retry"], "wait"], // a retrying upstream is not finished
      [["success", "deferred"], "wait"],
    ]);
  });
  await t.step("runs when every upstream succeeded", () => {
    check("all_success", [
      [["success"], "run"],
      [["success", "success", "success"], "run"],
    ]);
  });
  await t.step("upstream_failed as soon as one upstream failed (no waiting)", () => {
    check("all_success", [
      [["failed", "running"], "upstream_failed"],
      [["upstream_failed", null], "upstream_failed"],
      [["success", "failed"], "upstream_failed"],
    ]);
  });
  await t.step("skipped as soon as one upstream skipped (no waiting)", () => {
    check("all_success", [
      [["skipped", "running"], "skipped"],
      [["success", "skipped"], "skipped"],
    ]);
  });
  await t.step("failure wins over skip", () => {
    check("all_success", [
      [["skipped", "failed"], "upstream_failed"],
      [["skipped", "upstream_failed", "running"], "upstream_failed"],
    ]);
  });
  await t.step("removed upstream is not a success: keeps waiting (unmapped downstream)", () => {
    // Airflow only discounts `removed` when the downstream TI itself is mapped (map_index > -1).
    check("all_success", [[["success", "removed"], "wait"]]);
  });
});

Deno.test("all_failed", async (t) => {
  await t.step("waits while upstream is unfinished", () => {
    check("all_failed", [
      [[null], "wait"],
      [["failed", "running"], "wait"],
      [["upstream_failed", "up_for_retry"], "wait"],
    ]);
  });
  await t.step("runs when every upstream failed or upstream_failed", () => {
    check("all_failed", [
      [["failed", "failed"], "run"],
      [["failed", "upstream_failed"], "run"],
      [["upstream_failed"], "run"],
    ]);
  });
  await t.step("skipped as soon as one upstream succeeded or skipped", () => {
    check("all_failed", [
      [["success", "running"], "skipped"],
      [["skipped", "running"], "skipped"],
      [["failed", "success"], "skipped"],
      [["failed", "skipped"], "skipped"],
    ]);
  });
  await t.step("never upstream_failed", () => {
    // Even with a mix of everything, the only negative outcome is skipped.
    check("all_failed", [[["success", "failed", "upstream_failed", "skipped"], "skipped"]]);
  });
  await t.step("removed upstream keeps waiting (unmapped downstream)", () => {
    check("all_failed", [[["failed", "removed"], "wait"]]);
  });
});

Deno.test("all_done", async (t) => {
  await t.step("waits while upstream is unfinished", () => {
    check("all_done", [
      [["success", "running"], "wait"],
      [["failed", null], "wait"],
      [["skipped", "up_for_reschedule"], "wait"],
    ]);
  });
  await t.step("runs once everything finished, whatever the states", () => {
    check("all_done", [
      [["success", "failed", "skipped", "upstream_failed", "removed"], "run"],
      [["failed", "failed"], "run"],
      [["removed"], "run"], // removed counts as done
    ]);
  });
  await t.step("never skipped or upstream_failed", () => {
    check("all_done", [
      [["skipped", "skipped"], "run"],
      [["upstream_failed", "upstream_failed"], "run"],
    ]);
  });
  await t.step("setup upstreams make no difference", () => {
    check("all_done", [[[setup("failed"), "success"], "run"]]);
  });
});

Deno.test("all_done_min_one_success", async (t) => {
  await t.step("waits while upstream is unfinished", () => {
    check("all_done_min_one_success", [
      [["success", "running"], "wait"],
      // no early upstream_failed: a later success could still satisfy it
      [["failed", "running"], "wait"],
      [["upstream_failed", null], "wait"],
    ]);
  });
  await t.step("runs when all finished, none skipped, at least one success", () => {
    check("all_done_min_one_success", [
      [["success", "failed"], "run"],
      [["success", "upstream_failed"], "run"],
      [["success", "success"], "run"],
      [["success", "removed"], "run"],
    ]);
  });
  await t.step("any skipped upstream skips it at once (docs vs code)", () => {
    // The docs say "All non-skipped upstream tasks are done ... and at least one upstream task
    // has succeeded", which reads as if skipped upstreams were ignored. The code (and Airflow's
    // test_all_done_min_one_success_with_success_and_skipped_upstream) marks the task SKIPPED as
    // soon as any upstream is skipped — even alongside a success, and before the rest finish.
    // See apache/airflow#59925. We follow the code.
    check("all_done_min_one_success", [
      [["success", "skipped"], "skipped"],
      [["skipped", "running"], "skipped"],
      [["skipped", "failed"], "skipped"],
    ]);
  });
  await t.step("upstream_failed when all finished without a success", () => {
    check("all_done_min_one_success", [
      [["failed", "failed"], "upstream_failed"],
      [["upstream_failed"], "upstream_failed"],
      [["failed", "removed"], "upstream_failed"],
      [["removed"], "upstream_failed"],
    ]);
  });
});

Deno.test("all_done_setup_success", async (t) => {
  await t.step("without setup upstreams it is exactly all_done", () => {
    check("all_done_setup_success", [
      [["success", "running"], "wait"],
      [["failed", "failed"], "run"],
      [["skipped", "skipped"], "run"],
      [["upstream_failed", "removed"], "run"],
    ]);
  });
  await t.step("waits for ALL upstreams, not just the setups", () => {
    check("all_done_setup_success", [
      [[setup("success"), "running"], "wait"],
      [[setup("running"), "success"], "wait"],
      // one setup succeeded, the other is still running
      [[setup("success"), setup("running"), "success"], "wait"],
      // setup failure does not decide early: the work task is still running
      [[setup("failed"), "running"], "wait"],
      [[setup("skipped"), "running"], "wait"],
    ]);
  });
  await t.step("runs when all finished and at least one setup succeeded", () => {
    check("all_done_setup_success", [
      [[setup("success"), "success"], "run"],
      [[setup("success"), "failed"], "run"], // teardown runs even though work failed
      [[setup("success"), "upstream_failed", "skipped"], "run"],
      [[setup("success"), setup("failed"), "success"], "run"], // one setup failed, one succeeded
      [[setup("success"), setup("skipped"), "failed"], "run"],
    ]);
  });
  await t.step("skipped when every setup upstream was skipped", () => {
    check("all_done_setup_success", [
      [[setup("skipped"), "success"], "skipped"],
      [[setup("skipped"), setup("skipped"), "failed"], "skipped"],
      [[setup("skipped"), "skipped"], "skipped"],
    ]);
  });
  await t.step("upstream_failed when no setup succeeded and not all skipped", () => {
    // The setup/teardown docs say "If all of a teardown's setups were skipped or failed, those
    // states will propagate". In the code any non-all-skipped mix without a successful setup
    // (failed, upstream_failed, removed, or failed+skipped) yields UPSTREAM_FAILED, never FAILED.
    check("all_done_setup_success", [
      [[setup("failed"), "success"], "upstream_failed"],
      [[setup("upstream_failed"), "success"], "upstream_failed"],
      [[setup("removed"), "success"], "upstream_failed"],
      [[setup("failed"), setup("skipped"), "success"], "upstream_failed"],
      [[setup("skipped"), setup("removed"), "success"], "upstream_failed"],
    ]);
  });
  await t.step("raw counts matching Airflow's test_teardown_tr_not_all_done cases", () => {
    const base = (
      o: Partial<Omit<UpstreamStates, "setup">> & { setup?: Partial<UpstreamStates["setup"]> },
    ): UpstreamStates => {
      const s = { total: 0, success: 0, skipped: 0, failed: 0, upstreamFailed: 0, removed: 0 };
      return {
        ...s,
        ...o,
        setup: { ...s, ...o.setup },
      } as UpstreamStates;
    };
    const r = (u: UpstreamStates) => evaluateTriggerRule("all_done_setup_success", u);
    // "no setups": 2 work, both success
    assert.equal(r(base({ total: 2, success: 2 })), "run");
    // "setup not done": 2 work success, 1 setup unfinished
    assert.equal(r(base({ total: 3, success: 2, setup: { total: 1 } })), "wait");
    // "setup failed": 2 work success, setup failed
    assert.equal(
      r(base({ total: 3, success: 2, failed: 1, setup: { total: 1, failed: 1 } })),
      "upstream_failed",
    );
    // "one setup failed one success"
    assert.equal(
      r(base({
        total: 4,
        success: 3,
        failed: 1,
        setup: { total: 2, success: 1, failed: 1 },
      })),
      "run",
    );
    // "two setups both skipped"
    assert.equal(
      r(base({ total: 4, success: 2, skipped: 2, setup: { total: 2, skipped: 2 } })),
      "skipped",
    );
    // "work failed": setup success, one work failed
    assert.equal(
      r(base({ total: 3, success: 2, failed: 1, setup: { total: 1, success: 1 } })),
      "run",
    );
  });
});

Deno.test("all_skipped", async (t) => {
  await t.step("waits while upstream is unfinished", () => {
    check("all_skipped", [
      [["skipped", "running"], "wait"],
      [[null], "wait"],
    ]);
  });
  await t.step("runs when every upstream was skipped", () => {
    check("all_skipped", [[["skipped", "skipped", "skipped"], "run"]]);
  });
  await t.step("skipped as soon as one upstream succeeded, failed or upstream_failed", () => {
    check("all_skipped", [
      [["success", "running"], "skipped"],
      [["failed", "running"], "skipped"],
      [["upstream_failed", "skipped"], "skipped"],
    ]);
  });
  await t.step("never upstream_failed", () => {
    check("all_skipped", [[["failed", "failed"], "skipped"]]);
  });
  await t.step("removed upstream keeps waiting (unmapped downstream)", () => {
    check("all_skipped", [[["skipped", "removed"], "wait"]]);
  });
});

Deno.test("one_success", async (t) => {
  await t.step("waits while no success and upstream unfinished", () => {
    check("one_success", [
      [["running", "running"], "wait"],
      [["failed", "running"], "wait"], // a failure alone does not decide early
      [["skipped", "running"], "wait"],
      [["upstream_failed", "queued"], "wait"],
    ]);
  });
  await t.step("runs as soon as one upstream succeeded, others still running", () => {
    check("one_success", [
      [["success", "running", "running"], "run"],
      [["success", null], "run"],
    ]);
  });
  await t.step("runs with one success among failures / skips", () => {
    check("one_success", [[["success", "failed", "upstream_failed", "skipped"], "run"]]);
  });
  await t.step("skipped only when all finished and ALL were skipped", () => {
    check("one_success", [
      [["skipped"], "skipped"],
      [["skipped", "skipped"], "skipped"],
    ]);
  });
  await t.step("upstream_failed when all finished with no success (not all skipped)", () => {
    check("one_success", [
      [["failed", "skipped"], "upstream_failed"],
      [["upstream_failed"], "upstream_failed"],
      [["failed", "failed"], "upstream_failed"],
      // no failure at all, yet upstream_failed: only the all-skipped case is "skipped"
      [["skipped", "removed"], "upstream_failed"],
      [["removed"], "upstream_failed"],
    ]);
  });
});

Deno.test("one_failed", async (t) => {
  await t.step("waits while no failure and upstream unfinished", () => {
    check("one_failed", [
      [["success", "running"], "wait"],
      [["skipped", null], "wait"],
      [["up_for_retry"], "wait"], // a retry is not a failure yet
    ]);
  });
  await t.step("runs as soon as one upstream failed, others still running", () => {
    check("one_failed", [
      [["failed", "running", "running"], "run"],
      [["success", "failed"], "run"],
    ]);
  });
  await t.step("upstream_failed counts as a failure", () => {
    // Docs: "At least one upstream task has failed"; the code also accepts upstream_failed.
    check("one_failed", [
      [["upstream_failed", "running"], "run"],
      [["skipped", "upstream_failed"], "run"],
    ]);
  });
  await t.step("skipped when all finished without a failure", () => {
    check("one_failed", [
      [["success", "success"], "skipped"],
      [["success", "skipped"], "skipped"],
      [["removed"], "skipped"],
    ]);
  });
  await t.step("never upstream_failed", () => {
    check("one_failed", [[["skipped", "skipped"], "skipped"]]);
  });
});

Deno.test("one_done", async (t) => {
  await t.step("waits while no success/failure and upstream unfinished", () => {
    check("one_done", [
      [["running"], "wait"],
      [["skipped", "running"], "wait"],
      // upstream_failed is finished, but does not count as "done" for this rule
      [["upstream_failed", "running"], "wait"],
    ]);
  });
  await t.step("runs as soon as one upstream succeeded or failed", () => {
    check("one_done", [
      [["success", "running"], "run"],
      [["failed", "running"], "run"],
      [["skipped", "failed", "upstream_failed"], "run"],
    ]);
  });
  await t.step("skipped when all finished with no success or failure", () => {
    // Airflow's test_one_done_tr_upstream_failed: all upstream_failed -> SKIPPED.
    check("one_done", [
      [["skipped", "skipped"], "skipped"],
      [["upstream_failed", "upstream_failed"], "skipped"],
      [["skipped", "upstream_failed", "removed"], "skipped"],
    ]);
  });
  await t.step("never upstream_failed", () => {
    check("one_done", [[["upstream_failed"], "skipped"]]);
  });
});

Deno.test("none_failed", async (t) => {
  await t.step("waits while upstream is unfinished", () => {
    check("none_failed", [
      [["success", "running"], "wait"],
      [["skipped", null], "wait"],
    ]);
  });
  await t.step("runs when every upstream succeeded or was skipped", () => {
    check("none_failed", [
      [["success", "skipped"], "run"],
      [["success", "success"], "run"],
      [["skipped", "skipped"], "run"], // all skipped still runs (unlike none_failed_min_one_success)
    ]);
  });
  await t.step("upstream_failed as soon as one upstream failed (no waiting)", () => {
    check("none_failed", [
      [["failed", "running"], "upstream_failed"],
      [["upstream_failed", "running"], "upstream_failed"],
      [["success", "skipped", "failed"], "upstream_failed"],
    ]);
  });
  await t.step("never skipped", () => {
    check("none_failed", [[["skipped"], "run"]]);
  });
  await t.step("removed upstream keeps waiting (unmapped downstream)", () => {
    check("none_failed", [[["success", "removed"], "wait"]]);
  });
});

Deno.test("none_failed_min_one_success", async (t) => {
  await t.step("waits while upstream is unfinished", () => {
    check("none_failed_min_one_success", [
      [["success", "running"], "wait"],
      [["skipped", "running"], "wait"], // not skipped early: a later success could still come
    ]);
  });
  await t.step("runs when none failed and at least one succeeded", () => {
    check("none_failed_min_one_success", [
      [["success", "skipped"], "run"],
      [["success", "success"], "run"],
    ]);
  });
  await t.step("skipped when every upstream was skipped", () => {
    check("none_failed_min_one_success", [
      [["skipped"], "skipped"],
      [["skipped", "skipped"], "skipped"],
    ]);
  });
  await t.step("upstream_failed as soon as one upstream failed (no waiting)", () => {
    check("none_failed_min_one_success", [
      [["failed", "running"], "upstream_failed"],
      [["upstream_failed", "skipped"], "upstream_failed"],
      [["success", "skipped", "failed"], "upstream_failed"],
    ]);
  });
  await t.step("skipped + removed without a success keeps waiting", () => {
    // The docs promise "at least one upstream task has succeeded"; the code only enforces that
    // via the all-skipped check, so this mix is neither run nor finalised (it waits).
    check("none_failed_min_one_success", [[["skipped", "removed"], "wait"]]);
  });
});

Deno.test("none_skipped", async (t) => {
  await t.step("waits while upstream is unfinished", () => {
    check("none_skipped", [
      [["success", "running"], "wait"],
      [[null], "wait"],
    ]);
  });
  await t.step("runs when all finished and none skipped", () => {
    check("none_skipped", [
      [["success", "failed", "upstream_failed"], "run"],
      [["failed", "failed"], "run"],
      [["success", "removed"], "run"], // docs list success/failed/upstream_failed; removed also ok
    ]);
  });
  await t.step("skipped as soon as one upstream skipped (no waiting)", () => {
    check("none_skipped", [
      [["skipped", "running"], "skipped"],
      [["success", "skipped"], "skipped"],
    ]);
  });
  await t.step("never upstream_failed", () => {
    check("none_skipped", [[["upstream_failed"], "run"]]);
  });
});

Deno.test("always", async (t) => {
  await t.step("runs regardless of upstream states", () => {
    check("always", [
      [["running"], "run"],
      [[null, null], "run"],
      [["failed"], "run"],
      [["upstream_failed"], "run"],
      [["skipped", "skipped"], "run"],
      [[setup("failed"), "removed"], "run"],
    ]);
  });
});

Deno.test("a task with no upstream runs under every rule", () => {
  for (const rule of TRIGGER_RULES) {
    assert.equal(decide(rule), "run", rule);
  }
});

Deno.test("countUpstream", async (t) => {
  await t.step("counts finished states; anything else is unfinished", () => {
    const u = countUpstream([
      { state: "success", isSetup: false },
      { state: "success", isSetup: true },
      { state: "skipped", isSetup: true },
      { state: "failed", isSetup: false },
      { state: "upstream_failed", isSetup: false },
      { state: "removed", isSetup: true },
      { state: null, isSetup: false },
      { state: "running", isSetup: true },
      { state: "up_for_retry", isSetup: false },
      { state: "scheduled", isSetup: false },
    ]);
    assert.deepEqual(u, {
      total: 10,
      success: 2,
      skipped: 1,
      failed: 1,
      upstreamFailed: 1,
      removed: 1,
      setup: { total: 4, success: 1, skipped: 1, failed: 0, upstreamFailed: 0, removed: 1 },
    });
  });
  await t.step("accepts any iterable and an empty one", () => {
    function* gen() {
      yield { state: "failed", isSetup: true };
    }
    assert.equal(countUpstream(gen()).setup.failed, 1);
    assert.deepEqual(countUpstream([]), {
      total: 0,
      success: 0,
      skipped: 0,
      failed: 0,
      upstreamFailed: 0,
      removed: 0,
      setup: { total: 0, success: 0, skipped: 0, failed: 0, upstreamFailed: 0, removed: 0 },
    });
  });
});

Deno.test("evaluateTriggerRule rejects bad input", async (t) => {
  const ok = countUpstream([{ state: "success", isSetup: false }]);
  await t.step("unknown rule", () => {
    assert.throws(() => evaluateTriggerRule("dummy" as TriggerRule, ok), TypeError);
  });
  await t.step("finished counts exceeding total", () => {
    assert.throws(
      () => evaluateTriggerRule("all_done", { ...ok, total: 1, failed: 1 }),
      RangeError,
    );
  });
  await t.step("negative or fractional counts", () => {
    assert.throws(() => evaluateTriggerRule("all_done", { ...ok, skipped: -1 }), RangeError);
    assert.throws(() => evaluateTriggerRule("all_done", { ...ok, total: 1.5 }), RangeError);
  });
  await t.step("setup counts that are not a subset of the overall counts", () => {
    assert.throws(
      () =>
        evaluateTriggerRule("all_done_setup_success", {
          ...ok,
          setup: { ...ok.setup, total: 1, skipped: 1 },
        }),
      RangeError,
    );
  });
});

// Cross-check against a literal, two-phase transcription of Airflow's algorithm for every mix of
// up to three upstreams (each unfinished or in one of the five finished states, setup or not):
// phase 1 = the `flag_upstream_failed` block choosing SKIPPED / UPSTREAM_FAILED, which wins;
// phase 2 = the failing-status block; no failing status => the dependency passes ("run").
function airflowReference(rule: TriggerRule, u: UpstreamStates): TriggerDecision {
  if (u.total === 0 || rule === "always") return "run";
  const { success, skipped, failed, upstreamFailed: uf, removed } = u;
  const upstream = u.total;
  const done = success + skipped + failed + uf + removed;
  const upstreamDone = done >= upstream;
  const upstreamSetup = u.setup.total;
  let newState: TriggerDecision | null = null;
  if (rule === "all_success") {
    if (uf || failed) newState = "upstream_failed";
    else if (skipped) newState = "skipped";
  } else if (rule === "all_failed") {
    if (success || skipped) newState = "skipped";
  } else if (rule === "one_success") {
    if (upstreamDone && done === skipped) newState = "skipped";
    else if (upstreamDone && success <= 0) newState = "upstream_failed";
  } else if (rule === "one_failed") {
    if (upstreamDone && !(failed || uf)) newState = "skipped";
  } else if (rule === "one_done") {
    if (upstreamDone && !(failed || success)) newState = "skipped";
  } else if (rule === "none_failed") {
    if (uf || failed) newState = "upstream_failed";
  } else if (rule === "none_failed_min_one_success") {
    if (uf || failed) newState = "upstream_failed";
    else if (skipped === upstream) newState = "skipped";
  } else if (rule === "none_skipped") {
    if (skipped) newState = "skipped";
  } else if (rule === "all_skipped") {
    if (success || failed || uf) newState = "skipped";
  } else if (rule === "all_done_min_one_success") {
    if (skipped > 0) newState = "skipped";
    else if (success + failed + uf + removed >= upstream - skipped && success === 0) {
      newState = "upstream_failed";
    }
  } else if (rule === "all_done_setup_success") {
    if (upstreamDone && upstreamSetup && u.setup.skipped >= upstreamSetup) newState = "skipped";
    else if (upstreamDone && upstreamSetup && u.setup.success === 0) newState = "upstream_failed";
  }
  if (newState !== null) return newState;

  let failing: boolean;
  switch (rule) {
    case "one_success":
      failing = success <= 0;
      break;
    case "one_failed":
      failing = !failed && !uf;
      break;
    case "one_done":
      failing = success + failed <= 0;
      break;
    case "all_success":
      failing = upstream - success > 0;
      break;
    case "all_failed":
      failing = upstream - failed - uf > 0;
      break;
    case "all_done":
      failing = !upstreamDone;
      break;
    case "none_failed":
    case "none_failed_min_one_success":
      failing = upstream - success - skipped > 0;
      break;
    case "none_skipped":
      failing = !upstreamDone || skipped > 0;
      break;
    case "all_skipped":
      failing = upstream - skipped > 0;
      break;
    case "all_done_setup_success":
      failing = !upstreamDone || (upstreamSetup > 0 && !u.setup.success);
      break;
    case "all_done_min_one_success":
      failing = skipped > 0 || success + failed + uf + removed < upstream - skipped ||
        success === 0;
      break;
    default:
      throw new Error(`unreachable: ${rule}`);
  }
  return failing ? "wait" : "run";
}

Deno.test("every rule matches a literal transcription of Airflow's two-phase check", () => {
  const states = [null, "success", "skipped", "failed", "upstream_failed", "removed"];
  const options: Item[] = [];
  for (const state of states) {
    for (const isSetup of [false, true]) options.push({ state, isSetup });
  }
  const combos: Item[][] = [[]];
  for (let size = 1; size <= 3; size++) {
    const prev = combos.filter((c) => c.length === size - 1);
    for (const c of prev) for (const o of options) combos.push([...c, o]);
  }
  let compared = 0;
  for (const rule of TRIGGER_RULES) {
    for (const items of combos) {
      const u = countUpstream(items);
      assert.equal(
        evaluateTriggerRule(rule, u),
        airflowReference(rule, u),
        `${rule} ${JSON.stringify(items)}`,
      );
      compared++;
    }
  }
  assert.ok(compared > 20_000);
});
