/**
 * `dag()`: the function a DAG file calls. It runs the builder once, records tasks, groups and
 * edges, then checks the whole graph (unknown ids, cycles, options) and throws one error that
 * names the DAG and every problem, so a bad file becomes an import error and nothing else.
 */
import type { z } from "zod";
import { dagOptionsSchema, formatIssues, taskOptionsSchema, taskSpecSchema } from "./options.ts";
import type {
  DagCallback,
  Expand,
  GroupRef,
  Inputs,
  ResolveExpand,
  ResolveInputs,
  TaskContext,
  TaskOptions,
  TaskRef,
  TaskSpec,
  Upstream,
} from "./types.ts";
import { finalizeGraph, type GraphInput } from "./graph.ts";
import { validateSchedule } from "../scheduler/timetable.ts";

export type TaskKind = "task" | "branch" | "short_circuit";
export type TaskRole = "normal" | "setup" | "teardown";

/** What the builder records for one task; `serialize.ts` turns it into JSON. */
export interface TaskDef {
  id: string;
  kind: TaskKind;
  role: TaskRole;
  group: string | null;
  // deno-lint-ignore no-explicit-any
  fn: (ctx: TaskContext<any>, input: any) => unknown;
  options: TaskOptions<unknown>;
  /** Explicit upstreams plus those implied by inputs, expand and setups. */
  upstream: Set<string>;
  inputs: Record<string, string>;
  expand: Record<string, { task: string } | { values: unknown[] }> | null;
  setups: string[];
  ignoreDownstreamTriggerRules: boolean;
}

export interface DagOptions<S extends z.ZodType> {
  id: string;
  description?: string;
  /** Markdown shown on the DAG's page. */
  doc?: string;
  tags?: string[];
  /** Cron, a preset (`@daily`, `@once`, ...) or null/absent for manual and webhook runs only. */
  schedule?: string | null;
  startDate?: Date | string;
  endDate?: Date | string;
  /** IANA zone the schedule is read in. Default "UTC". */
  timezone?: string;
  /** Create the runs missed since the last one (or since the start date). Default false. */
  catchup?: boolean;
  maxActiveRuns?: number;
  maxActiveTasks?: number;
  defaults?: TaskOptions<z.output<S>>;
  /** Validates and defaults the run conf; tasks read the result as `ctx.params`. */
  params?: S;
  onSuccess?: DagCallback<z.output<S>>;
  onFailure?: DagCallback<z.output<S>>;
  /** New DAGs are scheduled at once unless this is true. */
  pausedOnCreation?: boolean;
  /**
   * Accept signed webhooks at `POST /webhooks/<id>`, each starting a run whose conf is the JSON
   * body. The secret comes from the server's configuration, never from the DAG file:
   * `GUST_WEBHOOK_SECRET_<ID>` by default, or the variable named by `secretEnv`.
   */
  webhook?: boolean | { secretEnv?: string };
}

const DAG_BRAND = Symbol.for("gust.dag");

export class DagDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DagDefinitionError";
  }
}

export class Dag<P = Record<string, unknown>> {
  readonly [DAG_BRAND] = true;
  constructor(
    readonly id: string,
    readonly options: Omit<DagOptions<z.ZodType>, "startDate" | "endDate"> & {
      startDate?: Date;
      endDate?: Date;
    },
    readonly tasks: Map<string, TaskDef>,
    readonly groups: Map<string, string[]>,
    readonly paramsSchema: z.ZodType<P> | null,
  ) {}
}

export function isDag(value: unknown): value is Dag {
  return typeof value === "object" && value !== null && DAG_BRAND in value;
}

type Fn<P, In, R> = (ctx: TaskContext<P>, input: In) => R | Promise<R>;
type Ref<R, E> = keyof E extends never ? TaskRef<Awaited<R>> : TaskRef<Awaited<R>[]>;

export interface DagBuilder<P> {
  task<R>(id: string, fn: (ctx: TaskContext<P>) => R | Promise<R>): TaskRef<Awaited<R>>;
  // deno-lint-ignore ban-types
  task<R, I extends Inputs = {}, E extends Expand = {}>(
    id: string,
    spec: TaskSpec<P, I, E>,
    fn: Fn<P, ResolveInputs<I> & ResolveExpand<E>, R>,
  ): Ref<R, E>;
  /** Returns the id (or ids) of the downstream tasks to follow; the other direct downstream tasks are skipped. */
  // deno-lint-ignore ban-types
  branch<I extends Inputs = {}>(
    id: string,
    spec: TaskSpec<P, I, Expand> | null,
    fn: Fn<P, ResolveInputs<I>, string | string[] | null | undefined>,
  ): TaskRef<string[]>;
  /** When the function returns a falsy value, downstream tasks are skipped. */
  // deno-lint-ignore ban-types
  shortCircuit<I extends Inputs = {}>(
    id: string,
    spec: (TaskSpec<P, I, Expand> & { ignoreDownstreamTriggerRules?: boolean }) | null,
    fn: Fn<P, ResolveInputs<I>, unknown>,
  ): TaskRef<boolean>;
  /** A task that prepares a resource; teardowns that name it run even when work fails. */
  // deno-lint-ignore ban-types
  setup<R, I extends Inputs = {}>(
    id: string,
    spec: TaskSpec<P, I, Expand> | null,
    fn: Fn<P, ResolveInputs<I>, R>,
  ): TaskRef<Awaited<R>>;
  /** Runs when its upstream is done and one of its setups succeeded (`all_done_setup_success`). */
  // deno-lint-ignore ban-types
  teardown<R, I extends Inputs = {}>(
    id: string,
    spec: TaskSpec<P, I, Expand> & { setups?: TaskRef<unknown>[] },
    fn: Fn<P, ResolveInputs<I>, R>,
  ): TaskRef<Awaited<R>>;
  /** Tasks built inside get ids prefixed with `<id>.` and the group's defaults. */
  group(
    id: string,
    build: (g: DagBuilder<P>) => void,
    options?: { defaults?: TaskOptions<P> },
  ): GroupRef;
  /**
   * `chain(a, b, [c, d], e)`: a >> b >> c and d >> e. Two adjacent lists of the same length are
   * linked pairwise, as in Airflow: `chain([a, b], [c, d])` is a >> c and b >> d.
   */
  chain(...items: (Upstream | Upstream[])[]): void;
}

/** Declares a DAG. Export the result from a file in the DAGs folder. */
// deno-lint-ignore no-explicit-any
export function dag<S extends z.ZodType = z.ZodType<Record<string, any>>>(
  options: DagOptions<S>,
  build: (b: DagBuilder<z.output<S>>) => void,
): Dag<z.output<S>> {
  const parsed = dagOptionsSchema.safeParse(options);
  const dagId = typeof options?.id === "string" ? options.id : "?";
  if (!parsed.success) {
    throw new DagDefinitionError(`DAG "${dagId}" is invalid: ${formatIssues(parsed.error)}`);
  }
  const graph: GraphInput = { tasks: new Map(), groups: new Map(), edges: [], problems: [] };
  const { schedule = null, timezone = "UTC", startDate } = parsed.data;
  const scheduleProblem = validateSchedule(schedule, timezone);
  if (scheduleProblem) graph.problems.push(scheduleProblem);
  else if (schedule !== null && !startDate) {
    graph.problems.push(`schedule "${schedule}" needs a startDate`);
  }
  build(makeBuilder(graph, null, parsed.data.defaults ?? {}));
  finalizeGraph(graph);
  if (graph.problems.length > 0) {
    throw new DagDefinitionError(`DAG "${dagId}" is invalid: ${graph.problems.join("; ")}`);
  }
  const { params, ...rest } = parsed.data;
  return new Dag(
    dagId,
    rest,
    graph.tasks,
    graph.groups,
    (params ?? null) as z.ZodType<z.output<S>> | null,
  );
}

/** `{ retries: undefined }` means "not set" in TypeScript; it must not erase a default. */
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as never;
}

/** A task's or group's own id; dots are left to separate a group from what it holds. */
const LOCAL_ID = /^[A-Za-z0-9_-]{1,250}$/;

function makeBuilder<P>(
  graph: GraphInput,
  group: string | null,
  defaults: TaskOptions<unknown>,
): DagBuilder<P> {
  const fullId = (id: string) => (group ? `${group}.${id}` : id);

  const add = (
    id: string,
    kind: TaskKind,
    role: TaskRole,
    spec: Record<string, unknown> | null,
    fn: unknown,
  ): TaskRef<never> => {
    const taskId = fullId(id);
    if (typeof id !== "string" || !LOCAL_ID.test(id)) {
      graph.problems.push(
        `task id ${JSON.stringify(id)} must be letters, digits, dashes or underscores`,
      );
    }
    if (typeof fn !== "function") graph.problems.push(`task "${taskId}" has no function`);
    const checked = taskSpecSchema.safeParse(spec ?? {});
    if (!checked.success) {
      graph.problems.push(`task "${taskId}": ${formatIssues(checked.error)}`);
    }
    if (graph.tasks.has(taskId) || graph.groups.has(taskId)) {
      graph.problems.push(`duplicate task id "${taskId}"`);
      return { kind: "task", id: taskId, mapped: false };
    }
    const s = (checked.success ? checked.data : {}) as TaskSpec<P, Inputs, Expand> & {
      setups?: TaskRef<unknown>[];
      ignoreDownstreamTriggerRules?: boolean;
    };
    const { dependsOn = [], inputs = {}, expand, setups = [], ...own } = s;
    // As in Airflow: a teardown that stopped waiting for its setups would not clean up.
    if (role === "teardown" && own.triggerRule && own.triggerRule !== "all_done_setup_success") {
      graph.problems.push(
        `teardown "${taskId}" cannot set triggerRule (it is always all_done_setup_success)`,
      );
    }
    const def: TaskDef = {
      id: taskId,
      kind,
      role,
      group,
      fn: fn as TaskDef["fn"],
      options: {
        ...defaults,
        ...(role === "teardown" ? { triggerRule: "all_done_setup_success" } : {}),
        ...withoutUndefined(own),
      } as TaskOptions<unknown>,
      upstream: new Set(),
      inputs: {},
      expand: null,
      setups: [],
      ignoreDownstreamTriggerRules: s.ignoreDownstreamTriggerRules ?? true,
    };
    graph.tasks.set(taskId, def);
    if (group) graph.groups.get(group)?.push(taskId);
    for (const up of [...dependsOn, ...setups]) graph.edges.push({ from: up, to: taskId });
    def.setups = setups.map((ref) => ref.id);
    for (const [name, ref] of Object.entries(inputs)) {
      def.inputs[name] = ref.id;
      graph.edges.push({ from: ref, to: taskId });
    }
    if (expand && Object.keys(expand).length > 0) {
      def.expand = {};
      for (const [name, source] of Object.entries(expand)) {
        if (Array.isArray(source)) {
          def.expand[name] = { values: [...source] };
        } else {
          def.expand[name] = { task: (source as TaskRef).id };
          graph.edges.push({ from: source as TaskRef, to: taskId });
        }
      }
    }
    return { kind: "task", id: taskId, mapped: def.expand !== null };
  };

  const task = (id: string, specOrFn: unknown, maybeFn?: unknown) =>
    typeof specOrFn === "function"
      ? add(id, "task", "normal", null, specOrFn)
      : add(id, "task", "normal", specOrFn as Record<string, unknown>, maybeFn);
  const builder: DagBuilder<P> = {
    task: task as DagBuilder<P>["task"],
    branch: (id, spec, fn) => add(id, "branch", "normal", spec as never, fn),
    shortCircuit: (id, spec, fn) => add(id, "short_circuit", "normal", spec as never, fn),
    setup: (id, spec, fn) => add(id, "task", "setup", spec as never, fn),
    teardown: (id, spec, fn) => add(id, "task", "teardown", spec as never, fn),
    group(id, build, options) {
      const groupId = fullId(id);
      if (typeof id !== "string" || !LOCAL_ID.test(id)) {
        graph.problems.push(
          `group id ${JSON.stringify(id)} must be letters, digits, dashes or underscores`,
        );
      }
      if (graph.groups.has(groupId) || graph.tasks.has(groupId)) {
        graph.problems.push(`duplicate group id "${groupId}"`);
      }
      graph.groups.set(groupId, []);
      // Checked like a task's options, which also turns durations into milliseconds.
      const own = taskOptionsSchema.safeParse(options?.defaults ?? {});
      if (!own.success) {
        graph.problems.push(`group "${groupId}" defaults: ${formatIssues(own.error)}`);
      }
      const child = makeBuilder<P>(graph, groupId, {
        ...defaults,
        ...(own.success ? withoutUndefined(own.data) : {}),
      } as TaskOptions<unknown>);
      build(child);
      // Nested groups' tasks belong to the parent group too.
      if (group) graph.groups.get(group)?.push(...(graph.groups.get(groupId) ?? []));
      return { kind: "group", id: groupId };
    },
    chain(...items) {
      for (let i = 1; i < items.length; i++) {
        const [froms, tos] = [items[i - 1], items[i]];
        if (Array.isArray(froms) && Array.isArray(tos)) {
          if (froms.length !== tos.length) {
            graph.problems.push(
              `chain: adjacent lists must have the same length, got ${froms.length} and ${tos.length}`,
            );
          }
          froms.forEach((from, j) => j < tos.length && graph.edges.push({ from, to: tos[j] }));
          continue;
        }
        for (const from of [froms].flat()) {
          for (const to of [tos].flat()) graph.edges.push({ from, to });
        }
      }
    },
  };
  return builder;
}
