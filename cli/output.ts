/** Shared pieces of the CLI: errors that mean "bad input", argument parsing, printing. */
import type { ParsedFile } from "../scheduler/dag_processor.ts";
import type { SerializedDag } from "../sdk/serialize.ts";

/** Bad input: the command exits with status 2 and prints the message. */
export class UsageError extends Error {}

export function parseConf(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--conf is not valid JSON: ${(error as Error).message}`);
  }
}

export function parseDate(text: string | undefined, flag: string): Date | undefined {
  if (text === undefined) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new UsageError(`${flag} is not a date: "${text}"`);
  return date;
}

/** Finds a DAG in parsed files; an unknown id names the files that failed to import. */
export function findDag(
  files: ParsedFile[],
  dagId: string,
): { dag: SerializedDag; file: ParsedFile } {
  for (const file of files) {
    const found = file.dags.find((d) => d.serialized.dagId === dagId);
    if (found) return { dag: found.serialized, file };
  }
  const failed = files.filter((f) => f.error);
  const hint = failed.length
    ? `; ${failed.length} file${failed.length > 1 ? "s" : ""} failed to import: ${
      failed.map((f) => `${f.file} (${f.error!.message.split("\n")[0]})`).join(", ")
    }`
    : "";
  throw new UsageError(`DAG "${dagId}" not found${hint}`);
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

export function time(date = new Date()): string {
  return date.toISOString().slice(11, 23);
}

/** Prints rows as aligned columns; the first row is the header. */
export function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const row of rows) {
    console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
  }
}
