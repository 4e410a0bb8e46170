/** `gust db migrate`. */
import type { Config } from "../config.ts";
import { migrate } from "../db/migrate.ts";
import { openConfiguredDb } from "./dags.ts";

export async function dbMigrate(config: Config): Promise<number> {
  const db = await openConfiguredDb(config, { migrate: false, whenHeld: "stop it first" });
  try {
    const applied = await migrate(db);
    console.log(
      applied.length
        ? `Applied migration${applied.length > 1 ? "s" : ""} ${applied.join(", ")}`
        : "The database is up to date",
    );
    return 0;
  } finally {
    await db.close();
  }
}
