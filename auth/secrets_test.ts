import assert from "node:assert/strict";
import {
  localCredentialPath,
  readLocalCredential,
  resolveSecretKey,
  writeLocalCredential,
} from "./secrets.ts";

Deno.test("the generated JWT key is made once, private, and the same for everyone after", async () => {
  const home = await Deno.makeTempDir({ prefix: "gust_home_" });
  try {
    const keys = await Promise.all(Array.from({ length: 5 }, () => resolveSecretKey(home, null)));
    assert.equal(new Set(keys).size, 1, "processes starting at once agree on one key");
    assert.ok(keys[0].length >= 60);
    assert.equal((await Deno.stat(`${home}/secret_key`)).mode! & 0o777, 0o600);
    assert.equal(await resolveSecretKey(home, null), keys[0], "a restart reads the same key");
    assert.equal(await resolveSecretKey(home, "configured-key"), "configured-key");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("the local credential is private, and its writer removes only its own", async () => {
  const home = await Deno.makeTempDir({ prefix: "gust_home_" });
  try {
    const first = await writeLocalCredential(home, { url: "http://a", token: "t1", pid: 1 });
    assert.equal((await Deno.stat(localCredentialPath(home))).mode! & 0o777, 0o600);
    assert.deepEqual(await readLocalCredential(home), { url: "http://a", token: "t1", pid: 1 });
    const second = await writeLocalCredential(home, { url: "http://a", token: "t2", pid: 2 });
    await first(); // the first server stops after the second started: the file is not its own
    assert.equal((await readLocalCredential(home))?.token, "t2");
    await second();
    assert.equal(await readLocalCredential(home), null);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
