/**
 * What the grid shows, read for `conditional` (see cache.ts): its change marker, shared by
 * requests that arrive together, and its cells, kept per run between renders. A grid of 25 runs
 * usually has one run or none still moving, so a render after a change reads the cells of the
 * runs whose instances changed (about 1 ms for 200 tasks) instead of all 5,000 (7 to 10 ms).
 */
import type { Sql } from "../../db/client.ts";
import {
  type GridCell,
  gridCells,
  type GridMarker,
  gridMarker,
  listRecentRuns,
  type RunSummary,
} from "../../db/ui_runs.ts";
import type { DagPageBase } from "../../views/dag_header.tsx";
import { STATE_PRIORITY } from "../../views/format.ts";
import type { GridProps } from "../../views/grid.tsx";
import { type Marked, marked, markerOf } from "./cache.ts";
import { coalesce } from "./coalesce.ts";
import type { UiContext } from "./common.tsx";

/** Runs shown as the grid's columns and offered by the graph's run picker. */
export const GRID_RUNS = 25;

/** The grid's change marker; null when the DAG does not exist. */
export function readGridMarker(c: UiContext): Promise<Marked<GridMarker> | null> {
  const { db } = c.get("deps");
  const dagId = c.req.param("dagId")!;
  return coalesce(
    db.sql,
    `grid:${dagId}`,
    () => gridMarker(db.sql, dagId, GRID_RUNS).then(marked),
  );
}

/**
 * The grid's props. Behind `conditional`, cells kept from an earlier render are used for every
 * run whose instances have the same marker still; elsewhere (a form sent back with its errors),
 * all are read.
 */
export async function gridProps(c: UiContext, base: DagPageBase): Promise<GridProps> {
  const { db } = c.get("deps");
  const dagId = base.header.dagId;
  const marker = markerOf<GridMarker>(c);
  const { runs } = await listRecentRuns(db.sql, dagId, GRID_RUNS);
  const cells = marker
    ? await keptCells(db.sql, runs, marker)
    : await gridCells(db.sql, runs.map((r) => r.id), STATE_PRIORITY);
  return { dagId, dag: base.dag, runs, cells };
}

interface Kept {
  tis: string;
  cells: GridCell[];
}

/** About 100,000 cells at most (each run of a mapped task is a few cells, however wide). */
const KEPT_RUNS = 500;

// Per database, like the page cache.
const keptByDb = new WeakMap<Map<string, unknown>, Map<number, Kept>>();

/**
 * Cells read after the marker are at least as new as it, so keeping them under the marker's
 * value never serves older cells for it: a later change moves the marker, and the next render
 * reads that run again.
 */
async function keptCells(
  sql: Sql,
  runs: RunSummary[],
  marker: GridMarker,
): Promise<Map<number, GridCell[]>> {
  let kept = keptByDb.get(sql.cache);
  if (!kept) keptByDb.set(sql.cache, kept = new Map());
  const markers = new Map(marker.runs.map((r) => [r.id, r.tis]));
  const cells = new Map<number, GridCell[]>();
  const missing: number[] = [];
  for (const run of runs) {
    const hit = kept.get(run.id);
    if (hit && hit.tis === markers.get(run.id)) {
      kept.delete(run.id); // least recently used first out
      kept.set(run.id, hit);
      cells.set(run.id, hit.cells);
    } else {
      missing.push(run.id);
    }
  }
  if (missing.length === 0) return cells;
  const read = await gridCells(sql, missing, STATE_PRIORITY);
  for (const id of missing) {
    const runCells = read.get(id) ?? [];
    cells.set(id, runCells);
    const tis = markers.get(id);
    kept.delete(id);
    // A run newer than the marker has no marker value to keep its cells under.
    if (tis !== undefined) kept.set(id, { tis, cells: runCells });
  }
  for (const id of kept.keys()) {
    if (kept.size <= KEPT_RUNS) break;
    kept.delete(id);
  }
  return cells;
}
