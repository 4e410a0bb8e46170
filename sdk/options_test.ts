import assert from "node:assert/strict";
import {
  dagOptionsSchema,
  formatIssues,
  idSchema,
  parseDuration,
  taskOptionsSchema,
  taskSpecSchema,
} from "./options.ts";

Deno.test("parseDuration reads milliseconds and unit strings", () => {
  const cases: [number | string, number][] = [
    [0, 0],
    [1500, 1500],
    ["500ms", 500],
    ["30s", 30_000],
    ["1.5s", 1500],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["1h30m", 5_400_000],
    ["1h 30m", 5_400_000],
    ["2d", 172_800_000],
    ["1d2h3m4s5ms", 93_784_005],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, String(text));
});

Deno.test("parseDuration rejects what is not a duration", () => {
  const bad: (number | string)[] = [
    "",
    " ",
    "5 minutes",
    "1x",
    "s",
    "5",
    "-1s",
    "1.2.3s",
    "s5",
    "5s!",
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
  ];
  for (const value of bad) assert.equal(parseDuration(value), null, JSON.stringify(value));
});

Deno.test("task options turn durations into milliseconds", () => {
  const parsed = taskOptionsSchema.parse({ retryDelay: "30s", maxRetryDelay: "1h", timeout: 250 });
  assert.deepEqual(parsed, { retryDelay: 30_000, maxRetryDelay: 3_600_000, timeout: 250 });
});

Deno.test("task options reject bad values and unknown keys, naming each option", () => {
  const result = taskOptionsSchema.safeParse({
    retries: -1,
    triggerRule: "all_sucess",
    retires: 3,
    timeout: "5 minutes",
    poolSlots: 0,
  });
  assert.equal(result.success, false);
  const message = formatIssues(result.error!);
  assert.match(message, /retries: Too small/);
  assert.match(message, /triggerRule: .*"all_success"/);
  assert.match(message, /unknown option retires/);
  assert.match(message, /timeout: Invalid duration "5 minutes"/);
  assert.match(message, /poolSlots: /);
});

Deno.test("task permissions accept only known kinds and variable names", () => {
  assert.equal(
    taskOptionsSchema.safeParse({ permissions: { net: ["api.example.com"], env: ["TOKEN"] } })
      .success,
    true,
  );
  const result = taskOptionsSchema.safeParse({ permissions: { env: ["A-B"], ffi: true } });
  assert.equal(result.success, false);
  const message = formatIssues(result.error!);
  assert.match(message, /permissions\.env\.0: must be a variable name/);
  assert.match(message, /permissions: unknown option ffi/);
});

Deno.test("inputs and expand accept only tasks (and arrays for expand)", () => {
  const ref = { kind: "task", id: "a", mapped: false };
  assert.equal(taskSpecSchema.safeParse({ inputs: { x: ref }, expand: { y: ref } }).success, true);
  assert.equal(taskSpecSchema.safeParse({ expand: { y: [1, 2] } }).success, true);
  const result = taskSpecSchema.safeParse({
    inputs: { x: "a", g: { kind: "group", id: "g" } },
    expand: { y: "a" },
  });
  assert.equal(result.success, false);
  const message = formatIssues(result.error!);
  assert.match(message, /inputs\.x: must be a task/);
  assert.match(message, /inputs\.g: must be a task/);
  assert.match(message, /expand\.y: must be a task or an array/);
});

Deno.test("ids are 1 to 250 letters, digits, dashes, dots or underscores", () => {
  for (const id of ["a", "etl.daily-2_v3", "x".repeat(250)]) {
    assert.equal(idSchema.safeParse(id).success, true, id);
  }
  for (const id of ["", "a b", "a/b", "é", "x".repeat(251)]) {
    assert.equal(idSchema.safeParse(id).success, false, id);
  }
});

Deno.test("DAG options reject unknown keys and bad dates", () => {
  const result = dagOptionsSchema.safeParse({
    id: "d",
    retires: 1,
    startDate: "yesterday",
    maxActiveRuns: 0,
  });
  assert.equal(result.success, false);
  const message = formatIssues(result.error!);
  assert.match(message, /unknown option retires/);
  assert.match(message, /startDate: Invalid date "yesterday"/);
  assert.match(message, /maxActiveRuns: /);
  const ok = dagOptionsSchema.parse({ id: "d", startDate: "2025-01-01" });
  assert.deepEqual(ok.startDate, new Date("2025-01-01T00:00:00Z"));
});
