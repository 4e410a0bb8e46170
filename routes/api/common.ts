/**
 * What every API route shares: Airflow's error bodies (`{"detail": "..."}`, and FastAPI's
 * `{"detail": [{type, loc, msg}]}` for a 422), JSON bodies read under the size limit and checked
 * with zod, and query parameters read the way FastAPI reads them (repeated keys for lists,
 * `limit`/`offset`, `order_by` with `-` for descending, `_gte`/`_gt`/`_lte`/`_lt` ranges).
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { type Fragment, orderBy, type Range } from "../../db/fragment.ts";
import { BodyTooLarge, readLimited } from "../body.ts";
import type { AppEnv } from "../mod.ts";

export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
/** The largest page; a larger `limit` is a 422, not a silently shorter page. */
export const MAX_PAGE_LIMIT = 1000;
/** In a path, `~` stands for every DAG, run or task, as in Airflow. */
export const ALL = "~";

export type ApiContext = Context<AppEnv>;

export interface FieldError {
  type: string;
  loc: (string | number)[];
  msg: string;
}

export function apiError(
  status: 400 | 401 | 404 | 409 | 413 | 415 | 422 | 429,
  detail: string,
  headers: Record<string, string> = {},
): never {
  throw new HTTPException(status, { res: Response.json({ detail }, { status, headers }) });
}

export const notFound = (detail: string): never => apiError(404, detail);
export const badRequest = (detail: string): never => apiError(400, detail);

export function validationError(detail: FieldError[]): never {
  throw new HTTPException(422, { res: Response.json({ detail }, { status: 422 }) });
}

/** A non-negative integer path parameter, or a 422 as FastAPI answers for one that is not. */
export function intPath(c: ApiContext, name: string): number {
  const text = c.req.param(name) ?? "";
  if (!/^\d{1,9}$/.test(text)) {
    validationError([{
      type: "int_parsing",
      loc: ["path", name],
      msg: "Input should be a valid integer, unable to parse string as an integer",
    }]);
  }
  return Number(text);
}

/** `~` as null (every one), anything else as itself. */
export const orAll = (value: string): string | null => (value === ALL ? null : value);

export function zodErrors(error: z.ZodError, at: (string | number)[]): FieldError[] {
  return error.issues.flatMap((issue): FieldError[] => {
    const loc = [...at, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))];
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        type: "extra_forbidden",
        loc: [...loc, key],
        msg: "Extra inputs are not permitted",
      }));
    }
    if (issue.code === "invalid_type" && (issue as { input?: unknown }).input === undefined) {
      return [{ type: "missing", loc, msg: "Field required" }];
    }
    return [{ type: issue.code, loc, msg: issue.message }];
  });
}

/** Reads and checks a JSON body; 413 over the size limit, 422 with every problem otherwise. */
export async function body<T extends z.ZodType>(c: ApiContext, schema: T): Promise<z.output<T>> {
  const limit = c.get("deps").maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  let bytes: Uint8Array;
  try {
    bytes = await readLimited(c.req.raw, limit);
  } catch (error) {
    if (error instanceof BodyTooLarge) apiError(413, error.message);
    throw error;
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") {
    validationError([{ type: "missing", loc: ["body"], msg: "Field required" }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    validationError([{ type: "json_invalid", loc: ["body", 0], msg: "JSON decode error" }]);
  }
  const parsed = schema.safeParse(raw, { reportInput: true });
  if (!parsed.success) validationError(zodErrors(parsed.error, ["body"]));
  return parsed.data;
}

const BOOLEAN: Record<string, boolean> = {
  true: true,
  "1": true,
  yes: true,
  on: true,
  t: true,
  y: true,
  false: false,
  "0": false,
  no: false,
  off: false,
  f: false,
  n: false,
};

/**
 * Reads query parameters, collecting every problem, then `done()` answers 422 with all of them,
 * as FastAPI does, or returns.
 */
export class QueryReader {
  private errors: FieldError[] = [];
  constructor(private readonly c: ApiContext) {}

  private fail(name: string, type: string, msg: string): null {
    this.errors.push({ type, loc: ["query", name], msg });
    return null;
  }

  string(name: string): string | null {
    return this.c.req.query(name) ?? null;
  }

  oneOf<T extends string>(name: string, options: readonly T[]): T | null {
    const text = this.c.req.query(name);
    if (text === undefined || text === "") return null;
    if (!(options as readonly string[]).includes(text)) {
      const names = options.map((o) => `'${o}'`);
      const listed = names.length > 1
        ? `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`
        : names[0];
      return this.fail(name, "enum", `Input should be ${listed}`);
    }
    return text as T;
  }

  list(name: string): string[] {
    return this.c.req.queries(name) ?? [];
  }

  int(name: string, o: { min?: number; max?: number } = {}): number | null {
    const text = this.c.req.query(name);
    if (text === undefined || text === "") return null;
    if (!/^[+-]?\d+$/.test(text.trim())) {
      return this.fail(
        name,
        "int_parsing",
        "Input should be a valid integer, unable to parse string as an integer",
      );
    }
    const value = Number(text);
    if (o.min !== undefined && value < o.min) {
      return this.fail(
        name,
        "greater_than_equal",
        `Input should be greater than or equal to ${o.min}`,
      );
    }
    if (o.max !== undefined && value > o.max) {
      return this.fail(name, "less_than_equal", `Input should be less than or equal to ${o.max}`);
    }
    return value;
  }

  intList(name: string): number[] {
    const values: number[] = [];
    for (const text of this.list(name)) {
      if (!/^[+-]?\d+$/.test(text.trim())) {
        this.fail(
          name,
          "int_parsing",
          "Input should be a valid integer, unable to parse string as an integer",
        );
      } else values.push(Number(text));
    }
    return values;
  }

  number(name: string): number | null {
    const text = this.c.req.query(name);
    if (text === undefined || text === "") return null;
    const value = Number(text);
    if (!Number.isFinite(value)) {
      return this.fail(
        name,
        "float_parsing",
        "Input should be a valid number, unable to parse string as a number",
      );
    }
    return value;
  }

  bool(name: string): boolean | null {
    const text = this.c.req.query(name);
    if (text === undefined || text === "") return null;
    const value = BOOLEAN[text.trim().toLowerCase()];
    if (value === undefined) {
      return this.fail(
        name,
        "bool_parsing",
        "Input should be a valid boolean, unable to interpret input",
      );
    }
    return value;
  }

  date(name: string): Date | null {
    const text = this.c.req.query(name);
    if (text === undefined || text === "") return null;
    const value = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(NaN);
    if (Number.isNaN(value.getTime())) {
      return this.fail(
        name,
        "datetime_from_date_parsing",
        "Input should be a valid datetime or date",
      );
    }
    return value;
  }

  /** `<prefix>_gte`, `_gt`, `_lte` and `_lt`. */
  range(prefix: string): Range {
    return {
      gte: this.date(`${prefix}_gte`),
      gt: this.date(`${prefix}_gt`),
      lte: this.date(`${prefix}_lte`),
      lt: this.date(`${prefix}_lt`),
    };
  }

  /** `limit` (default 50) and `offset` (default 0). */
  page(): { limit: number; offset: number } {
    return {
      limit: this.int("limit", { min: 0, max: MAX_PAGE_LIMIT }) ?? 50,
      offset: this.int("offset", { min: 0 }) ?? 0,
    };
  }

  /**
   * `order_by`: names from `allowed` (API name -> SQL expression written in this codebase),
   * `-name` for descending. An unknown name is a 400 with Airflow's message.
   */
  orderBy(allowed: Record<string, string>, fallback: string, tieBreaker: string): Fragment {
    const values = this.list("order_by").filter((v) => v !== "");
    const chosen = values.length ? values : [fallback];
    if (chosen.length > 10) {
      badRequest(
        `Ordering with more than 10 parameters is not allowed. Provided: ${chosen.length}`,
      );
    }
    return orderBy(
      chosen.map((value) => {
        const name = value.replace(/^-/, "");
        const column = Object.hasOwn(allowed, name) ? allowed[name] : undefined;
        if (!column) {
          badRequest(
            `Ordering with '${name}' is disallowed or the attribute does not exist on the model`,
          );
        }
        return [column!, value.startsWith("-")];
      }),
      tieBreaker,
    );
  }

  done(): void {
    if (this.errors.length) validationError(this.errors);
  }
}
