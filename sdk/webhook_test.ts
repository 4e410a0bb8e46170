import assert from "node:assert/strict";
import { type Dag, dag, DagDefinitionError } from "./mod.ts";
import { serializeDag } from "./serialize.ts";

const build = (t: { task: (id: string, fn: () => unknown) => unknown }) => {
  t.task("a", () => 1);
};

Deno.test("a DAG accepts webhooks only when it opts in", () => {
  assert.equal(serializeDag(dag({ id: "plain" }, build) as Dag).webhook, null);
  assert.equal(serializeDag(dag({ id: "off", webhook: false }, build) as Dag).webhook, null);
  assert.deepEqual(serializeDag(dag({ id: "on", webhook: true }, build) as Dag).webhook, {
    secretEnv: null,
  });
});

Deno.test("the webhook option names a variable, never holds the secret", () => {
  const named = dag({ id: "named", webhook: { secretEnv: "GITHUB_HOOK_SECRET" } }, build) as Dag;
  assert.deepEqual(serializeDag(named).webhook, { secretEnv: "GITHUB_HOOK_SECRET" });
  assert.deepEqual(serializeDag(dag({ id: "empty", webhook: {} }, build) as Dag).webhook, {
    secretEnv: null,
  });
  const invalid = [
    [{ secret: "hunter2" }, /webhook.*unknown option secret/],
    [{ secretEnv: "not a name" }, /webhook\.secretEnv: must be a variable name/],
    ["yes", /webhook/],
  ] as const;
  for (const [webhook, problem] of invalid) {
    assert.throws(
      () => dag({ id: "bad", webhook: webhook as never }, build),
      (e: unknown) => e instanceof DagDefinitionError && problem.test(e.message),
      String(webhook),
    );
  }
});
