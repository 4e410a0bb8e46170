/**
 * A run: its facts and conf, its task instances with state, tries, start, end and duration,
 * and a Gantt chart. `RunDetails` is the htmx fragment: it polls while the run is active and
 * is what the run's actions (clear, mark success or failed) answer with.
 */
import type { RunDetail, RunTaskRow } from "../db/ui_runs.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { DagLayout, type DagPageBase } from "./dag_header.tsx";
import {
  ACTIVE_RUN_STATES,
  elapsed,
  formatDuration,
  formatTime,
  stateClass,
  urls,
} from "./format.ts";
import { Facts, StateBadge } from "./layout.tsx";
import { taskRows } from "./task_order.ts";
import { useCan } from "./viewer.ts";

export interface RunDetailsProps extends DagPageBase {
  run: RunDetail;
  /** The DAG as the run's version defined it (tasks may have changed since). */
  runDag: SerializedDag;
  tis: RunTaskRow[];
  now: Date;
  notice?: string;
}

export function RunPage(props: RunDetailsProps) {
  return (
    <DagLayout {...props} tab="run" title={`${props.run.runId} · ${props.header.dagId}`}>
      <RunDetails {...props} />
    </DagLayout>
  );
}

export function RunDetails(props: RunDetailsProps) {
  const { run } = props;
  const dagId = props.header.dagId;
  const active = ACTIVE_RUN_STATES.has(run.state);
  const self = urls.run(dagId, run.runId);
  return (
    <section
      id="run-details"
      hx-get={active ? self : undefined}
      hx-trigger={active ? "every 2s" : undefined}
      hx-swap={active ? "outerHTML" : undefined}
      data-state={run.state}
    >
      <h2 class="break">
        Run <span id="run-id">{run.runId}</span> <StateBadge state={run.state} />
      </h2>
      {props.notice && <p class="notice ok" role="status">{props.notice}</p>}
      <Facts
        items={[
          ["Type", `${run.runType}${run.triggeredBy ? ` (by ${run.triggeredBy})` : ""}`],
          ["Logical date", formatTime(run.logicalDate)],
          [
            "Data interval",
            run.dataIntervalStart
              ? `${formatTime(run.dataIntervalStart)} → ${formatTime(run.dataIntervalEnd)}`
              : null,
          ],
          ["Queued", formatTime(run.queuedAt)],
          ["Start", formatTime(run.startDate)],
          ["End", formatTime(run.endDate)],
          ["Duration", formatDuration(elapsed(run.startDate, run.endDate, props.now))],
          [
            "DAG version",
            <a key="version" href={`${urls.dagTab(dagId, "code")}?version=${run.versionNumber}`}>
              v{run.versionNumber}
            </a>,
          ],
        ]}
      />
      <RunActions dagId={dagId} runId={run.runId} />
      <h2>Tasks</h2>
      <RunTasks {...props} />
      <h2>Gantt</h2>
      <Gantt tis={props.tis} now={props.now} dagId={dagId} runId={run.runId} />
      <h2>Conf</h2>
      <pre class="block" id="conf">{JSON.stringify(run.conf, null, 2)}</pre>
    </section>
  );
}

function RunActions(props: { dagId: string; runId: string }) {
  const base = urls.run(props.dagId, props.runId);
  const [clear, mark] = [useCan("clear"), useCan("mark")];
  if (!clear && !mark) return null;
  const action = (path: string, label: string, confirm: string, extra?: [string, string]) => (
    <form
      class="inline"
      method="post"
      action={`${base}/${path}`}
      hx-post={`${base}/${path}`}
      hx-target="#run-details"
      hx-swap="outerHTML"
      hx-confirm={confirm}
    >
      {extra && <input type="hidden" name={extra[0]} value={extra[1]} />}
      <button type="submit" class={path === "mark" && extra?.[1] === "failed" ? "danger" : ""}>
        {label}
      </button>
    </form>
  );
  return (
    <div class="actions" id="run-actions">
      {clear && action("clear", "Clear run", "Clear every task of this run and run it again?")}
      {mark && action("mark", "Mark success", "Mark this run and its unfinished tasks success?", [
        "state",
        "success",
      ])}
      {mark && action(
        "mark",
        "Mark failed",
        "Mark this run failed (running tasks fail, waiting ones skip)?",
        [
          "state",
          "failed",
        ],
      )}
    </div>
  );
}

function RunTasks(props: RunDetailsProps) {
  const byTask = new Map<string, RunTaskRow[]>();
  for (const ti of props.tis) byTask.set(ti.taskId, [...(byTask.get(ti.taskId) ?? []), ti]);
  const rows = taskRows(props.runDag);
  const listed = new Set(rows.map((r) => r.id));
  const gone = [...byTask.keys()].filter((id) => !listed.has(id)).sort();
  const dagId = props.header.dagId;
  const runId = props.run.runId;
  return (
    <div class="scroll">
      <table id="run-tasks">
        <thead>
          <tr>
            <th>Task</th>
            <th>State</th>
            <th>Tries</th>
            <th class="hide-narrow">Start</th>
            <th class="hide-narrow">End</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {[...rows, ...gone.map((id) => ({ kind: "task" as const, id, label: id, depth: 0 }))].map(
            (row) =>
              row.kind === "group"
                ? (
                  <tr class="group-row">
                    <td colSpan={6} class="muted">▾ {row.id}</td>
                  </tr>
                )
                : (byTask.get(row.id) ?? []).map((ti) => (
                  <tr
                    data-task-id={ti.taskId}
                    data-map-index={ti.mapIndex}
                    data-state={ti.state ?? "none"}
                  >
                    <td class="break">
                      <a href={urls.ti(dagId, runId, ti.taskId, ti.mapIndex)}>
                        {ti.taskId}
                        {ti.mapIndex >= 0 ? `[${ti.mapIndex}]` : ""}
                      </a>
                    </td>
                    <td>
                      <StateBadge state={ti.state} />
                    </td>
                    <td>{`${ti.tryNumber}/${ti.maxTries + 1}`}</td>
                    <td class="hide-narrow nowrap">{formatTime(ti.startDate)}</td>
                    <td class="hide-narrow nowrap">{formatTime(ti.endDate)}</td>
                    <td class="nowrap">
                      {formatDuration(
                        ti.durationMs ??
                          (ti.state === "running" ? elapsed(ti.startDate, null, props.now) : null),
                      )}
                    </td>
                  </tr>
                )),
          )}
        </tbody>
      </table>
    </div>
  );
}

const GANTT_LABEL = 200;
const GANTT_WIDTH = 900;
const GANTT_ROW = 18;

/** Bars from each instance's start to its end (or now), on one time axis for the run. */
export function Gantt(props: { tis: RunTaskRow[]; now: Date; dagId: string; runId: string }) {
  const started = props.tis.filter((t) => t.startDate).sort((a, b) =>
    a.startDate!.getTime() - b.startDate!.getTime() || a.taskId.localeCompare(b.taskId)
  );
  if (started.length === 0) return <p class="muted">No task has started yet.</p>;
  const t0 = started[0].startDate!.getTime();
  const t1 = Math.max(
    t0 + 1,
    ...started.map((t) => (t.endDate ?? props.now).getTime()),
  );
  const span = t1 - t0;
  const plot = GANTT_WIDTH - GANTT_LABEL - 10;
  const x = (t: number) => GANTT_LABEL + ((t - t0) / span) * plot;
  const height = started.length * GANTT_ROW + 24;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div class="scroll" id="gantt">
      <svg
        xmlns="http://www.w3.org/2000/svg"
        width={GANTT_WIDTH}
        height={height}
        viewBox={`0 0 ${GANTT_WIDTH} ${height}`}
        role="img"
        aria-label="Gantt chart of the run"
      >
        {ticks.map((f) => (
          <g>
            <line
              class="axis"
              x1={x(t0 + f * span)}
              x2={x(t0 + f * span)}
              y1="0"
              y2={height - 16}
            />
            <text
              class="tick"
              x={x(t0 + f * span)}
              y={height - 4}
              text-anchor={f === 1 ? "end" : "middle"}
            >
              {formatDuration(f * span) || "0"}
            </text>
          </g>
        ))}
        {started.map((ti, i) => {
          const y = i * GANTT_ROW + 2;
          const start = x(ti.startDate!.getTime());
          const end = x((ti.endDate ?? props.now).getTime());
          const name = `${ti.taskId}${ti.mapIndex >= 0 ? `[${ti.mapIndex}]` : ""}`;
          return (
            <a href={urls.ti(props.dagId, props.runId, ti.taskId, ti.mapIndex)}>
              <g class={stateClass(ti.state)} data-task-id={ti.taskId}>
                <title>
                  {`${name}: ${ti.state ?? "none"}, ${
                    formatDuration(elapsed(ti.startDate, ti.endDate, props.now))
                  }`}
                </title>
                <text x="0" y={y + 12}>{name.length > 28 ? `${name.slice(0, 27)}…` : name}</text>
                <rect
                  class="gantt-bar"
                  x={start}
                  y={y}
                  width={Math.max(2, end - start)}
                  height={GANTT_ROW - 5}
                  rx="2"
                />
              </g>
            </a>
          );
        })}
      </svg>
    </div>
  );
}
