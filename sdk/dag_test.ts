import assert from "node:assert/strict";
import { z } from "zod";
import { type Dag, dag, type DagBuilder, DagDefinitionError, type DagOptions } from "./mod.ts";
import { serializeDag, type SerializedDag, type SerializedTask } from "./serialize.ts";

const fn = () => null;

// deno-lint-ignore no-explicit-any
type Build = (t: DagBuilder<any>) => void;

/** Asserts that defining the DAG throws a DagDefinitionError naming it and matching `problem`. */
function assertInvalid(
  options: DagOptions<z.ZodType>,
  build: Build,
  problem: RegExp,
): string {
  let error: unknown;
  try {
    dag(options, build);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof DagDefinitionError, `expected a DagDefinitionError, got ${error}`);
  const id = typeof options.id === "string" ? options.id : "?";
  assert.ok(
    error.message.startsWith(`DAG "${id}" is invalid: `),
    `message should name the DAG: ${error.message}`,
  );
  assert.match(error.message, problem);
  return error.message;
}

function serialize(options: DagOptions<z.ZodType>, build: Build): SerializedDag {
  return serializeDag(dag(options, build) as Dag);
}

function byId(s: SerializedDag): Record<string, SerializedTask> {
  return Object.fromEntries(s.tasks.map((t) => [t.taskId, t]));
}

function upstreams(s: SerializedDag): Record<string, string[]> {
  return Object.fromEntries(s.tasks.map((t) => [t.taskId, t.upstream]));
}

Deno.test("a cycle is rejected and the message shows its path", () => {
  const message = assertInvalid({ id: "cyclic" }, (t) => {
    t.task("start", fn);
    t.task("a", { dependsOn: ["start", "c"] }, fn);
    t.task("b", { dependsOn: ["a"] }, fn);
    t.task("c", { dependsOn: ["b"] }, fn);
  }, /cycle: /);
  const path = /cycle: (.*)$/.exec(message)![1].split(" -> ");
  assert.equal(path[0], path.at(-1), `a cycle ends where it starts: ${path}`);
  assert.deepEqual([...path.slice(1)].sort(), ["a", "b", "c"]);
  // Each step of the path is a real edge: c feeds a, a feeds b, b feeds c.
  const next: Record<string, string> = { c: "a", a: "b", b: "c" };
  for (let i = 1; i < path.length; i++) assert.equal(next[path[i - 1]], path[i], message);
});

Deno.test("a cycle through a group is rejected", () => {
  assertInvalid({ id: "group_cycle" }, (t) => {
    const g = t.group("g", (g) => {
      g.task("x", fn);
    });
    const after = t.task("after", { dependsOn: [g] }, fn);
    t.chain(after, g);
  }, /cycle: .*g\.x.*after|cycle: .*after.*g\.x/);
});

Deno.test("a task that depends on itself is rejected", () => {
  assertInvalid({ id: "self" }, (t) => {
    t.task("a", { dependsOn: ["a"] }, fn);
  }, /task "a" depends on itself/);
});

Deno.test("a duplicate task id is rejected", () => {
  assertInvalid({ id: "dup" }, (t) => {
    t.task("a", fn);
    t.task("a", fn);
  }, /duplicate task id "a"/);
});

Deno.test("a task id that is already a group id is rejected", () => {
  assertInvalid({ id: "dup_group" }, (t) => {
    t.group("x", (g) => {
      g.task("a", fn);
    });
    t.task("x", fn);
  }, /duplicate task id "x"/);
  assertInvalid({ id: "dup_group2" }, (t) => {
    t.task("x", fn);
    t.group("x", (g) => {
      g.task("a", fn);
    });
  }, /duplicate group id "x"/);
});

Deno.test("a dependency on an unknown task id is rejected", () => {
  assertInvalid({ id: "unknown_up" }, (t) => {
    t.task("a", { dependsOn: ["nope"] }, fn);
  }, /task "a" depends on unknown task "nope"/);
  assertInvalid({ id: "unknown_down" }, (t) => {
    const a = t.task("a", fn);
    t.chain(a, "nope");
  }, /unknown task "nope"/);
});

Deno.test("an invalid cron expression is rejected", () => {
  const start = { startDate: "2025-01-01" };
  assertInvalid(
    { id: "cron1", schedule: "61 * * * *", ...start },
    () => {},
    /Invalid cron expression "61 \* \* \* \*"/,
  );
  assertInvalid(
    { id: "cron2", schedule: "0 0 * * * *", ...start },
    () => {},
    /Invalid cron expression .*expected 5 fields/,
  );
  assertInvalid(
    { id: "cron3", schedule: "every day", ...start },
    () => {},
    /Invalid cron expression "every day"/,
  );
  assertInvalid(
    { id: "cron4", schedule: "@fortnightly", ...start },
    () => {},
    /Unknown schedule preset "@fortnightly"/,
  );
  assertInvalid(
    { id: "cron5", schedule: "0 0 31 2 *", ...start },
    () => {},
    /Invalid cron expression "0 0 31 2 \*": it never fires/,
  );
});

Deno.test("a cron schedule without a startDate is rejected; no schedule needs none", () => {
  assertInvalid({ id: "nostart", schedule: "0 6 * * *" }, (t) => {
    t.task("a", fn);
  }, /schedule "0 6 \* \* \*" needs a startDate/);
  assertInvalid({ id: "nostart2", schedule: "@daily" }, () => {}, /needs a startDate/);
  const manual = serialize({ id: "manual" }, (t) => {
    t.task("a", fn);
  });
  assert.equal(manual.schedule, null);
  assert.equal(manual.startDate, null);
});

Deno.test("an unknown timezone is rejected", () => {
  assertInvalid(
    { id: "tz", schedule: "@daily", startDate: "2025-01-01", timezone: "Mars/Olympus_Mons" },
    () => {},
    /Unknown timezone "Mars\/Olympus_Mons"/,
  );
  const ok = serialize(
    { id: "tz_ok", schedule: "@daily", startDate: "2025-01-01", timezone: "Europe/Berlin" },
    (t) => {
      t.task("a", fn);
    },
  );
  assert.equal(ok.timezone, "Europe/Berlin");
  assert.equal(ok.startDate, "2025-01-01T00:00:00.000Z");
});

Deno.test("invalid task options are rejected, naming the task and the option", async (t) => {
  await t.step("retries below zero", () => {
    assertInvalid({ id: "opts" }, (t) => {
      t.task("a", { retries: -1 }, fn);
    }, /task "a": retries: Too small/);
  });
  await t.step("a misspelled trigger rule", () => {
    assertInvalid({ id: "opts" }, (t) => {
      t.task("a", { triggerRule: "all_sucess" as never }, fn);
    }, /task "a": triggerRule: Invalid option/);
  });
  await t.step("an unknown option key", () => {
    assertInvalid({ id: "opts" }, (t) => {
      t.task("a", { retires: 3 } as never, fn);
    }, /task "a": unknown option retires/);
  });
  await t.step("a bad duration", () => {
    assertInvalid({ id: "opts" }, (t) => {
      t.task("a", { retryDelay: "5 minutes" }, fn);
    }, /task "a": retryDelay: Invalid duration "5 minutes"/);
  });
  await t.step("an id string passed as an input", () => {
    assertInvalid({ id: "opts" }, (t) => {
      t.task("a", fn);
      t.task("b", { inputs: { x: "a" } } as never, fn);
    }, /task "b": inputs\.x: must be a task/);
  });
  await t.step("a missing function", () => {
    assertInvalid({ id: "opts" }, (t) => {
      t.task("a", {}, undefined as never);
    }, /task "a" has no function/);
  });
  await t.step("in a group, with the group's prefix", () => {
    assertInvalid({ id: "opts" }, (t) => {
      t.group("g", (g) => {
        g.task("a", { retries: 1.5 }, fn);
      });
    }, /task "g\.a": retries: /);
  });
});

Deno.test("invalid DAG options and defaults are rejected", () => {
  assertInvalid({ id: "dag_opts", retires: 1 } as never, () => {}, /unknown option retires/);
  assertInvalid(
    { id: "dag_opts", defaults: { retries: -1 } },
    () => {},
    /defaults\.retries: Too small/,
  );
  assertInvalid(
    { id: "dag_opts", defaults: { triggerRule: "all_sucess" as never } },
    () => {},
    /defaults\.triggerRule: /,
  );
  assertInvalid({ id: "dag_opts", maxActiveRuns: 0 }, () => {}, /maxActiveRuns: /);
  assertInvalid({ id: "dag_opts", startDate: "soon" }, () => {}, /startDate: Invalid date/);
});

Deno.test("invalid group defaults are rejected", () => {
  assertInvalid({ id: "group_opts" }, (t) => {
    t.group("g", (g) => {
      g.task("a", fn);
    }, { defaults: { retries: -1, retires: 2 } as never });
  }, /group "g" defaults: retries: Too small.*unknown option retires/);
});

Deno.test("invalid DAG, task and group ids are rejected", () => {
  assertInvalid({ id: "bad id!" }, () => {}, /id: must be 1 to 250 letters/);
  assertInvalid({ id: 5 } as never, () => {}, /id: Invalid input/);
  assertInvalid({ id: "ids" }, (t) => {
    t.task("a.b", fn);
  }, /task id "a\.b" must be letters, digits, dashes or underscores/);
  assertInvalid({ id: "ids" }, (t) => {
    t.task("", fn);
  }, /task id "" must be/);
  assertInvalid({ id: "ids" }, (t) => {
    t.group("my group", (g) => {
      g.task("a", fn);
    });
  }, /group id "my group" must be/);
});

Deno.test("every problem of a DAG is reported in one error", () => {
  const message = assertInvalid({ id: "many" }, (t) => {
    t.task("a", { retries: -1 }, fn);
    t.task("a", fn);
    t.task("b", { dependsOn: ["ghost"] }, fn);
  }, /retries/);
  assert.match(message, /duplicate task id "a"/);
  assert.match(message, /depends on unknown task "ghost"/);
});

Deno.test("an empty group and a teardown naming a non-setup task are rejected", () => {
  assertInvalid({ id: "empty" }, (t) => {
    const g = t.group("g", () => {});
    t.task("a", { dependsOn: [g] }, fn);
  }, /group "g" is empty/);
  assertInvalid({ id: "teardown" }, (t) => {
    const a = t.task("a", fn);
    t.teardown("b", { setups: [a] }, fn);
  }, /teardown "b" names "a", which is not a setup task/);
  assertInvalid({ id: "teardown_rule" }, (t) => {
    const s = t.setup("s", null, fn);
    t.teardown("b", { setups: [s], triggerRule: "all_success" }, fn);
  }, /teardown "b" cannot set triggerRule/);
});

Deno.test("a branch or short-circuit task cannot be mapped", () => {
  assertInvalid({ id: "mapped_branch" }, (t) => {
    t.branch("b", { expand: { x: [1, 2] } } as never, () => null);
  }, /task "b": a branch task cannot be mapped/);
});

Deno.test("groups prefix task ids; a group dependency means its roots and leaves", () => {
  const s = serialize({ id: "groups" }, (t) => {
    const start = t.task("start", fn);
    const g = t.group("g", (g) => {
      const a = g.task("a", fn);
      const b = g.task("b", fn);
      g.task("c", { dependsOn: [a, b] }, fn);
      g.task("d", fn);
      g.group("inner", (i) => {
        i.task("x", fn);
      });
    });
    t.task("end", { dependsOn: [g] }, fn);
    t.chain(start, g);
    t.task("by_name", { dependsOn: ["g.inner"] }, fn);
  });
  assert.deepEqual(upstreams(s), {
    start: [],
    // Roots of g (no upstream inside it): a, b, d and the inner group's x.
    "g.a": ["start"],
    "g.b": ["start"],
    "g.c": ["g.a", "g.b"],
    "g.d": ["start"],
    "g.inner.x": ["start"],
    // Leaves of g (no downstream inside it): c, d, x.
    end: ["g.c", "g.d", "g.inner.x"],
    by_name: ["g.inner.x"],
  });
  assert.deepEqual(s.groups, ["g", "g.inner"]);
  assert.equal(byId(s)["g.inner.x"].group, "g.inner");
  assert.equal(byId(s)["g.a"].group, "g");
  assert.equal(byId(s).start.group, null);
});

Deno.test("group defaults apply to the group's tasks, and task options win", () => {
  const s = serialize({ id: "defaults", defaults: { retries: 1, retryDelay: "1m" } }, (t) => {
    t.task("plain", fn);
    t.group("g", (g) => {
      g.task("a", fn);
      g.task("b", { retries: 5 }, fn);
    }, { defaults: { retries: 3, timeout: "2h" } });
  });
  const tasks = byId(s);
  assert.deepEqual(
    [tasks.plain.retries, tasks.plain.retryDelayMs, tasks.plain.timeoutMs],
    [1, 60_000, null],
  );
  assert.deepEqual(
    [tasks["g.a"].retries, tasks["g.a"].retryDelayMs, tasks["g.a"].timeoutMs],
    [3, 60_000, 7_200_000],
  );
  assert.equal(tasks["g.b"].retries, 5);
});

Deno.test("an option set to undefined keeps the default", () => {
  const s = serialize({ id: "undef", defaults: { retries: 3, retryDelay: "1m" } }, (t) => {
    t.task("a", { retries: undefined, retryDelay: undefined }, fn);
    t.group("g", (g) => {
      g.task("b", fn);
    }, { defaults: { retries: undefined } });
  });
  const tasks = byId(s);
  assert.deepEqual([tasks.a.retries, tasks.a.retryDelayMs], [3, 60_000]);
  assert.deepEqual([tasks["g.b"].retries, tasks["g.b"].retryDelayMs], [3, 60_000]);
});

Deno.test("chain links items in order, lists to all, adjacent lists pairwise", async (t) => {
  await t.step("single items and lists", () => {
    const s = serialize({ id: "chain" }, (t) => {
      const [a, b, c, d, e] = ["a", "b", "c", "d", "e"].map((id) => t.task(id, fn));
      t.chain(a, b, [c, d], e);
    });
    assert.deepEqual(upstreams(s), { a: [], b: ["a"], c: ["b"], d: ["b"], e: ["c", "d"] });
  });
  await t.step("two adjacent lists, as in Airflow", () => {
    const s = serialize({ id: "chain" }, (t) => {
      const [a, b, c, d, e, f] = ["a", "b", "c", "d", "e", "f"].map((id) => t.task(id, fn));
      t.chain(a, [b, c], [d, e], f);
    });
    assert.deepEqual(upstreams(s), {
      a: [],
      b: ["a"],
      c: ["a"],
      d: ["b"],
      e: ["c"],
      f: ["d", "e"],
    });
  });
  await t.step("adjacent lists of different lengths", () => {
    assertInvalid({ id: "chain" }, (t) => {
      const [a, b, c] = ["a", "b", "c"].map((id) => t.task(id, fn));
      t.chain([a, b], [c]);
    }, /chain: adjacent lists must have the same length, got 2 and 1/);
  });
});

Deno.test("inputs and expand imply upstream dependencies", () => {
  const s = serialize({ id: "implied" }, (t) => {
    const numbers = t.task("numbers", () => [1, 2, 3]);
    const factor = t.task("factor", () => 10);
    const other = t.task("other", fn);
    const scaled = t.task(
      "scaled",
      { expand: { n: numbers, tag: ["x", "y"] }, inputs: { factor }, dependsOn: [other] },
      (_ctx, { n, factor }) => n * factor,
    );
    t.task("total", { inputs: { scaled } }, (_ctx, { scaled }) => scaled.length);
  });
  const tasks = byId(s);
  assert.deepEqual(tasks.scaled.upstream, ["factor", "numbers", "other"]);
  assert.deepEqual(tasks.scaled.inputs, { factor: "factor" });
  assert.deepEqual(tasks.scaled.expand, { n: { task: "numbers" }, tag: { values: ["x", "y"] } });
  assert.deepEqual(tasks.total.upstream, ["scaled"]);
  assert.deepEqual(tasks.total.inputs, { scaled: "scaled" });
  assert.equal(tasks.total.expand, null);
  assert.deepEqual(tasks.numbers.downstream, ["scaled"]);
});

Deno.test("a teardown runs on all_done_setup_success and depends on its setups", () => {
  const s = serialize({ id: "setup_teardown", defaults: { triggerRule: "all_done" } }, (t) => {
    const create = t.setup("create", null, fn);
    const work = t.task("work", { dependsOn: [create] }, fn);
    t.teardown("delete", { setups: [create], dependsOn: [work] }, fn);
  });
  const tasks = byId(s);
  assert.equal(tasks.delete.triggerRule, "all_done_setup_success");
  assert.equal(tasks.delete.role, "teardown");
  assert.deepEqual(tasks.delete.setups, ["create"]);
  assert.deepEqual(tasks.delete.upstream, ["create", "work"]);
  assert.equal(tasks.create.role, "setup");
  assert.equal(tasks.work.triggerRule, "all_done");
});

Deno.test("priority weights add up every downstream task once (downstream rule)", () => {
  // a -> b -> d, a -> c -> d, d -> e: a diamond, so d and e count once for a.
  const s = serialize({ id: "weights" }, (t) => {
    const a = t.task("a", fn);
    const b = t.task("b", { dependsOn: [a] }, fn);
    const c = t.task("c", { dependsOn: [a], priorityWeight: 5 }, fn);
    const d = t.task("d", { dependsOn: [b, c], priorityWeight: 10 }, fn);
    t.task("e", { dependsOn: [d] }, fn);
    t.task("alone", fn);
  });
  const weights = Object.fromEntries(s.tasks.map((t) => [t.taskId, t.priorityWeight]));
  assert.deepEqual(weights, { a: 18, b: 12, c: 16, d: 11, e: 1, alone: 1 });
});

Deno.test("params become a JSON Schema with their defaults", () => {
  const s = serialize({
    id: "params",
    params: z.object({
      date: z.string(),
      limit: z.number().int().default(100),
      dryRun: z.boolean().default(false),
    }),
  }, (t) => {
    t.task("a", fn);
  });
  const schema = s.paramsSchema as {
    type: string;
    properties: Record<string, { type: string; default?: unknown }>;
    required: string[];
  };
  assert.equal(schema.type, "object");
  assert.equal(schema.properties.limit.default, 100);
  assert.equal(schema.properties.dryRun.default, false);
  assert.equal(schema.properties.date.type, "string");
  // Input side: a param with a default may be left out of the conf.
  assert.deepEqual(schema.required, ["date"]);
  assert.equal(serialize({ id: "no_params" }, () => {}).paramsSchema, null);
});

Deno.test("serialized tasks carry Airflow's defaults and durations in milliseconds", () => {
  const s = serialize({ id: "serial", tags: ["etl"] }, (t) => {
    t.task("plain", fn);
    t.task("tuned", {
      retries: 2,
      retryDelay: "30s",
      maxRetryDelay: "10m",
      timeout: 1500,
      retryExponentialBackoff: true,
      pool: "db",
      queue: "gpu",
      permissions: { net: ["api.example.com"] },
      onFailure: () => {},
    }, fn);
  });
  const { plain, tuned } = byId(s);
  assert.deepEqual(
    [plain.triggerRule, plain.retries, plain.retryDelayMs, plain.pool, plain.queue],
    ["all_success", 0, 300_000, "default_pool", "default"],
  );
  assert.deepEqual(
    [tuned.retries, tuned.retryDelayMs, tuned.maxRetryDelayMs, tuned.timeoutMs],
    [2, 30_000, 600_000, 1500],
  );
  assert.deepEqual(tuned.permissions, { net: ["api.example.com"] });
  assert.deepEqual(tuned.callbacks, { success: false, failure: true, retry: false });
  assert.deepEqual([s.tags, s.maxActiveRuns, s.catchup], [["etl"], 16, false]);
  // What is stored must survive a JSON round trip unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
});
