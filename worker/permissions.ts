/**
 * A task's declared permissions become the flags of the runner process it runs in. The runner
 * gets nothing else: no network, no environment, no files but the DAG folder (to import the
 * task's own code) and what the task lists.
 */
import type { Permissions } from "../sdk/types.ts";

/** Gust's own settings never reach task code, even when a task asks for them by name. */
const PRIVATE_ENV = /^(DATABASE_URL|GUST_.*|REDIS_.*|UPSTASH_.*|PG.*)$/;

export function runnerFlags(permissions: Permissions, dagsFolder: string): string[] {
  const flags = [`--allow-read=${[dagsFolder, ...(permissions.read ?? [])].join(",")}`];
  if (permissions.net === true) flags.push("--allow-net");
  else if (permissions.net?.length) flags.push(`--allow-net=${permissions.net.join(",")}`);
  if (permissions.write?.length) flags.push(`--allow-write=${permissions.write.join(",")}`);
  const env = allowedEnv(permissions);
  if (env.length) flags.push(`--allow-env=${env.join(",")}`);
  if (permissions.run?.length) flags.push(`--allow-run=${permissions.run.join(",")}`);
  if (permissions.sys) flags.push("--allow-sys");
  return flags;
}

export function allowedEnv(permissions: Permissions): string[] {
  return (permissions.env ?? []).filter((name) => !PRIVATE_ENV.test(name));
}

/** The environment a runner starts with: only the variables the task may read. */
export function runnerEnv(
  permissions: Permissions,
  from: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of allowedEnv(permissions)) {
    if (from[name] !== undefined) env[name] = from[name];
  }
  return env;
}

/** Runners with the same key can run each other's tasks. */
export function permissionsKey(permissions: Permissions): string {
  const sorted = (list?: string[]) => (list ? [...list].sort() : []);
  return JSON.stringify([
    permissions.net === true ? true : sorted(permissions.net),
    sorted(permissions.read),
    sorted(permissions.write),
    sorted(permissions.env),
    sorted(permissions.run),
    permissions.sys ?? false,
  ]);
}
