/**
 * A task's declared permissions become the flags of the runner process it runs in. The runner
 * gets nothing else: no network, no files but the DAG folder (to import the task's own code) and
 * what the task lists, and an environment of only the variables the task declares and Deno's
 * settings for loading modules.
 */
import type { Permissions } from "../sdk/types.ts";

/** Gust's own settings never reach task code, even when a task asks for them by name. */
const PRIVATE_ENV = /^(DATABASE_URL|GUST_.*|REDIS_.*|UPSTASH_.*|PG.*|DENO_AUTH_TOKENS)$/;

/**
 * Deno's own settings for fetching modules and making requests: a proxy, an extra certificate
 * authority, a registry and its tokens. A runner's Deno needs them to load a module it has not
 * cached (a DAG's npm import, or a package's registry entry, which `--no-lock` asks for), and a
 * task's `fetch` uses the proxy. Task code still reads only the variables it declares.
 */
const MODULE_LOADING_ENV = [
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "NODE_EXTRA_CA_CERTS",
  "DENO_AUTH_TOKENS",
  "NPM_CONFIG_REGISTRY",
];

/** The module-loading settings (see MODULE_LOADING_ENV) set in `from`. */
export function moduleLoadingEnv(from: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of MODULE_LOADING_ENV) {
    if (from[name] !== undefined) env[name] = from[name]!;
  }
  return env;
}

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
