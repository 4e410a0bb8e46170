import assert from "node:assert/strict";
import { dbTest, startEngine, taskStates } from "./helpers.ts";

dbTest("the example ETL runs to success", async (_t, db) => {
  const engine = await startEngine(db, new URL("../dags", import.meta.url).pathname);
  try {
    const { dagRunId, state } = await engine.run("example_etl");
    assert.equal(state, "success");
    assert.deepEqual(await taskStates(db, dagRunId), {
      extract: "success",
      load: "success",
      transform: "success",
    });
  } finally {
    await engine.close();
  }
});
