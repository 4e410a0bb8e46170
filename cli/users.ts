/**
 * `gust users ...` and `gust tokens ...`: users and API tokens, through the running server when
 * one answers (with the local credential, as an Admin) or on the configured database. A
 * password is read from stdin with `--password-stdin`, never from an argument (arguments show
 * in `ps` and shell history); without it one is generated and printed once.
 */
import { isUserRole, ROLES } from "../auth/roles.ts";
import type { Config } from "../config.ts";
import type { ApiJson } from "./client.ts";
import type { CliOptions } from "./mod.ts";
import { check, withClient } from "./ops.ts";
import { printJson, printTable, UsageError } from "./output.ts";

const enc = encodeURIComponent;

function roleOption(value: string | undefined): string {
  if (!value) throw new UsageError(`Missing --role (one of ${ROLES.join(", ")})`);
  if (!isUserRole(value)) {
    throw new UsageError(`--role must be one of ${ROLES.join(", ")}, not "${value}"`);
  }
  return value;
}

function usernameOption(value: string | undefined): string {
  if (!value) throw new UsageError("Missing --username");
  return value;
}

/** The whole of stdin without its final line break: a password piped or typed, then Ctrl-D. */
export async function readPasswordStdin(stdin: ReadableStream<Uint8Array> = Deno.stdin.readable) {
  const text = await new Response(stdin).text();
  const password = text.replace(/\r?\n$/, "");
  if (!password) throw new UsageError("--password-stdin read an empty password");
  return password;
}

function printUser(user: ApiJson, opts: CliOptions, verb: string): void {
  if (opts.json) {
    printJson(user);
    return;
  }
  console.log(`${verb} ${user.username} (${user.role}${user.is_active ? "" : ", deactivated"})`);
  if (user.password) console.log(`Password (shown only now): ${user.password}`);
}

export async function usersCommand(
  config: Config,
  command: string,
  opts: CliOptions,
): Promise<number> {
  const password = opts["password-stdin"] ? await readPasswordStdin() : undefined;
  return await withClient(config, async (client) => {
    const patch = async (body: Record<string, unknown>, verb: string) => {
      const username = usernameOption(opts.username);
      printUser(
        check(await client.call("PATCH", `/auth/users/${enc(username)}`, body)),
        opts,
        verb,
      );
      return 0;
    };
    switch (command) {
      case "create": {
        const body = {
          username: usernameOption(opts.username),
          role: roleOption(opts.role),
          password,
        };
        printUser(check(await client.call("POST", "/auth/users", body)), opts, "Created");
        return 0;
      }
      case "list": {
        const { users } = check(await client.call("GET", "/auth/users"));
        if (opts.json) {
          printJson(users);
          return 0;
        }
        printTable([
          ["username", "role", "active", "last_login"],
          ...users.map((
            u: ApiJson,
          ) => [u.username, u.role, u.is_active ? "yes" : "no", u.last_login_at ?? "never"]),
        ]);
        return 0;
      }
      case "set-role":
        return await patch({ role: roleOption(opts.role) }, "Changed");
      case "reset-password":
        return await patch(password ? { password } : { reset_password: true }, "New password for");
      case "deactivate":
        return await patch({ is_active: false }, "Deactivated");
      case "activate":
        return await patch({ is_active: true }, "Activated");
      default:
        throw new UsageError(`Unknown command "users ${command}"`);
    }
  });
}

export async function tokensCommand(
  config: Config,
  command: string,
  rest: string[],
  opts: CliOptions,
): Promise<number> {
  return await withClient(config, async (client) => {
    switch (command) {
      case "create": {
        if (!opts.name) throw new UsageError("Missing --name");
        const days = opts["expires-in-days"] === undefined ? null : Number(opts["expires-in-days"]);
        if (days !== null && (!Number.isInteger(days) || days < 1)) {
          throw new UsageError("--expires-in-days must be a positive integer");
        }
        const token = check(
          await client.call("POST", "/auth/tokens", {
            name: opts.name,
            role: roleOption(opts.role),
            expires_in_days: days,
          }),
        );
        if (opts.json) {
          printJson(token);
          return 0;
        }
        console.log(`Created token ${token.token_id} "${token.name}" (${token.role})`);
        console.log(`Token (shown only now): ${token.token}`);
        return 0;
      }
      case "list": {
        const { tokens } = check(await client.call("GET", "/auth/tokens"));
        if (opts.json) {
          printJson(tokens);
          return 0;
        }
        printTable([
          ["id", "name", "role", "prefix", "last_used", "status"],
          ...tokens.map((t: ApiJson) => [
            String(t.token_id),
            t.name,
            t.role,
            t.prefix,
            t.last_used_at ?? "never",
            t.revoked_at ? "revoked" : "live",
          ]),
        ]);
        return 0;
      }
      case "revoke": {
        const id = rest[0];
        if (!id || !/^\d+$/.test(id)) throw new UsageError("Usage: gust tokens revoke <token_id>");
        const token = check(await client.call("DELETE", `/auth/tokens/${id}`));
        if (opts.json) {
          printJson(token);
          return 0;
        }
        console.log(`Revoked token ${token.token_id} "${token.name}"`);
        return 0;
      }
      default:
        throw new UsageError(`Unknown command "tokens ${command}"`);
    }
  });
}
