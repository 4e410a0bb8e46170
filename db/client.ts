/**
 * One small SQL interface over the two drivers Gust runs on: a Postgres server through
 * `npm:postgres`, or embedded PGlite. Call sites write tagged templates; values always travel
 * as bound parameters, never as text. JSON values are wrapped with `json()` because the two
 * drivers disagree on how a bare string bound to a jsonb parameter is encoded (postgres.js
 * stringifies it again, PGlite passes it through).
 */
import postgres from "postgres";
import type { PGlite, Transaction } from "@electric-sql/pglite";
import { PgliteStatements } from "./pglite_statements.ts";

export type Row = Record<string, unknown>;

/** A tagged-template query function. */
export interface Sql {
  <T = Row>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Memo of immutable rows (DAG versions), shared by a database and its transactions. It lives
   * on the connection, not in a module, because one process may open several databases.
   */
  readonly cache: Map<string, unknown>;
  /**
   * Whether other sessions run statements at the same time (Postgres), so that row locks can
   * be waited for and lock order matters; PGlite runs one statement at a time in all.
   */
  readonly concurrent: boolean;
}

/** One database connection of its own, for session state such as an advisory lock. */
export interface Session {
  readonly sql: Sql;
  close(): Promise<void>;
}

export interface Db {
  readonly kind: "postgres" | "pglite";
  readonly sql: Sql;
  /** Runs `fn` in one transaction; it commits when `fn` resolves and rolls back when it throws. */
  begin<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /** Subscribes to a NOTIFY channel; resolves once listening, to a function that stops it. */
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /**
   * A dedicated connection, never shared through the pool (a session advisory lock taken
   * through a pool belongs to whichever connection ran it). PGlite has one session in all.
   */
  session(): Promise<Session>;
  close(): Promise<void>;
}

class JsonValue {
  constructor(readonly value: unknown) {}
}

class RawSql {
  constructor(readonly text: string) {}
}

/** SQL text spliced in as is: only for constants written in this codebase, never for input. */
export function raw(text: string): RawSql {
  return new RawSql(text);
}

/** Marks a value to be bound as jsonb. */
export function json(value: unknown): JsonValue {
  return new JsonValue(value);
}

type Encode = (value: unknown) => unknown;

/** Turns a tagged template into `$1...$n` text and a parameter list. */
export function compile(
  strings: TemplateStringsArray,
  values: unknown[],
  encodeJson: Encode,
): { text: string; params: unknown[] } {
  let text = strings[0];
  const params: unknown[] = [];
  values.forEach((value, i) => {
    if (value instanceof RawSql) {
      text += value.text;
    } else if (value instanceof JsonValue) {
      params.push(encodeJson(value.value === undefined ? null : value.value));
      text += `$${params.length}::jsonb`;
    } else {
      params.push(Array.isArray(value) ? arrayLiteral(value) : value === undefined ? null : value);
      text += `$${params.length}`;
    }
    text += strings[i + 1];
  });
  return { text, params };
}

/**
 * Arrays travel as Postgres array literals, typed by the cast or the context in the SQL
 * (`${ids}::int[]`, `= ANY(${names})`): postgres.js infers a wrong type for some element types
 * (booleans), and one encoding for both drivers keeps them alike.
 */
export function arrayLiteral(values: unknown[]): string {
  const items = values.map((v) => {
    if (v === null || v === undefined) return "NULL";
    if (typeof v === "boolean") return v ? "t" : "f";
    if (typeof v === "number") return String(v);
    const text = v instanceof Date ? v.toISOString() : String(v);
    return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(",")}}`;
}

export interface PostgresOptions {
  max?: number;
  /**
   * Named prepared statements (default true): a statement's second run skips the server's parse
   * and describe, which halves the round trips of a parameterized query (measured: a task's
   * completion transaction 4 ms -> 2 ms). PgBouncer in transaction mode needs version 1.21 or
   * later with `max_prepared_statements` set, or this off.
   */
  prepare?: boolean;
}

/**
 * postgres.js can reject a query promise of its own that nobody holds when a connection closes
 * under it (seen when a transaction's backend is terminated on a loaded machine); in Deno an
 * unhandled rejection ends the process, so a restarting database would take every Gust process
 * down with it. Only connection losses are kept from doing that: the caller of whatever query
 * was in flight has already been told through its own promise.
 */
function ignoreStrayConnectionLosses(): void {
  if (strayHandlerInstalled) return;
  strayHandlerInstalled = true;
  globalThis.addEventListener("unhandledrejection", (event) => {
    if (isConnectionLoss(event.reason)) event.preventDefault();
  });
}
let strayHandlerInstalled = false;

export function postgresDb(url: string, options: PostgresOptions = {}): Db {
  ignoreStrayConnectionLosses();
  const prepare = options.prepare ?? true;
  const client = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    // int8 (counts, sums) as numbers: every int8 Gust reads is far below 2^53.
    types: {
      int8: { to: 20, from: [20], serialize: (x: number) => String(x), parse: Number },
    },
    connection: { application_name: "gust" },
  });
  const encode: Encode = (v) => v; // postgres.js serializes jsonb parameters itself
  const cache = new Map<string, unknown>();
  const wrap = (run: postgres.Sql | postgres.TransactionSql, lost?: LostConnection): Sql => {
    const sql = (<T>(strings: TemplateStringsArray, ...values: unknown[]) => {
      if (lost?.value) return Promise.reject(lost.value);
      const { text, params } = compile(strings, values, encode);
      return run.unsafe(text, params as never[], { prepare }).then(
        (rows) => rows as unknown as T[],
        (error) => {
          if (lost && isConnectionLoss(error)) lost.value ??= error;
          throw error;
        },
      );
    }) as Sql;
    sql.exec = async (script) => {
      await run.unsafe(script);
    };
    Object.assign(sql, { cache, concurrent: true });
    return sql;
  };
  return {
    kind: "postgres",
    sql: wrap(client),
    begin: (fn) => {
      const lost: LostConnection = { value: null };
      return client.begin((tx) =>
        new Promise((resolve, reject) => {
          // Once the connection is lost, neither settle: postgres.js would then write COMMIT or
          // ROLLBACK to the closed socket, which throws where no caller can catch it
          // (porsager/postgres#1208). The transaction's promise has already rejected.
          fn(wrap(tx, lost)).then(
            (value) => lost.value || resolve(value),
            (error) => lost.value || reject(error),
          );
        })
      ).catch((error) => {
        // Whatever ended it (the loss itself, or an error postgres.js raised while noticing the
        // loss), the transaction is over: a later query of its code must not reach the driver.
        lost.value ??= error;
        throw error;
      }) as never;
    },
    async listen(channel, onMessage) {
      const sub = await client.listen(channel, onMessage);
      return () => sub.unlisten();
    },
    async notify(channel, payload) {
      await client.notify(channel, payload);
    },
    session() {
      // Keepalives so a peer that vanished is noticed by the kernel, not only on the next query.
      const own = postgres(url, { max: 1, onnotice: () => {}, keep_alive: 5, idle_timeout: 0 });
      return Promise.resolve({ sql: wrap(own), close: () => own.end({ timeout: 1 }) });
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** Set once a transaction's connection is gone: its later queries must not reach the driver. */
interface LostConnection {
  value: Error | null;
}

/** Errors after which a connection is closed or about to close (the server ended it). */
const CONNECTION_LOSS = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "ECONNRESET",
  "EPIPE",
  "57P01", // admin_shutdown: pg_terminate_backend, a fast shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
]);

function isConnectionLoss(error: unknown): boolean {
  return CONNECTION_LOSS.has((error as { code?: string })?.code ?? "");
}

/**
 * Errors worth retrying the same statements after: the connection was lost (a restarted or
 * failed-over server), or the transaction lost a serialization or deadlock race.
 */
export function isTransientDbError(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? "";
  return isConnectionLoss(error) || code === "40001" || code === "40P01" ||
    code.startsWith("08") || code === "ECONNREFUSED";
}

/** A deadlock or serialization failure: the transaction lost a race and may simply run again. */
export function isLostRace(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === "40P01" || code === "40001";
}

/**
 * `db.begin(fn)`, run again when the transaction lost a race (Postgres aborts one side of a
 * deadlock, which a hand edit of a busy run can meet against the workers finishing its tasks),
 * up to `attempts` times in all; any other error, or the last one, is thrown.
 */
export async function beginRetrying<T>(
  db: Db,
  fn: (tx: Sql) => Promise<T>,
  attempts = 3,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await db.begin(fn);
    } catch (error) {
      if (attempt >= attempts || !isLostRace(error)) throw error;
      await new Promise((r) => setTimeout(r, 20 * attempt * Math.random()));
    }
  }
}

export function pgliteDb(pg: PGlite): Db {
  const encode: Encode = (v) => JSON.stringify(v);
  const cache = new Map<string, unknown>();
  const statements = new PgliteStatements(pg);
  const wrap = (run: PGlite | Transaction): Sql => {
    const sql = (<T>(strings: TemplateStringsArray, ...values: unknown[]) => {
      const { text, params } = compile(strings, values, encode);
      return statements.run<T>(text, params, run !== pg);
    }) as Sql;
    sql.exec = async (script) => {
      await run.exec(script);
    };
    Object.assign(sql, { cache, concurrent: false });
    return sql;
  };
  return {
    kind: "pglite",
    sql: wrap(pg),
    begin: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    listen: (channel, onMessage) => pg.listen(channel, onMessage),
    async notify(channel, payload) {
      await pg.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    session: () => Promise.resolve({ sql: wrap(pg), close: async () => {} }),
    close: () => pg.close(),
  };
}
