/** Checks of a task's result that only the DAG can make, before the result is recorded. */
import type { SerializedDag, SerializedTask } from "../sdk/serialize.ts";
import { branchTargets } from "../scheduler/decide.ts";
import type { RunOutcome } from "./runner_pool.ts";

export function failure(message: string): RunOutcome {
  return { ok: false, reason: "error", error: { name: "Error", message } };
}

/** Branch results must name downstream tasks; mapping sources must return a short enough array. */
export function checkResult(dag: SerializedDag, task: SerializedTask, json: string): RunOutcome {
  const consumers = dag.tasks.filter((c) =>
    Object.values(c.expand ?? {}).some((s) => "task" in s && s.task === task.taskId)
  );
  if (task.kind !== "branch" && consumers.length === 0) return { ok: true, json }; // no parse
  const value = JSON.parse(json);
  if (task.kind === "branch") {
    const unknown = branchTargets(value).filter((id) =>
      !task.downstream.includes(id) &&
      !task.downstream.some((d) => d.startsWith(`${id}.`) && dag.groups.includes(id))
    );
    if (unknown.length) {
      return failure(
        `Branch "${task.taskId}" returned ${
          unknown.map((u) => `"${u}"`).join(", ")
        }, which is not directly downstream (downstream: ${task.downstream.join(", ") || "none"})`,
      );
    }
  }
  for (const consumer of consumers) {
    if (!Array.isArray(value)) {
      return failure(
        `Task "${consumer.taskId}" maps over the result of "${task.taskId}", which must be an array, not ${
          value === null ? "null" : typeof value
        }`,
      );
    }
    if (value.length > consumer.maxMapLength) {
      return failure(
        `Task "${consumer.taskId}" would expand to ${value.length} instances, over its maxMapLength of ${consumer.maxMapLength}`,
      );
    }
  }
  return { ok: true, json };
}
