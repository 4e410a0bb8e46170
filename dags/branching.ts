import { dag } from "gust";
import { z } from "zod";

/** Picks one path by the run's params; the other path is skipped and the join still runs. */
export default dag({
  id: "example_branching",
  description: "Follows the fast or the thorough path",
  tags: ["example"],
  params: z.object({ mode: z.enum(["fast", "thorough"]).default("fast") }),
}, (t) => {
  const choose = t.branch(
    "choose",
    null,
    (ctx) => ctx.params.mode === "fast" ? "fast" : "thorough",
  );
  const fast = t.task("fast", { dependsOn: [choose] }, () => "took the fast path");
  const thorough = t.task("thorough", { dependsOn: [choose] }, () => "took the thorough path");
  t.task(
    "join",
    { dependsOn: [fast, thorough], triggerRule: "none_failed_min_one_success" },
    (ctx) => {
      ctx.log.info("results", ctx.upstream);
    },
  );
});
