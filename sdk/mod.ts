/**
 * The DAG authoring API. DAG files import it as "gust":
 *
 * ```ts
 * import { dag } from "gust";
 *
 * export default dag({ id: "hello", schedule: "@daily", startDate: "2025-01-01" }, (t) => {
 *   const greet = t.task("greet", () => "world");
 *   t.task("print", { inputs: { name: greet } }, (ctx, { name }) => ctx.log.info(`hello ${name}`));
 * });
 * ```
 */
export { Dag, dag, DagDefinitionError, isDag } from "./dag.ts";
export type { DagBuilder, DagOptions } from "./dag.ts";
export type {
  DagCallbackContext,
  DataInterval,
  Duration,
  GroupRef,
  Logger,
  Permissions,
  RunContext,
  TaskCallbackContext,
  TaskContext,
  TaskError,
  TaskOptions,
  TaskRef,
  TriggerRule,
} from "./types.ts";
