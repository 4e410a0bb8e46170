/**
 * `gust pools list | set | delete`: pools through the API, as Airflow's `airflow pools`. `set`
 * creates the pool or changes its slots (and description, when given).
 */
import type { Config } from "../config.ts";
import type { ApiJson } from "./client.ts";
import type { CliOptions } from "./mod.ts";
import { check, withClient } from "./ops.ts";
import { printJson, printTable, UsageError } from "./output.ts";

const path = (s: string) => `/pools/${encodeURIComponent(s)}`;

/** `unlimited` or -1 (which the shell passes only after `--`, as it reads like an option). */
function slotsArgument(value: string | undefined): number {
  const slots = value === "unlimited" ? -1 : Number(value);
  if (value === undefined || !Number.isInteger(slots) || slots < -1) {
    throw new UsageError("<slots> must be a whole number of slots, or unlimited");
  }
  return slots;
}

const shown = (slots: number) => (slots < 0 ? "unlimited" : String(slots));

export async function poolsCommand(
  config: Config,
  command: string,
  rest: string[],
  opts: CliOptions,
): Promise<number> {
  if (!["list", "set", "delete"].includes(command)) {
    throw new UsageError(`Unknown command "pools ${command}"`);
  }
  const name = rest[0];
  if (command !== "list" && !name) {
    throw new UsageError(`Missing <name>: gust pools ${command} <name>`);
  }
  // Checked before anything is sent: a bad number is the caller's mistake, not the server's.
  const slots = command === "set" ? slotsArgument(rest[1]) : 0;
  return await withClient(config, async (client) => {
    switch (command) {
      case "list": {
        const { pools } = check(await client.request("GET", "/pools?limit=1000"));
        if (opts.json) {
          printJson(pools);
          return 0;
        }
        printTable([
          ["pool", "slots", "running", "queued", "scheduled", "open", "description"],
          ...pools.map((p: ApiJson) => [
            p.name,
            shown(p.slots),
            String(p.running_slots),
            String(p.queued_slots),
            String(p.scheduled_slots),
            shown(p.open_slots),
            p.description ?? "",
          ]),
        ]);
        return 0;
      }
      case "set": {
        const description = opts.description;
        const changes = { slots, ...(description === undefined ? {} : { description }) };
        let answer = await client.request("PATCH", path(name), changes);
        let verb = "Updated";
        if (answer.status === 404) {
          answer = await client.request("POST", "/pools", { name, ...changes });
          verb = "Created";
        }
        const pool = check(answer);
        if (opts.json) printJson(pool);
        else console.log(`${verb} pool ${pool.name}: ${shown(pool.slots)} slots`);
        return 0;
      }
      default: {
        const answer = await client.request("DELETE", path(name));
        check(answer);
        if (!opts.json) console.log(`Deleted pool ${name}`);
        return 0;
      }
    }
  });
}
