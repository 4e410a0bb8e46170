/**
 * How commands that act on an installation reach it: through the running server's REST API
 * when one answers (the only way while it holds the embedded database), else through the same
 * API served in this process on the configured database.
 *
 * Credentials for a server: GUST_API_TOKEN when set (an API token, or a JWT), else the local
 * credential the server wrote into GUST_HOME at start (readable only by the account running
 * it, like the embedded database beside it), sent only to the address it was written for.
 * In this process (no server) there is nothing to prove: whoever can open the database may
 * change it anyway, so the in-process API is called with a credential made up for the call.
 */
import {
  LOCAL_TOKEN_PREFIX,
  localCredentialPath,
  randomToken,
  readLocalCredential,
} from "../auth/secrets.ts";
import type { Config } from "../config.ts";
import { authSettings } from "../routes/auth_setup.ts";
import { createApp } from "../routes/mod.ts";
import { openConfiguredDb } from "./dags.ts";
import { UsageError } from "./output.ts";

/** The API's JSON, read by field name; its shapes are Airflow's, documented in routes/api.ts. */
// deno-lint-ignore no-explicit-any
export type ApiJson = any;

export type Answer = { status: number; body: ApiJson };

export interface ApiClient {
  /** A request to `/api/v2<path>`. */
  request(method: string, path: string, body?: unknown): Promise<Answer>;
  /** A request to `<path>` under the server's root, such as `/auth/users`. */
  call(method: string, path: string, body?: unknown): Promise<Answer>;
  close(): Promise<void>;
  /** Where requests go, for messages. */
  target: string;
}

/** The credential for the server at `config.apiUrl`, and what it is, for messages. */
async function credential(config: Config): Promise<{ token: string; source: string } | null> {
  if (config.apiToken) return { token: config.apiToken, source: "GUST_API_TOKEN" };
  const local = await readLocalCredential(config.home);
  if (local && local.url === config.apiUrl) {
    return {
      token: local.token,
      source: `the local credential ${localCredentialPath(config.home)}`,
    };
  }
  return null;
}

function refusal(config: Config, status: number, detail: unknown, source: string | null): string {
  const why = typeof detail === "string" ? detail : `HTTP ${status}`;
  if (status === 403) {
    return `The server at ${config.apiUrl} refused: the role of ${source} does not allow this (${why})`;
  }
  if (source) return `The server at ${config.apiUrl} refused ${source}: ${why}`;
  return `The server at ${config.apiUrl} needs credentials: set GUST_API_TOKEN to an API token ` +
    `(an Admin creates one under API tokens, or with "gust tokens create"), or run the CLI as ` +
    `the account that runs the server, with the same GUST_HOME`;
}

export async function connect(config: Config): Promise<ApiClient> {
  const remote = await fetch(`${config.apiUrl}/health`, { signal: AbortSignal.timeout(2000) })
    .then((r) => r.body?.cancel().then(() => r.ok))
    .catch(() => false);
  if (remote) {
    const cred = await credential(config);
    const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
      const res = await fetch(`${config.apiUrl}${path}`, {
        method,
        headers: {
          "content-type": "application/json",
          ...(cred ? { authorization: `Bearer ${cred.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = await res.json().catch(() => null);
      if (res.status === 401 || res.status === 403) {
        throw new UsageError(refusal(config, res.status, json?.detail, cred?.source ?? null));
      }
      return { status: res.status, body: json };
    };
    return {
      target: config.apiUrl,
      request: (method, path, body) => call(method, `/api/v2${path}`, body),
      call,
      close: async () => {},
    };
  }
  const db = await openConfiguredDb(config);
  const localToken = randomToken(LOCAL_TOKEN_PREFIX);
  const app = createApp({
    db,
    roles: [],
    startedAt: new Date(),
    auth: authSettings(config, { secretKey: randomToken(""), localToken }),
  });
  const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const res = await app.request(path, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${localToken}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  return {
    target: config.databaseUrl
      ? "the database at DATABASE_URL"
      : `the embedded database in ${config.home}`,
    request: (method, path, body) => call(method, `/api/v2${path}`, body),
    call,
    close: () => db.close(),
  };
}
