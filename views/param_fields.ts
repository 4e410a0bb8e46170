/**
 * The trigger form's fields, read from a DAG's params JSON Schema (what zod's `toJSONSchema`
 * writes), and the reverse: a submitted form turned back into a conf object. Validation itself
 * stays with `validateConf`, the one the API and the CLI use; this only converts types and
 * reports what could not be converted (a number field holding "abc", a JSON field that does not
 * parse).
 */

export type FieldKind = "enum" | "boolean" | "integer" | "number" | "string" | "json";

export interface ParamField {
  name: string;
  kind: FieldKind;
  required: boolean;
  title: string | null;
  description: string | null;
  default: unknown;
  options: unknown[];
  min: number | null;
  max: number | null;
  /** For strings: an HTML input type. */
  inputType: StringInput;
}

type Schema = Record<string, unknown>;

export type StringInput = "text" | "date" | "email" | "url" | "time";

const FORMAT_INPUT: Record<string, StringInput> = {
  date: "date",
  email: "email",
  uri: "url",
  url: "url",
  time: "time",
};

/** The JSON Schema of a param with `null` allowed taken out (`anyOf: [X, {type: null}]`). */
function unwrapNullable(schema: Schema): Schema {
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((t) => t !== "null");
    if (types.length === 1) return { ...schema, type: types[0] };
  }
  const anyOf = schema.anyOf as Schema[] | undefined;
  if (Array.isArray(anyOf)) {
    const rest = anyOf.filter((s) => s.type !== "null");
    if (rest.length === 1) return { ...rest[0], ...withoutKey(schema, "anyOf") };
  }
  return schema;
}

function withoutKey(o: Schema, key: string): Schema {
  const { [key]: _, ...rest } = o;
  return rest;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && Math.abs(value) < 1e15
    ? value
    : null;
}

export function paramFields(schema: Record<string, unknown> | null): ParamField[] {
  if (!schema || typeof schema.properties !== "object" || schema.properties === null) return [];
  const required = new Set(Array.isArray(schema.required) ? schema.required as string[] : []);
  return Object.entries(schema.properties as Record<string, Schema>).map(([name, raw]) => {
    const s = unwrapNullable(raw ?? {});
    let kind: FieldKind = "json";
    if (Array.isArray(s.enum) && s.enum.every((v) => typeof v !== "object")) kind = "enum";
    else if (s.const !== undefined && typeof s.const !== "object") kind = "enum";
    else if (s.type === "boolean") kind = "boolean";
    else if (s.type === "integer") kind = "integer";
    else if (s.type === "number") kind = "number";
    else if (s.type === "string") kind = "string";
    return {
      name,
      kind,
      required: required.has(name),
      title: typeof s.title === "string" ? s.title : null,
      description: typeof s.description === "string" ? s.description : null,
      default: s.default,
      options: kind === "enum" ? (Array.isArray(s.enum) ? s.enum : [s.const]) : [],
      min: numberOrNull(s.minimum ?? s.exclusiveMinimum),
      max: numberOrNull(s.maximum ?? s.exclusiveMaximum),
      inputType: kind === "string" && typeof s.format === "string"
        ? FORMAT_INPUT[s.format] ?? "text"
        : "text",
    };
  });
}

/** The text a field shows for a value (its default, or what was submitted). */
export function fieldText(field: ParamField, value: unknown): string {
  if (value === undefined || value === null) return "";
  if (field.kind === "json") return JSON.stringify(value, null, 2);
  return String(value);
}

export const FIELD_PREFIX = "param.";

export interface ParsedForm {
  conf: Record<string, unknown>;
  /** Problems by field name; "conf" for the JSON box. */
  errors: Record<string, string[]>;
  /** The submitted texts, to show the form again as it was sent. */
  values: Record<string, string>;
}

/** A submitted trigger form to a conf: typed field values, then the JSON box's keys on top. */
export function parseTriggerForm(
  fields: ParamField[],
  form: Record<string, string | undefined>,
): ParsedForm {
  const conf: Record<string, unknown> = {};
  const errors: Record<string, string[]> = {};
  const values: Record<string, string> = {};
  for (const field of fields) {
    const text = form[FIELD_PREFIX + field.name];
    if (field.kind === "boolean") {
      conf[field.name] = text === "true";
      values[field.name] = text === "true" ? "true" : "false";
      continue;
    }
    if (text === undefined) continue;
    values[field.name] = text;
    if (text.trim() === "") continue; // empty: the default applies (or "required" is reported)
    switch (field.kind) {
      case "enum": {
        const option = field.options.find((o) => String(o) === text);
        if (option === undefined) errors[field.name] = ["Choose one of the listed values"];
        else conf[field.name] = option;
        break;
      }
      case "integer":
      case "number": {
        const n = Number(text);
        if (!Number.isFinite(n)) errors[field.name] = ["Enter a number"];
        else conf[field.name] = n;
        break;
      }
      case "string":
        conf[field.name] = text;
        break;
      case "json":
        try {
          conf[field.name] = JSON.parse(text);
        } catch {
          errors[field.name] = ["Enter valid JSON"];
        }
        break;
    }
  }
  const extra = form.conf ?? "";
  values.conf = extra;
  if (extra.trim() !== "") {
    try {
      const parsed = JSON.parse(extra);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        errors.conf = ["Conf must be a JSON object"];
      } else Object.assign(conf, parsed);
    } catch (error) {
      errors.conf = [`Conf is not valid JSON: ${(error as Error).message}`];
    }
  }
  return { conf, errors, values };
}

/**
 * Sorts `validateConf`'s issues ("path: message") to the fields they are about; the rest are
 * about the conf as a whole.
 */
export function issuesByField(
  fields: ParamField[],
  issues: string[],
): { fields: Record<string, string[]>; general: string[] } {
  const names = fields.map((f) => f.name).sort((a, b) => b.length - a.length);
  const byField: Record<string, string[]> = {};
  const general: string[] = [];
  for (const issue of issues) {
    const name = names.find((n) => issue.startsWith(`${n}: `) || issue.startsWith(`${n}.`));
    if (name) (byField[name] ??= []).push(issue.slice(name.length).replace(/^[.:]\s*/, ""));
    else general.push(issue);
  }
  return { fields: byField, general };
}
