/**
 * The dashboard's kept pages and ETags are per viewer: a page rendered for one user is never
 * answered to another, nor confirmed with a 304 to them, since the header names the viewer and a
 * Viewer's page has no action buttons.
 */
import assert from "node:assert/strict";
import { urls } from "../views/format.ts";
import { createTestToken } from "./auth_helpers.ts";
import { dbTest } from "./helpers.ts";
import { addRun, fetchCopy } from "./ui_cache_helpers.ts";
import { fakeDag, storeFakeDag, testApp } from "./ui_helpers.ts";

dbTest("a page kept for one user is neither served nor confirmed to another", async (_t, db) => {
  const dag = fakeDag("shared", { schedule: "@daily" });
  await storeFakeDag(db, dag);
  await addRun(db, dag, "r1", new Date(Date.UTC(2025, 0, 1)));
  const app = testApp(db);
  const ada = { authorization: `Bearer ${await createTestToken(db, "ada", "User")}` };
  const vic = { authorization: `Bearer ${await createTestToken(db, "vic", "Viewer")}` };
  for (const path of ["/", urls.dag("shared")]) {
    const asUser = await fetchCopy(app, path, ada); // rendered and kept first
    const asViewer = await fetchCopy(app, path, vic);
    assert.notEqual(asUser.etag, asViewer.etag, `${path}: one ETag per viewer`);
    assert.match(asUser.html, /\bada\b/);
    assert.doesNotMatch(asViewer.html, /\bada\b/, `${path}: the User's page is not the Viewer's`);
    assert.match(asViewer.html, /\bvic\b/);
    const revalidated = await app.request(path, {
      headers: { ...vic, "If-None-Match": asUser.etag },
    });
    assert.equal(
      revalidated.status,
      200,
      `${path}: the User's copy is not confirmed to the Viewer`,
    );
    await revalidated.body?.cancel();
  }
  const list = (await fetchCopy(app, "/", vic)).doc;
  assert.equal(list.querySelector("button[role=switch]"), null, "no pause switch for a Viewer");
  assert.ok((await fetchCopy(app, "/", ada)).doc.querySelector("button[role=switch]"));
});
