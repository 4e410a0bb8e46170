/**
 * First start: with no user at all, a web server creates one Admin, `admin`, with a random
 * password, even when several web servers start at once on one database; with any user there,
 * it creates nothing.
 */
import assert from "node:assert/strict";
import { verifyPassword } from "../auth/password.ts";
import { createFirstAdmin } from "../routes/auth_setup.ts";
import { createTestUser, TEST_ITERATIONS } from "./auth_helpers.ts";
import { dbTest } from "./helpers.ts";

dbTest(
  "the first Admin is created once, however many web servers start at once",
  async (_t, db) => {
    const passwords = await Promise.all(
      Array.from({ length: 4 }, () => createFirstAdmin(db, TEST_ITERATIONS)),
    );
    const made = passwords.filter((p) => p !== null);
    assert.equal(made.length, 1, "one server prints a password; the others none");
    const users = await db.sql<{ username: string; role: string; hash: string }>`
    SELECT username, role, password_hash AS hash FROM app_user`;
    assert.deepEqual(users.map((u) => [u.username, u.role]), [["admin", "Admin"]]);
    assert.equal(await verifyPassword(made[0]!, users[0].hash), true);
    assert.equal(await createFirstAdmin(db, TEST_ITERATIONS), null, "a restart creates nothing");
  },
);

dbTest("a database with users gets no first Admin", async (_t, db) => {
  await createTestUser(db, "someone", "Viewer");
  assert.equal(await createFirstAdmin(db, TEST_ITERATIONS), null);
  const [{ n }] = await db.sql<{ n: number }>`SELECT count(*)::int AS n FROM app_user`;
  assert.equal(n, 1);
});
