import { dag, type TaskRef, type TriggerRule } from "gust";

/**
 * Every trigger rule, side by side. Four source tasks end in the four states an upstream can
 * finish in, and each rule's task (named after its rule) waits on some of them:
 *
 *   succeeds          success
 *   fails             failed            (throws, no retries)
 *   skipped           skipped           (its short-circuit `gate` returns false)
 *   blocked           upstream_failed   (all_success after `fails`)
 *   prepare           success           (a setup task, for all_done_setup_success)
 *
 * | rule (task id)              | upstream                 | ends            | why                |
 * | --------------------------- | ------------------------ | --------------- | ------------------ |
 * | all_success                 | succeeds, skipped        | skipped         | a skipped upstream |
 * | all_failed                  | fails, blocked           | success         | counts as failed   |
 * | all_done                    | succeeds, fails, skipped | success         | all finished       |
 * | all_done_min_one_success    | fails, blocked           | upstream_failed | none succeeded     |
 * | all_done_setup_success      | prepare, fails           | success         | its setup ran ok   |
 * | all_skipped                 | skipped                  | success         | all skipped        |
 * | one_success                 | succeeds, fails          | success         | one succeeded      |
 * | one_failed                  | succeeds, skipped        | skipped         | nothing failed     |
 * | one_done                    | fails, skipped           | success         | one failed         |
 * | none_failed                 | succeeds, fails          | upstream_failed | one failed         |
 * | none_failed_min_one_success | succeeds, skipped        | success         | one ok, no failure |
 * | none_skipped                | succeeds, skipped        | skipped         | one skipped        |
 * | always                      | blocked                  | success         | runs regardless    |
 *
 * Propagation goes on below the rules: `after_skipped` (all_success after `all_success`) is
 * skipped and `after_upstream_failed` (all_success after `none_failed`) is upstream_failed.
 * `report` (all_done) collects what every rule task returned; as the run's only leaf it
 * decides the run's state, so the run succeeds although `fails` failed: Airflow judges a run by
 * its leaves.
 */
export default dag({
  id: "example_trigger_rules",
  description: "One task per trigger rule, fed by upstreams that succeed, fail and are skipped",
  tags: ["example"],
}, (t) => {
  const succeeds = t.task("succeeds", () => "ok");
  const fails = t.task("fails", { retries: 0 }, (): string => {
    throw new Error("this task fails on purpose");
  });
  const gate = t.shortCircuit("gate", { ignoreDownstreamTriggerRules: false }, () => false);
  const skipped = t.task("skipped", { dependsOn: [gate] }, () => "never runs");
  const blocked = t.task("blocked", { dependsOn: [fails] }, () => "never runs");
  const prepare = t.setup("prepare", null, () => "resource ready");

  const rules: [TriggerRule, TaskRef<unknown>[]][] = [
    ["all_success", [succeeds, skipped]],
    ["all_failed", [fails, blocked]],
    ["all_done", [succeeds, fails, skipped]],
    ["all_done_min_one_success", [fails, blocked]],
    ["all_done_setup_success", [prepare, fails]],
    ["all_skipped", [skipped]],
    ["one_success", [succeeds, fails]],
    ["one_failed", [succeeds, skipped]],
    ["one_done", [fails, skipped]],
    ["none_failed", [succeeds, fails]],
    ["none_failed_min_one_success", [succeeds, skipped]],
    ["none_skipped", [succeeds, skipped]],
    ["always", [blocked]],
  ];
  const ruleTasks = rules.map(([rule, upstream]) =>
    t.task(rule, { dependsOn: upstream, triggerRule: rule }, () => `${rule} ran`)
  );

  const afterSkipped = t.task("after_skipped", { dependsOn: ["all_success"] }, () => "never runs");
  const afterFailed = t.task(
    "after_upstream_failed",
    { dependsOn: ["none_failed"] },
    () => "never runs",
  );

  t.task(
    "report",
    { dependsOn: [...ruleTasks, afterSkipped, afterFailed], triggerRule: "all_done" },
    (ctx) => {
      const ran = Object.keys(ctx.upstream).sort();
      ctx.log.info(`rule tasks that ran: ${ran.join(", ")}`);
      return ran;
    },
  );
});
