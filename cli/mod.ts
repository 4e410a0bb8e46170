/**
 * `deno task gust <group> <command>`: the command line. Exit status 0 on success, 1 when a run
 * failed, 2 for bad input, with a message that names the cause.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.ts";
import { dagsList, dagsShow, dagsTest } from "./dags.ts";
import { dbMigrate } from "./db.ts";
import { tasksTest } from "./tasks.ts";
import { dagsBackfill, dagsPause, dagsTrigger, runsList, tasksClear } from "./ops.ts";
import { UsageError } from "./output.ts";
import { poolsCommand } from "./pools.ts";
import { tokensCommand, usersCommand } from "./users.ts";

const USAGE = `Usage: gust <command> [options]

  dags list [--json]                          DAGs in the DAG folder, with import errors
  dags show <dag_id> [--mermaid]              the DAG's graph
  dags test <dag_id> [--conf <json>] [--logical-date <iso>] [--json] [--record]
                                              run one DAG run to its end, in this process
  tasks test <dag_id> <task_id> [--conf <json>] [--map-index <n>] [--json]
                                              run one task alone, ignoring its upstream
  dags trigger <dag_id> [--conf <json>] [--run-id <id>] [--logical-date <iso>]
  dags pause <dag_id> | dags unpause <dag_id>
  dags backfill <dag_id> --from <date> --to <date> [--reprocess failed|all|none]
                [--max-active-runs <n>] [--dry-run]
  tasks clear <dag_id> <run_id> [--task <id> ...] [--downstream] [--only-failed]
  runs list <dag_id> [--limit <n>] [--json]
  pools list [--json]
  pools set <name> <slots> [--description <text>]
                                              create a pool or change its slots
                                              (a number, or unlimited)
  pools delete <name>
  db migrate                                  apply database migrations

  users list [--json]
  users create --username <u> --role <Viewer|User|Op|Admin> [--password-stdin]
  users set-role --username <u> --role <role>
  users reset-password --username <u> [--password-stdin]
  users deactivate --username <u> | users activate --username <u>
  tokens list [--json]
  tokens create --name <name> --role <role> [--expires-in-days <n>]
  tokens revoke <token_id>
                                              without --password-stdin, a password is
                                              generated and printed once

The commands that act on an installation go through the server at GUST_API_URL
(http://GUST_HOST:GUST_PORT) when it answers, else straight to the configured database.
To the server they present GUST_API_TOKEN when it is set, else the local credential the
server wrote into GUST_HOME (so they work as the account that runs the server).

Environment: GUST_DAGS_FOLDER (./dags), GUST_HOME (./.gust), DATABASE_URL (embedded PGlite if unset)`;

const OPTIONS = {
  json: { type: "boolean" },
  mermaid: { type: "boolean" },
  record: { type: "boolean" },
  conf: { type: "string" },
  "logical-date": { type: "string" },
  "map-index": { type: "string" },
  "run-id": { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  reprocess: { type: "string" },
  "max-active-runs": { type: "string" },
  "dry-run": { type: "boolean" },
  task: { type: "string", multiple: true },
  downstream: { type: "boolean" },
  "only-failed": { type: "boolean" },
  limit: { type: "string" },
  username: { type: "string" },
  role: { type: "string" },
  name: { type: "string" },
  description: { type: "string" },
  "password-stdin": { type: "boolean" },
  "expires-in-days": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export type CliOptions = {
  json?: boolean;
  mermaid?: boolean;
  record?: boolean;
  conf?: string;
  "logical-date"?: string;
  "map-index"?: string;
  "run-id"?: string;
  from?: string;
  to?: string;
  reprocess?: string;
  "max-active-runs"?: string;
  "dry-run"?: boolean;
  task?: string[];
  downstream?: boolean;
  "only-failed"?: boolean;
  limit?: string;
  username?: string;
  role?: string;
  name?: string;
  description?: string;
  "password-stdin"?: boolean;
  "expires-in-days"?: string;
};

export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [group, command, ...rest] = parsed.positionals;
  if (parsed.values.help || !group) {
    console.log(USAGE);
    return group || parsed.values.help ? 0 : 2;
  }
  try {
    const config = loadConfig();
    const opts = parsed.values as CliOptions;
    switch (`${group} ${command ?? ""}`.trim()) {
      case "dags list":
        return await dagsList(config, opts);
      case "dags show":
        return await dagsShow(config, required(rest[0], "dag_id"), opts);
      case "dags test":
        return await dagsTest(config, required(rest[0], "dag_id"), opts);
      case "tasks test":
        return await tasksTest(
          config,
          required(rest[0], "dag_id"),
          required(rest[1], "task_id"),
          opts,
        );
      case "dags trigger":
        return await dagsTrigger(config, required(rest[0], "dag_id"), opts);
      case "dags pause":
      case "dags unpause":
        return await dagsPause(config, required(rest[0], "dag_id"), command === "pause", opts);
      case "dags backfill":
        return await dagsBackfill(config, required(rest[0], "dag_id"), opts);
      case "tasks clear":
        return await tasksClear(
          config,
          required(rest[0], "dag_id"),
          required(rest[1], "run_id"),
          opts,
        );
      case "runs list":
        return await runsList(config, required(rest[0], "dag_id"), opts);
      case "db migrate":
        return await dbMigrate(config);
      default:
        if (group === "users" && command) return await usersCommand(config, command, opts);
        if (group === "tokens" && command) return await tokensCommand(config, command, rest, opts);
        if (group === "pools" && command) return await poolsCommand(config, command, rest, opts);
        throw new UsageError(`Unknown command "${[group, command].filter(Boolean).join(" ")}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`Missing <${name}>\n\n${USAGE}`);
  return value;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
