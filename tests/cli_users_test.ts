/**
 * `gust users` and `gust tokens` as processes, on an embedded database no server holds (the
 * CLI serves the API in its own process, as trusted local access): passwords from stdin or
 * generated and printed once, role changes, resets, deactivation, tokens shown once and
 * revoked, bad input exiting 2 with the reason, and the audit log naming the CLI.
 */
import assert from "node:assert/strict";
import { verifyPassword } from "../auth/password.ts";
import { openDb } from "../db/open.ts";
import { runGust, withEmbeddedHome } from "./cli_helpers.ts";

const gust = runGust;

Deno.test({
  name: "gust users and gust tokens as processes",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    let generated = "";
    await withEmbeddedHome(async (env, home) => {
      await t.step("users create reads a password from stdin, and prints none", async () => {
        const r = await gust(
          env,
          ["users", "create", "--username", "ada", "--role", "User", "--password-stdin"],
          "a password from stdin\n",
        );
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "Created ada (User)");
      });

      await t.step(
        "without --password-stdin, a password is generated and printed once",
        async () => {
          const r = await gust(env, ["users", "create", "--username", "bob", "--role", "Viewer"]);
          assert.equal(r.code, 0, r.stderr);
          generated = /Password \(shown only now\): (\S+)/.exec(r.stdout)![1];
          assert.match(generated, /^[A-Za-z0-9_-]{24}$/);
        },
      );

      await t.step("users list, set-role, reset-password and deactivate", async () => {
        const list = await gust(env, ["users", "list", "--json"]);
        assert.equal(list.code, 0, list.stderr);
        assert.deepEqual(
          JSON.parse(list.stdout).map((
            u: { username: string; role: string },
          ) => [u.username, u.role]),
          [["ada", "User"], ["bob", "Viewer"]],
        );
        assert.ok(!list.stdout.includes(generated));
        const role = await gust(env, ["users", "set-role", "--username", "bob", "--role", "Op"]);
        assert.equal(role.stdout.trim(), "Changed bob (Op)");
        const reset = await gust(env, ["users", "reset-password", "--username", "bob"]);
        assert.equal(reset.code, 0, reset.stderr);
        const fresh = /Password \(shown only now\): (\S+)/.exec(reset.stdout)![1];
        assert.notEqual(fresh, generated);
        generated = fresh;
        const off = await gust(env, ["users", "deactivate", "--username", "bob"]);
        assert.equal(off.stdout.trim(), "Deactivated bob (Op, deactivated)");
        const table = await gust(env, ["users", "list"]);
        assert.match(table.stdout, /bob\s+Op\s+no/);
      });

      await t.step("bad input exits 2 and names what was wrong", async () => {
        const cases: [string[], RegExp][] = [
          [
            ["users", "create", "--username", "x", "--role", "Root"],
            /--role must be one of Viewer, User, Op, Admin, not "Root"/,
          ],
          [["users", "create", "--role", "User"], /Missing --username/],
          [
            ["users", "create", "--username", "no spaces allowed", "--role", "User"],
            /username: A username is 1 to 64/,
          ],
          [["users", "create", "--username", "ADA", "--role", "User"], /User "ADA" already exists/],
          [
            ["users", "set-role", "--username", "nobody", "--role", "User"],
            /User "nobody" does not exist/,
          ],
          [["users", "fly"], /Unknown command "users fly"/],
          [["tokens", "revoke", "abc"], /Usage: gust tokens revoke <token_id>/],
        ];
        for (const [args, message] of cases) {
          const r = await gust(env, args);
          assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}`);
          assert.match(r.stderr, message, args.join(" "));
        }
        const empty = await gust(env, [
          "users",
          "reset-password",
          "--username",
          "ada",
          "--password-stdin",
        ], "");
        assert.equal(empty.code, 2);
        assert.match(empty.stderr, /--password-stdin read an empty password/);
      });

      let tokenId = "";
      await t.step(
        "tokens create prints the token once; list never shows it; revoke ends it",
        async () => {
          const made = await gust(env, [
            "tokens",
            "create",
            "--name",
            "ci",
            "--role",
            "User",
            "--expires-in-days",
            "30",
          ]);
          assert.equal(made.code, 0, made.stderr);
          const token = /Token \(shown only now\): (gust_\S+)/.exec(made.stdout)![1];
          tokenId = /Created token (\d+) "ci" \(User\)/.exec(made.stdout)![1];
          const list = await gust(env, ["tokens", "list", "--json"]);
          assert.ok(!list.stdout.includes(token));
          assert.equal(JSON.parse(list.stdout)[0].name, "ci");
          const revoked = await gust(env, ["tokens", "revoke", tokenId]);
          assert.equal(revoked.stdout.trim(), `Revoked token ${tokenId} "ci"`);
          const again = await gust(env, ["tokens", "revoke", tokenId]);
          assert.equal(again.code, 2);
          assert.match(again.stderr, new RegExp(`There is no live API token ${tokenId}`));
        },
      );

      await t.step(
        "what the commands stored: hashes that verify, and the CLI in the audit log",
        async () => {
          const db = await openDb({ dataDir: `${home}/db` }, { migrate: false });
          try {
            const users = await db.sql<{ username: string; hash: string; active: boolean }>`
            SELECT username, password_hash AS hash, is_active AS active FROM app_user ORDER BY id`;
            assert.equal(await verifyPassword("a password from stdin", users[0].hash), true);
            assert.match(users[0].hash, /^pbkdf2_sha256\$600000\$/, "the full iteration count");
            assert.equal(await verifyPassword(generated, users[1].hash), true);
            assert.equal(users[1].active, false);
            const audit = await db.sql<{ event: string; owner: string; actor: string }>`
            SELECT event, owner, actor FROM audit_log ORDER BY id`;
            assert.deepEqual(audit.map((a) => a.event), [
              "user_create",
              "user_create",
              "user_role_change",
              "user_password_reset",
              "user_deactivate",
              "token_create",
              "token_revoke",
            ]);
            assert.ok(audit.every((a) => a.owner === "cli" && a.actor === "cli"));
          } finally {
            await db.close();
          }
        },
      );
    });
  },
});
