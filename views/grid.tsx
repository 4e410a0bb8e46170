/**
 * The grid: recent runs as columns (oldest left), tasks as rows, each cell coloured by the
 * state of the task in that run and linking to it. It is its own htmx fragment: it polls its
 * DAG's address every 2 s while a run is active (every 10 s otherwise, to notice new runs) and
 * at once when a run is triggered from this page.
 *
 * With 200 tasks and 25 runs the grid has 5,000 cells, re-rendered whenever a state changes,
 * so each cell is one small element: rows are flex boxes of fixed-width cells rather than table
 * rows of table cells (half the elements), a cell carries only its state class and a link to
 * `/ti/<id>` (which redirects to the task instance's page) rather than its whole address, and
 * the rows are built as text (see `rowsHtml`).
 */
import type { GridCell, RunSummary } from "../db/ui_runs.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { ACTIVE_RUN_STATES, formatTime, stateClass, summarizeStates, urls } from "./format.ts";
import { escapeHtml } from "./html.ts";
import { type TaskRow, taskRows } from "./task_order.ts";

export interface GridProps {
  dagId: string;
  dag: SerializedDag;
  /** Newest first, as read. */
  runs: RunSummary[];
  /** By run id (the database's), each run's cells. */
  cells: Map<number, GridCell[]>;
}

export function Grid(props: GridProps) {
  const runs = [...props.runs].reverse();
  const byRun = runs.map((r) => new Map((props.cells.get(r.id) ?? []).map((c) => [c.taskId, c])));
  const rows = withRemovedTasks(taskRows(props.dag), byRun);
  const active = runs.some((r) => ACTIVE_RUN_STATES.has(r.state));
  return (
    <section
      id="grid"
      class="scroll"
      hx-get={urls.dag(props.dagId)}
      hx-trigger={`every ${active ? 2 : 10}s, runs-changed from:body`}
      hx-swap="outerHTML"
      data-active={active ? "true" : "false"}
    >
      {runs.length === 0
        ? <p class="muted">No runs yet.</p>
        : (
          <div class="grid" aria-label="Runs and task states">
            <div class="grow head">
              <span class="label" />
              {runs.map((r) => (
                <a
                  class="runcol"
                  href={urls.run(props.dagId, r.runId)}
                  title={`${r.runId}: ${r.state}`}
                  data-run-id={r.runId}
                >
                  <span class="runlabel">
                    {formatTime(r.logicalDate ?? r.runAfter).slice(5, 16)}
                  </span>
                  <span class={`runbar ${stateClass(r.state)}`} data-state={r.state} />
                </a>
              ))}
            </div>
            <div dangerouslySetInnerHTML={{ __html: rowsHtml(props.dagId, runs, rows, byRun) }} />
          </div>
        )}
      <Legend />
    </section>
  );
}

/**
 * The task rows as HTML text: with 5,000 cells as Preact elements a grid took about 7 ms to
 * render, with them as text about 1.5 ms. Every value from a DAG or the database goes through
 * `escapeHtml` (task ids and labels) or is a number or a class from a fixed list.
 */
function rowsHtml(
  dagId: string,
  runs: RunSummary[],
  rows: TaskRow[],
  byRun: Map<string, GridCell>[],
): string {
  let html = "";
  for (const row of rows) {
    const id = escapeHtml(row.id);
    const group = row.kind === "group";
    html += group ? `<div class="grow">` : `<div class="grow" data-task-id="${id}">`;
    html += `<span class="label${group ? " group" : ""} d${Math.min(row.depth, 4)}" title="${id}">${
      escapeHtml(group ? `▾ ${row.label}` : row.label)
    }</span>`;
    for (let i = 0; i < runs.length; i++) html += cellHtml(dagId, runs[i], row, byRun[i]);
    html += "</div>";
  }
  return html;
}

const EMPTY_CELL = `<span class="c empty"></span>`;

/**
 * One cell: its state is its class (the stylesheet derives the colour and the hover label from
 * it), and a task's cell links to its instance by id. Only mapped and group cells carry a title,
 * since theirs says more than the state.
 */
function cellHtml(dagId: string, run: RunSummary, row: TaskRow, cells: Map<string, GridCell>) {
  if (row.kind === "group") {
    const states = row.members.flatMap((m) => cells.get(m)?.state ?? []);
    if (states.length === 0) return EMPTY_CELL;
    const state = summarizeStates(states);
    return `<span class="c mapped ${stateClass(state)}" title="${escapeHtml(state)}"></span>`;
  }
  const cell = cells.get(row.id);
  if (!cell) return EMPTY_CELL;
  if (cell.mapped) {
    const href = escapeHtml(urls.ti(dagId, run.runId, row.id));
    const title = escapeHtml(`${cell.state} (${cell.mapped} mapped)`);
    return `<a class="c mapped ${stateClass(cell.state)}" href="${href}" title="${title}"></a>`;
  }
  return `<a class="c ${stateClass(cell.state)}" href="${urls.tiById(cell.tiId)}"></a>`;
}

/** Tasks that ran in a shown run but are gone from the latest version still get a row. */
function withRemovedTasks(rows: TaskRow[], byRun: Map<string, GridCell>[]): TaskRow[] {
  const known = new Set(rows.filter((r) => r.kind === "task").map((r) => r.id));
  const extra = new Set<string>();
  for (const cells of byRun) for (const id of cells.keys()) if (!known.has(id)) extra.add(id);
  return extra.size
    ? [
      ...rows,
      ...[...extra].sort().map((id): TaskRow => ({ kind: "task", id, label: id, depth: 0 })),
    ]
    : rows;
}

const LEGEND = [
  "success",
  "running",
  "queued",
  "scheduled",
  "up_for_retry",
  "failed",
  "upstream_failed",
  "skipped",
  "none",
];

function Legend() {
  return (
    <div class="legend" aria-hidden="true">
      {LEGEND.map((s) => (
        <span>
          <span class={`dot ${stateClass(s)}`} />
          {s}
        </span>
      ))}
    </div>
  );
}
