/**
 * A small checker of JSON values against the schemas of an OpenAPI 3.1 document: `$ref`,
 * `anyOf`/`oneOf`/`allOf`, `type` (and its list form), `enum`, `const`, `required`,
 * `properties`, `additionalProperties`, `items` and the `date-time` format. Strict by default:
 * a property the schema does not name is an error unless the schema allows extra ones, so an
 * answer with a misspelt field fails as surely as one missing a field.
 */
import { parse } from "yaml";

// deno-lint-ignore no-explicit-any
export type Schema = Record<string, any>;
export interface OpenApiDoc {
  paths: Record<string, Record<string, Schema>>;
  components: { schemas: Record<string, Schema> };
}

const AIRFLOW_YAML = new URL("../../shared/airflow/v2-rest-api-generated.yaml", import.meta.url);

let airflow: Promise<OpenApiDoc> | null = null;

/** Airflow's published OpenAPI document, kept in shared/ beside the repository. */
export function airflowDoc(): Promise<OpenApiDoc> {
  airflow ??= Deno.readTextFile(AIRFLOW_YAML).then(
    (text) => parse(text) as OpenApiDoc,
    (error) => {
      throw new Error(`Cannot read Airflow's OpenAPI document at ${AIRFLOW_YAML}: ${error}`);
    },
  );
  return airflow;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function resolve(doc: OpenApiDoc, schema: Schema): Schema {
  let s = schema;
  while (s && typeof s.$ref === "string") {
    const name = s.$ref.replace("#/components/schemas/", "");
    const target = doc.components.schemas[name];
    if (!target) throw new Error(`Unknown schema ${s.$ref}`);
    s = target;
  }
  return s;
}

/** Every problem with `value` against `schema`, each prefixed with where it is. */
export function check(doc: OpenApiDoc, schema: Schema, value: unknown, at = "$"): string[] {
  const s = resolve(doc, schema);
  if (!s || Object.keys(s).length === 0) return [];
  const errors: string[] = [];
  if (s.anyOf || s.oneOf) {
    const branches = (s.anyOf ?? s.oneOf) as Schema[];
    const results = branches.map((b) => check(doc, b, value, at));
    if (!results.some((r) => r.length === 0)) {
      errors.push(
        `${at}: matches none of ${branches.length} alternatives: ${
          results.map((r) => r[0]).join(" | ")
        }`,
      );
    }
  }
  for (const part of (s.allOf ?? []) as Schema[]) errors.push(...check(doc, part, value, at));
  if (s.enum && !s.enum.includes(value)) {
    errors.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(s.enum)}`);
  }
  if ("const" in s && s.const !== value) errors.push(`${at}: should be ${JSON.stringify(s.const)}`);
  if (s.type) {
    const types = [s.type].flat() as string[];
    const actual = typeOf(value);
    const ok = types.includes(actual) || (actual === "integer" && types.includes("number"));
    if (!ok) return [...errors, `${at}: expected ${types.join("|")}, got ${actual}`];
  }
  if (s.format === "date-time" && typeof value === "string" && !DATE_TIME.test(value)) {
    errors.push(`${at}: not a date-time: ${value}`);
  }
  if (typeOf(value) === "object" && (s.properties || s.required || s.type === "object")) {
    const obj = value as Record<string, unknown>;
    for (const name of (s.required ?? []) as string[]) {
      if (!(name in obj)) errors.push(`${at}.${name}: required, missing`);
    }
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const [name, v] of Object.entries(obj)) {
      if (props[name]) errors.push(...check(doc, props[name], v, `${at}.${name}`));
      else if (s.additionalProperties && typeof s.additionalProperties === "object") {
        errors.push(...check(doc, s.additionalProperties, v, `${at}.${name}`));
      } else if (s.properties && s.additionalProperties !== true) {
        errors.push(`${at}.${name}: not in the schema`);
      }
    }
  }
  if (Array.isArray(value) && s.items) {
    value.forEach((item, i) => errors.push(...check(doc, s.items, item, `${at}[${i}]`)));
  }
  return errors;
}

/** The JSON schema of one answer: the document's operation at `template`, `method`, `status`. */
export function responseSchema(
  doc: OpenApiDoc,
  method: string,
  template: string,
  status: number,
): Schema {
  const op = doc.paths[template]?.[method.toLowerCase()];
  if (!op) throw new Error(`The document has no ${method} ${template}`);
  const answer = op.responses?.[String(status)];
  if (!answer) throw new Error(`${method} ${template} documents no ${status} answer`);
  return answer.content?.["application/json"]?.schema ?? {};
}
