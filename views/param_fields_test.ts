import assert from "node:assert/strict";
import { z } from "zod";
import { issuesByField, paramFields, parseTriggerForm } from "./param_fields.ts";

const schema = z.toJSONSchema(
  z.object({
    name: z.string().default("world").describe("Who to greet"),
    count: z.number().int().min(1).default(2),
    ratio: z.number().optional(),
    mode: z.enum(["fast", "slow"]),
    loud: z.boolean().default(false),
    tags: z.array(z.string()).default([]),
    day: z.iso.date().optional(),
    note: z.string().nullable().optional(),
  }),
  { io: "input" },
) as Record<string, unknown>;

Deno.test("a field per param, typed by its schema", () => {
  const fields = Object.fromEntries(paramFields(schema).map((f) => [f.name, f]));
  assert.equal(fields.name.kind, "string");
  assert.equal(fields.name.default, "world");
  assert.equal(fields.name.description, "Who to greet");
  assert.equal(fields.count.kind, "integer");
  assert.equal(fields.count.min, 1);
  assert.equal(fields.ratio.kind, "number");
  assert.deepEqual([fields.mode.kind, fields.mode.options, fields.mode.required], [
    "enum",
    ["fast", "slow"],
    true,
  ]);
  assert.equal(fields.loud.kind, "boolean");
  assert.equal(fields.tags.kind, "json");
  assert.equal(fields.day.inputType, "date");
  assert.equal(fields.note.kind, "string", "a nullable string is still a string field");
  assert.deepEqual(paramFields(null), []);
});

Deno.test("a submitted form becomes a typed conf; what cannot be read is reported", () => {
  const fields = paramFields(schema);
  const ok = parseTriggerForm(fields, {
    "param.name": "Ada",
    "param.count": "3",
    "param.ratio": "",
    "param.mode": "slow",
    "param.tags": '["a"]',
    conf: '{"extra": true, "count": 4}',
  });
  assert.deepEqual(ok.errors, {});
  assert.deepEqual(ok.conf, {
    name: "Ada",
    count: 4,
    mode: "slow",
    loud: false,
    tags: ["a"],
    extra: true,
  });
  const bad = parseTriggerForm(fields, {
    "param.count": "three",
    "param.mode": "sideways",
    "param.tags": "[",
    conf: "[]",
  });
  assert.deepEqual(Object.keys(bad.errors).sort(), ["conf", "count", "mode", "tags"]);
  assert.equal(bad.values.count, "three", "what was typed is kept to show again");
});

Deno.test("validation issues go to the field they name", () => {
  const fields = paramFields(schema);
  const sorted = issuesByField(fields, [
    "count: Too small",
    "tags.0: Expected string",
    "conf: bad",
  ]);
  assert.deepEqual(sorted.fields, { count: ["Too small"], tags: ["0: Expected string"] });
  assert.deepEqual(sorted.general, ["conf: bad"]);
});
