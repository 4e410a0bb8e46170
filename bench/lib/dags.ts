/**
 * The DAG files the workloads run, generated with their size baked in (a DAG file is static
 * code, as a user's is). Each returns `{ fileName: source }`. Timed tasks return when their
 * function started and ended (epoch ms, sub-millisecond), measured inside the task as the
 * peers' jobs measure inside their handlers: what the orchestrator adds between two tasks
 * (recording, deciding, claiming, starting) falls in the gaps, whatever its own bookkeeping says.
 */

/** A task body that returns `{ start, end, value }` around `expression`. */
const timed = (expression: string) =>
  `() => { const start = performance.timeOrigin + performance.now(); const value = ${expression}; return { start, end: performance.timeOrigin + performance.now(), value }; }`;

/** Workload 1: `steps` tasks in a chain, each computing fibonacci(10), as Windmill's benchmark. */
export function chainDag(steps: number): Record<string, string> {
  return {
    "bench_chain.ts": `import { dag } from "gust";

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export default dag({ id: "bench_chain", description: "${steps} steps in a chain" }, (t) => {
  t.chain(...Array.from({ length: ${steps} }, (_, i) => t.task("step_" + i, ${timed("fib(10)")})));
});
`,
  };
}

/** Workload 2: one parent whose result maps into `tasks` no-op instances. */
export function fanoutDag(tasks: number): Record<string, string> {
  return {
    "bench_fanout.ts": `import { dag } from "gust";

export default dag({ id: "bench_fanout", maxActiveTasks: ${tasks} }, (t) => {
  const items = t.task("items", () => Array.from({ length: ${tasks} }, (_, i) => i));
  t.task("each", { expand: { i: items }, maxMapLength: ${tasks} }, ${timed("null")});
});
`,
  };
}

/** Workload 4: one no-op task, started by a trigger. */
export function triggerDag(): Record<string, string> {
  return {
    "bench_trigger.ts": `import { dag } from "gust";

export default dag({ id: "bench_trigger" }, (t) => {
  t.task("first", ${timed('"started"')});
});
`,
  };
}

/** Workload 4 through a webhook: the same one task, in a DAG that accepts signed webhooks. */
export function webhookDag(): Record<string, string> {
  return {
    "bench_webhook.ts": `import { dag } from "gust";

export default dag({ id: "bench_webhook", webhook: true }, (t) => {
  t.task("first", ${timed('"started"')});
});
`,
  };
}

/** Workload 5: 200 independent tasks, for the grid page. */
export function gridDag(tasks = 200): Record<string, string> {
  return {
    "bench_grid.ts": `import { dag } from "gust";

export default dag({ id: "bench_grid", maxActiveTasks: ${tasks} }, (t) => {
  for (let i = 0; i < ${tasks}; i++) t.task("task_" + String(i).padStart(3, "0"), () => i);
});
`,
  };
}

/**
 * Workload 3 (and the dashboard's list): `count` DAGs of one no-op task, `perFile` to a file,
 * each exported by name. `schedule` null makes manual-only DAGs.
 */
export function manyDags(
  count: number,
  o: { perFile?: number; schedule?: string | null; prefix?: string; paused?: boolean } = {},
): Record<string, string> {
  const perFile = o.perFile ?? 50;
  const prefix = o.prefix ?? "many";
  const schedule = o.schedule === undefined ? "* * * * *" : o.schedule;
  const files: Record<string, string> = {};
  for (let start = 0; start < count; start += perFile) {
    const lines = [`import { dag } from "gust";`, ""];
    for (let i = start; i < Math.min(count, start + perFile); i++) {
      const id = `${prefix}_${String(i).padStart(4, "0")}`;
      lines.push(
        `export const ${id} = dag({ id: "${id}", ${
          schedule ? `schedule: "${schedule}", startDate: "2024-01-01", ` : ""
        }catchup: false${o.paused ? ", pausedOnCreation: true" : ""}, tags: ["bench"] }, (t) => {`,
        `  t.task("work", () => ${i});`,
        `});`,
      );
    }
    files[`${prefix}_${String(start / perFile).padStart(3, "0")}.ts`] = lines.join("\n") + "\n";
  }
  return files;
}

/** For the schedulers workload: `count` DAGs of `width` independent tasks, created paused. */
export function wideDags(count: number, width: number, perFile = 25): Record<string, string> {
  const files: Record<string, string> = {};
  for (let start = 0; start < count; start += perFile) {
    const lines = [`import { dag } from "gust";`, ""];
    for (let i = start; i < Math.min(count, start + perFile); i++) {
      const id = `wide_${String(i).padStart(4, "0")}`;
      lines.push(
        `export const ${id} = dag({ id: "${id}", pausedOnCreation: true, maxActiveTasks: ${width} }, (t) => {`,
        `  for (let i = 0; i < ${width}; i++) t.task("t" + i, () => i);`,
        `});`,
      );
    }
    files[`wide_${String(start / perFile).padStart(3, "0")}.ts`] = lines.join("\n") + "\n";
  }
  return files;
}
