/**
 * `gust pools list | set | delete`: pools through the API, as Airflow's `airflow pools`. `set`
 * creates the pool or changes its slots (and description, when given).
 */
import type { Config } from "../config.ts";
import { parseSlots, slotsLabel } from "../db/pools.ts";
import type { ApiJson } from "./client.ts";
import type { CliOptions } from "./mod.ts";
import { check, withClient } from "./ops.ts";
import { printJson, printTable, UsageError } from "./output.ts";

const path = (s: string) => `/pools/${encodeURIComponent(s)}`;

/** `unlimited` or a number (-1 too, though the shell passes it only after `--`). */
function slotsArgument(value: string | undefined): number {
  const slots = parseSlots(value);
  if (slots === null) throw new UsageError("<slots> must be a whole number of slots, or unlimited");
  return slots;
}

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
            slotsLabel(p.slots),
            String(p.running_slots),
            String(p.queued_slots),
            String(p.scheduled_slots),
            slotsLabel(p.open_slots),
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
        else console.log(`${verb} pool ${pool.name}: ${slotsLabel(pool.slots)} slots`);
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
