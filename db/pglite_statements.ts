/**
 * Named prepared statements for PGlite. `PGlite.query` parses and plans its text on every call;
 * for the statements of a task's step (a claim, a completion) that was half of each one's time
 * (measured here: 0.86 ms through `query`, 0.42 ms bound to a statement prepared once). A
 * Postgres server gets the same from postgres.js's `prepare` option; this gives it to the
 * embedded database, whose one session runs every statement of the scheduler, the worker and
 * the web server in turn.
 */
import { parse, type PGlite, protocol } from "@electric-sql/pglite";

const { serialize } = protocol;

/** Statements kept per database; the least recently used is closed past this. */
const MAX_STATEMENTS = 500;

interface Prepared {
  name: string;
  /** The parameters' type oids, to encode each value as PGlite's own query would. */
  paramTypes: number[];
}

export class PgliteStatements {
  #statements = new Map<string, Prepared>();
  #counter = 0;
  /** Statements no longer used, closed with the next prepare. */
  #unused: string[] = [];

  constructor(private readonly pg: PGlite, private readonly max = MAX_STATEMENTS) {}

  /**
   * Runs one statement. Outside a transaction it waits for PGlite's transaction lock, as
   * `query` does, so it cannot land inside another caller's open transaction; inside one, the
   * transaction's own statements are already in order and only the protocol lock is taken.
   */
  run<T>(text: string, params: unknown[], inTransaction: boolean): Promise<T[]> {
    const run = () => this.pg._runExclusiveQuery(() => this.#run<T>(text, params, inTransaction));
    return inTransaction ? run() : this.pg._runExclusiveTransaction(run);
  }

  async #run<T>(text: string, params: unknown[], inTransaction: boolean): Promise<T[]> {
    try {
      return await this.#execute<T>(text, params, inTransaction);
    } catch (error) {
      if (!isStale(error)) throw error;
      // A table the statement reads changed shape, or the statement was dropped: it is
      // prepared anew. Inside a transaction the error has aborted it, so only the next try can.
      const stale = this.#statements.get(text);
      if (stale) this.#unused.push(stale.name);
      this.#statements.delete(text);
      if (inTransaction) throw error;
      return await this.#execute<T>(text, params, inTransaction);
    }
  }

  async #execute<T>(text: string, params: unknown[], inTransaction: boolean): Promise<T[]> {
    const statement = this.#statements.get(text) ?? await this.#prepare(text);
    // Map order is use order: taking and putting back marks it the most recently used.
    this.#statements.delete(text);
    this.#statements.set(text, statement);
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = this.pg.serializers[statement.paramTypes[i]];
      return serializer ? serializer(value) : String(value);
    });
    const { messages } = await this.pg.execProtocol(
      concat([
        serialize.bind({ statement: statement.name, values }),
        serialize.describe({ type: "P" }),
        serialize.execute({}),
        serialize.sync(),
      ]),
      { syncToFs: !inTransaction },
    );
    return parse.parseResults(messages, this.pg.parsers)[0].rows as T[];
  }

  async #prepare(text: string): Promise<Prepared> {
    const name = `gust_${++this.#counter}`;
    const parts = [serialize.parse({ name, text }), serialize.describe({ type: "S", name })];
    const evicted = this.#statements.size >= this.max
      ? this.#statements.entries().next().value
      : undefined;
    const closing = [...this.#unused, ...(evicted ? [evicted[1].name] : [])];
    for (const unused of closing) parts.push(serialize.close({ type: "S", name: unused }));
    parts.push(serialize.sync());
    // A text that does not parse throws here and is not kept (nor are the closes carried out).
    const { messages } = await this.pg.execProtocol(concat(parts), { syncToFs: false });
    if (evicted) this.#statements.delete(evicted[0]);
    this.#unused = [];
    return { name, paramTypes: parse.parseDescribeStatementResults(messages) };
  }
}

/** "cached plan must not change result type", "prepared statement does not exist". */
function isStale(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === "0A000" || code === "26000";
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
