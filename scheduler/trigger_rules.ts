/**
 * Trigger-rule evaluation with Apache Airflow's semantics.
 *
 * Given the states of a task instance's direct upstream task instances, decide whether it can
 * run now, must keep waiting, or must be finalised as `skipped` / `upstream_failed`.
 *
 * The behaviour mirrors Airflow 3's `TriggerRuleDep._evaluate_direct_relatives`
 * (airflow-core/src/airflow/ti_deps/deps/trigger_rule_dep.py) in the scheduler's mode
 * (`flag_upstream_failed=True`) for an unmapped downstream task instance (`map_index == -1`).
 * Not modelled: `depends_on_past` / `wait_for_past_depends_before_skipping`, the mapped-downstream
 * adjustments (`map_index > -1`, incl. the `removed` outcome), and the implicit all-success
 * constraint a task has on its *indirect* setup tasks (`_evaluate_setup_constraint`).
 *
 * Airflow's order of evaluation is kept: first the "should this TI be finalised?" check
 * (skipped / upstream_failed, which wins even when the run condition also holds), then the
 * "is the dependency met?" check (run) — anything else is "wait".
 *
 * Pure and dependency-free.
 */

export const TRIGGER_RULES = [
  "all_success",
  "all_failed",
  "all_done",
  "all_done_min_one_success",
  "all_done_setup_success",
  "all_skipped",
  "one_success",
  "one_failed",
  "one_done",
  "none_failed",
  "none_failed_min_one_success",
  "none_skipped",
  "always",
] as const;
export type TriggerRule = typeof TRIGGER_RULES[number];

/** Counts over the task's direct upstream task instances (for a mapped upstream, every expanded instance counts). */
export interface UpstreamStates {
  total: number; // number of direct upstream task instances
  success: number;
  skipped: number;
  failed: number;
  upstreamFailed: number;
  removed: number;
  /** Among the direct upstream instances, how many are setup tasks, and how many of those are in each final state. */
  setup: {
    total: number;
    success: number;
    skipped: number;
    failed: number;
    upstreamFailed: number;
    removed: number;
  };
}

export type TriggerDecision = "run" | "wait" | "skipped" | "upstream_failed";

const RULE_SET: ReadonlySet<string> = new Set(TRIGGER_RULES);

/** Airflow's `State.finished`: the states that count towards "done". Note `removed` is one. */
const FINISHED_STATES = ["success", "skipped", "failed", "upstream_failed", "removed"] as const;
type FinishedState = typeof FINISHED_STATES[number];
const FINISHED_SET: ReadonlySet<string> = new Set(FINISHED_STATES);

type Counts = {
  total: number;
  success: number;
  skipped: number;
  failed: number;
  upstreamFailed: number;
  removed: number;
};

function checkCounts(where: string, c: Counts): number {
  for (
    const key of ["total", "success", "skipped", "failed", "upstreamFailed", "removed"] as const
  ) {
    const v = c[key];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`${where}.${key} must be a non-negative integer, got ${String(v)}`);
    }
  }
  const done = c.success + c.skipped + c.failed + c.upstreamFailed + c.removed;
  if (done > c.total) {
    throw new RangeError(`${where}: finished counts (${done}) exceed total (${c.total})`);
  }
  return done;
}

function validate(u: UpstreamStates): number {
  if (u === null || typeof u !== "object" || u.setup === null || typeof u.setup !== "object") {
    throw new TypeError("upstream must be an UpstreamStates object with a setup object");
  }
  const done = checkCounts("upstream", u);
  checkCounts("upstream.setup", u.setup);
  for (
    const key of ["total", "success", "skipped", "failed", "upstreamFailed", "removed"] as const
  ) {
    if (u.setup[key] > u[key]) {
      throw new RangeError(
        `upstream.setup.${key} (${u.setup[key]}) exceeds upstream.${key} (${u[key]}); ` +
          "setup counts are a subset of the overall counts",
      );
    }
  }
  return done;
}

/**
 * Decide what to do with a task instance whose direct upstream instances are summarised by
 * `upstream`. Throws `TypeError` for an unknown rule and `RangeError` for inconsistent counts.
 */
export function evaluateTriggerRule(rule: TriggerRule, upstream: UpstreamStates): TriggerDecision {
  if (!RULE_SET.has(rule)) throw new TypeError(`unknown trigger rule: ${String(rule)}`);
  // "done" is every finished state, including `removed` (Airflow sums all of State.finished).
  const done = validate(upstream);
  // `removed` only matters through `done` (and by never counting as a success or failure).
  const { total, success, skipped, failed, upstreamFailed } = upstream;
  const setup = upstream.setup;

  // No upstream at all: runs under every rule (checked before the rule, as Airflow does).
  if (total === 0) return "run";

  const allDone = done >= total;
  const anyFailure = failed > 0 || upstreamFailed > 0;

  switch (rule) {
    // Runs when every upstream succeeded. Not "wait for all, then judge": any failed or
    // upstream_failed upstream makes it upstream_failed at once, otherwise any skipped upstream
    // makes it skipped at once (failure wins over skip); a `removed` upstream is never a success,
    // so for this (unmapped) task it keeps the rule waiting.
    case "all_success":
      if (anyFailure) return "upstream_failed";
      if (skipped > 0) return "skipped";
      return success >= total ? "run" : "wait";

    // Runs when every upstream is failed or upstream_failed. Any success *or skip* makes it
    // skipped at once (never upstream_failed); a `removed` upstream keeps it waiting.
    case "all_failed":
      if (success > 0 || skipped > 0) return "skipped";
      return failed + upstreamFailed >= total ? "run" : "wait";

    // Runs once every upstream is finished, whatever the states (removed counts as finished);
    // it is never skipped or upstream_failed.
    case "all_done":
      return allDone ? "run" : "wait";

    // Runs when all upstreams are finished, none skipped, and at least one succeeded. Unlike a
    // naive reading of the docs ("all non-skipped upstreams are done"), skipped upstreams are
    // NOT ignored: any skipped upstream makes it skipped at once; all finished with no success
    // (e.g. all failed / upstream_failed / removed) makes it upstream_failed.
    case "all_done_min_one_success":
      if (skipped > 0) return "skipped";
      if (allDone && success === 0) return "upstream_failed";
      return allDone ? "run" : "wait";

    // Like all_done, but if any direct upstream is a setup task, at least one of those setups
    // must have succeeded: all setups skipped -> skipped; otherwise no successful setup (any mix
    // of failed / upstream_failed / removed / skipped) -> upstream_failed. Both verdicts are only
    // reached once ALL upstreams are finished; with no setup upstream it is exactly all_done.
    case "all_done_setup_success":
      if (!allDone) return "wait";
      if (setup.total > 0 && setup.skipped >= setup.total) return "skipped";
      if (setup.total > 0 && setup.success === 0) return "upstream_failed";
      return "run";

    // Runs when every upstream was skipped. Any success, failed or upstream_failed upstream makes
    // it skipped at once (never upstream_failed); a `removed` upstream keeps it waiting.
    case "all_skipped":
      if (success > 0 || anyFailure) return "skipped";
      return skipped >= total ? "run" : "wait";

    // Runs as soon as one upstream succeeded, without waiting for the rest. Only once all are
    // finished without a success is it finalised: skipped if every upstream was skipped,
    // otherwise upstream_failed (even if there was no failure, e.g. skipped + removed).
    case "one_success":
      if (success > 0) return "run";
      if (allDone && done === skipped) return "skipped";
      if (allDone) return "upstream_failed";
      return "wait";

    // Runs as soon as one upstream failed — upstream_failed counts as a failure here — without
    // waiting for the rest. All finished with no failure -> skipped (never upstream_failed).
    case "one_failed":
      if (anyFailure) return "run";
      return allDone ? "skipped" : "wait";

    // Runs as soon as one upstream succeeded or failed. Unlike a naive reading of "done",
    // skipped, upstream_failed and removed upstreams do not count; all finished without any
    // success/failure -> skipped (never upstream_failed).
    case "one_done":
      if (success + failed > 0) return "run";
      return allDone ? "skipped" : "wait";

    // Runs when every upstream succeeded or was skipped (all skipped also runs). Any failed or
    // upstream_failed upstream makes it upstream_failed at once; never skipped; a `removed`
    // upstream keeps it waiting.
    case "none_failed":
      if (anyFailure) return "upstream_failed";
      return success + skipped >= total ? "run" : "wait";

    // Runs when every upstream succeeded or was skipped and at least one succeeded. Any failure
    // -> upstream_failed at once; every upstream skipped -> skipped. The "min one success" is
    // enforced only through that all-skipped check, so a skipped + removed mix without success
    // keeps it waiting rather than failing it.
    case "none_failed_min_one_success":
      if (anyFailure) return "upstream_failed";
      if (skipped >= total) return "skipped";
      return success + skipped >= total ? "run" : "wait";

    // Runs once every upstream finished and none was skipped (failed, upstream_failed and
    // removed are all fine). Any skipped upstream makes it skipped at once.
    case "none_skipped":
      if (skipped > 0) return "skipped";
      return allDone ? "run" : "wait";

    // Runs immediately, whatever the upstream states.
    case "always":
      return "run";
  }
  // Unreachable for valid rules (guarded above); keeps the compiler's exhaustiveness honest.
  const never: never = rule;
  throw new TypeError(`unknown trigger rule: ${String(never)}`);
}

function emptyCounts(): Counts {
  return { total: 0, success: 0, skipped: 0, failed: 0, upstreamFailed: 0, removed: 0 };
}

function bump(c: Counts, state: FinishedState): void {
  switch (state) {
    case "success":
      c.success++;
      break;
    case "skipped":
      c.skipped++;
      break;
    case "failed":
      c.failed++;
      break;
    case "upstream_failed":
      c.upstreamFailed++;
      break;
    case "removed":
      c.removed++;
      break;
  }
}

/**
 * Helper to build UpstreamStates from a list of { state, isSetup } (state may be
 * null/"scheduled"/"queued"/"running"/"up_for_retry"/... for unfinished). Only Airflow's finished
 * states — success, skipped, failed, upstream_failed, removed — are counted per state; any other
 * value counts towards `total` only (i.e. as unfinished).
 */
export function countUpstream(
  items: Iterable<{ state: string | null; isSetup: boolean }>,
): UpstreamStates {
  const all = emptyCounts();
  const setup = emptyCounts();
  for (const item of items) {
    all.total++;
    if (item.isSetup) setup.total++;
    const state = item.state;
    if (state !== null && FINISHED_SET.has(state)) {
      bump(all, state as FinishedState);
      if (item.isSetup) bump(setup, state as FinishedState);
    }
  }
  return { ...all, setup };
}
