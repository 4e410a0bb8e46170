/**
 * SQL fragments for queries whose WHERE and ORDER BY depend on the request (the API's filters).
 * A fragment is a tagged template whose values stay bound parameters; a fragment used as a
 * value is spliced in with its own parameters. Column names and directions come only from
 * constants in the code (see `raw`), never from input.
 */
import type { Row, Sql } from "./client.ts";

export class Fragment {
  constructor(readonly strings: string[], readonly values: unknown[]) {}
}

export function frag(strings: TemplateStringsArray | string[], ...values: unknown[]): Fragment {
  const out = [strings[0]];
  const vals: unknown[] = [];
  values.forEach((value, i) => {
    if (value instanceof Fragment) {
      out[out.length - 1] += value.strings[0];
      value.values.forEach((v, j) => {
        vals.push(v);
        out.push(value.strings[j + 1]);
      });
      out[out.length - 1] += strings[i + 1];
    } else {
      vals.push(value);
      out.push(strings[i + 1]);
    }
  });
  return new Fragment(out, vals);
}

/** Constant SQL text as a fragment: only for text written in this codebase. */
export function sqlText(text: string): Fragment {
  return new Fragment([text], []);
}

/** The fragments joined by `separator` (constant text); `empty` when there are none. */
export function joinFragments(parts: Fragment[], separator: string, empty = ""): Fragment {
  if (parts.length === 0) return sqlText(empty);
  return parts.slice(1).reduce(
    (acc, part) => frag([``, `${separator}`, ``], acc, part),
    parts[0],
  );
}

/** `WHERE a AND b ...`, or nothing. */
export function where(conditions: Fragment[]): Fragment {
  return conditions.length ? frag`WHERE ${joinFragments(conditions, " AND ")}` : sqlText("");
}

export function query<T = Row>(sql: Sql, f: Fragment): Promise<T[]> {
  const strings = Object.assign([...f.strings], { raw: [...f.strings] });
  return sql<T>(strings as unknown as TemplateStringsArray, ...f.values);
}

/** Bounds on a timestamp column from `<name>_gte`, `_gt`, `_lte`, `_lt` filters. */
export interface Range {
  gte?: Date | null;
  gt?: Date | null;
  lte?: Date | null;
  lt?: Date | null;
}

export function rangeConditions(column: string, range: Range | undefined): Fragment[] {
  if (!range) return [];
  const ops = [["gte", ">="], ["gt", ">"], ["lte", "<="], ["lt", "<"]] as const;
  return ops.filter(([key]) => range[key] != null).map(([key, op]) =>
    frag([`${column} ${op} `, ``], range[key])
  );
}

/**
 * ORDER BY from `[column expression, descending]` pairs, each with nulls last (as Airflow sorts),
 * and a final tie-breaker so pages never overlap.
 */
export function orderBy(keys: [string, boolean][], tieBreaker: string): Fragment {
  const parts = keys.map(([column, desc]) =>
    `(${column}) IS NULL, ${column} ${desc ? "DESC" : "ASC"}`
  );
  parts.push(`${tieBreaker} ${keys[0]?.[1] ? "DESC" : "ASC"}`);
  return sqlText(`ORDER BY ${parts.join(", ")}`);
}
