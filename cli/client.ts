/**
 * How commands that act on an installation reach it: through the running server's REST API
 * when one answers (the only way while it holds the embedded database), else through the same
 * API served in this process on the configured database.
 */
import type { Config } from "../config.ts";
import { createApp } from "../routes/mod.ts";
import { openConfiguredDb } from "./dags.ts";

/** The API's JSON, read by field name; its shapes are Airflow's, documented in routes/api.ts. */
// deno-lint-ignore no-explicit-any
export type ApiJson = any;

export interface ApiClient {
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: ApiJson }>;
  close(): Promise<void>;
  /** Where requests go, for messages. */
  target: string;
}

export async function connect(config: Config): Promise<ApiClient> {
  const remote = await fetch(`${config.apiUrl}/health`, { signal: AbortSignal.timeout(2000) })
    .then((r) => r.body?.cancel().then(() => r.ok))
    .catch(() => false);
  if (remote) {
    return {
      target: config.apiUrl,
      async request(method, path, body) {
        const res = await fetch(`${config.apiUrl}/api/v2${path}`, {
          method,
          headers: { "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: await res.json().catch(() => null) };
      },
      close: async () => {},
    };
  }
  const db = await openConfiguredDb(config);
  const app = createApp({ db, roles: [], startedAt: new Date() });
  return {
    target: config.databaseUrl
      ? "the database at DATABASE_URL"
      : `the embedded database in ${config.home}`,
    async request(method, path, body) {
      const res = await app.request(`/api/v2${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
    close: () => db.close(),
  };
}
