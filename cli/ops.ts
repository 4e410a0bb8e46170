/** Commands that act on an installation: trigger, pause, backfill, clear, list runs. */
import type { Config } from "../config.ts";
import { type ApiClient, type ApiJson, connect } from "./client.ts";
import type { CliOptions } from "./mod.ts";
import { parseConf, parseDate, printJson, printTable, UsageError } from "./output.ts";

/** An API answer other than 2xx becomes bad input (exit 2) with the server's explanation. */
export function check(res: { status: number; body: ApiJson }): ApiJson {
  if (res.status >= 200 && res.status < 300) return res.body;
  const detail = res.body?.detail;
  const message = Array.isArray(detail)
    ? detail.map((d: { loc?: string[]; msg: string }) =>
      `${(d.loc ?? []).slice(1).join(".") || "body"}: ${d.msg}`
    ).join("; ")
    : typeof detail === "string"
    ? detail
    : `HTTP ${res.status}`;
  throw new UsageError(message);
}

export async function withClient<T>(
  config: Config,
  fn: (client: ApiClient) => Promise<T>,
): Promise<T> {
  const client = await connect(config);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

const path = (s: string) => encodeURIComponent(s);

export function dagsTrigger(config: Config, dagId: string, opts: CliOptions): Promise<number> {
  const conf = parseConf(opts.conf);
  const logicalDate = parseDate(opts["logical-date"], "--logical-date");
  return withClient(config, async (client) => {
    const run = check(
      await client.request("POST", `/dags/${path(dagId)}/dagRuns`, {
        dag_run_id: opts["run-id"] ?? null,
        logical_date: logicalDate?.toISOString() ?? null,
        conf,
      }),
    );
    if (opts.json) printJson(run);
    else console.log(`Triggered ${dagId}: run ${run.dag_run_id} (${run.state})`);
    return 0;
  });
}

export function dagsPause(config: Config, dagId: string, paused: boolean, opts: CliOptions) {
  return withClient(config, async (client) => {
    const dag = check(await client.request("PATCH", `/dags/${path(dagId)}`, { is_paused: paused }));
    if (opts.json) printJson(dag);
    else console.log(`${dagId} is ${dag.is_paused ? "paused" : "unpaused"}`);
    return 0;
  });
}

const REPROCESS: Record<string, string> = {
  none: "none",
  failed: "failed",
  all: "completed",
  completed: "completed",
};

export function dagsBackfill(config: Config, dagId: string, opts: CliOptions): Promise<number> {
  const from = parseDate(opts.from, "--from");
  const to = parseDate(opts.to, "--to");
  if (!from || !to) throw new UsageError("dags backfill needs --from and --to");
  const reprocess = REPROCESS[opts.reprocess ?? "none"];
  if (!reprocess) {
    throw new UsageError(`--reprocess must be failed, all or none, not "${opts.reprocess}"`);
  }
  const maxActiveRuns = opts["max-active-runs"] === undefined
    ? 10
    : Number(opts["max-active-runs"]);
  if (!Number.isInteger(maxActiveRuns) || maxActiveRuns < 1) {
    throw new UsageError("--max-active-runs must be a positive integer");
  }
  const body = {
    dag_id: dagId,
    from_date: from.toISOString(),
    to_date: to.toISOString(),
    reprocess_behavior: reprocess,
    dag_run_conf: parseConf(opts.conf),
    max_active_runs: maxActiveRuns,
  };
  return withClient(config, async (client) => {
    if (opts["dry-run"]) {
      const plan = check(await client.request("POST", "/backfills/dry_run", body));
      if (opts.json) printJson(plan);
      else {
        console.log(
          `${plan.total_entries} run${
            plan.total_entries === 1 ? "" : "s"
          } would be created or re-run:`,
        );
        for (const b of plan.backfills) console.log(`  ${b.logical_date}`);
      }
      return 0;
    }
    const created = check(await client.request("POST", "/backfills", body));
    if (opts.json) printJson(created);
    else {console.log(
        `Backfill ${created.id} of ${dagId} from ${body.from_date} to ${body.to_date} started`,
      );}
    return 0;
  });
}

export function tasksClear(config: Config, dagId: string, runId: string, opts: CliOptions) {
  return withClient(config, async (client) => {
    const cleared = check(
      await client.request("POST", `/dags/${path(dagId)}/clearTaskInstances`, {
        dry_run: false,
        only_failed: opts["only-failed"] ?? false,
        dag_run_id: runId,
        task_ids: opts.task?.length ? opts.task : null,
        include_downstream: opts.downstream ?? false,
      }),
    );
    if (opts.json) printJson(cleared);
    else {
      console.log(
        `Cleared ${cleared.total_entries} task instance${
          cleared.total_entries === 1 ? "" : "s"
        } of ${runId}`,
      );
      for (const t of cleared.task_instances) {
        console.log(
          `  ${t.map_index >= 0 ? `${t.task_id}[${t.map_index}]` : t.task_id} (was ${
            t.state ?? "none"
          })`,
        );
      }
    }
    return 0;
  });
}

export function runsList(config: Config, dagId: string, opts: CliOptions): Promise<number> {
  return withClient(config, async (client) => {
    const limit = opts.limit ?? "25";
    const runs = check(
      await client.request(
        "GET",
        `/dags/${path(dagId)}/dagRuns?limit=${path(limit)}&order_by=-run_after`,
      ),
    );
    if (opts.json) {
      printJson(runs);
      return 0;
    }
    printTable([
      ["run_id", "state", "type", "logical_date", "start", "end"],
      ...runs.dag_runs.map((r: Record<string, string | null>) =>
        [r.dag_run_id, r.state, r.run_type, r.logical_date, r.start_date, r.end_date].map((v) =>
          v ?? "-"
        )
      ),
    ]);
    console.log(`${runs.total_entries} run${runs.total_entries === 1 ? "" : "s"}`);
    return 0;
  });
}
