/**
 * The graph view: the DAG drawn as SVG on the server, nodes coloured by the states of the
 * selected run, task groups boxed. The fragment polls while the selected run is active.
 */
import type { RunSummary } from "../db/ui_runs.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { ACTIVE_RUN_STATES, stateClass, summarizeStates, urls } from "./format.ts";
import { layoutGraph, NODE_H, NODE_W } from "./graph_layout.ts";

export interface GraphProps {
  dagId: string;
  dag: SerializedDag;
  run: RunSummary | null;
  /** Per task, the states of its instances in the selected run. */
  states: Map<string, string[]>;
}

const MAX_LABEL = 24;

function shorten(text: string): string {
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

export function Graph(props: GraphProps) {
  const layout = layoutGraph(props.dag);
  const { run } = props;
  const active = run !== null && ACTIVE_RUN_STATES.has(run.state);
  const self = `${urls.dagTab(props.dagId, "graph")}${
    run ? `?run=${encodeURIComponent(run.runId)}` : ""
  }`;
  return (
    <section
      id="graph"
      class="graph"
      hx-get={active ? self : undefined}
      hx-trigger={active ? "every 2s" : undefined}
      hx-swap={active ? "outerHTML" : undefined}
    >
      <svg
        xmlns="http://www.w3.org/2000/svg"
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        role="img"
        aria-label={`Graph of ${props.dagId}`}
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto"
          >
            <path class="arrow" d="M0 0L10 5L0 10z" />
          </marker>
        </defs>
        {layout.groups.map((g) => (
          <g class="group" data-group-id={g.id}>
            <rect x={g.x} y={g.y} width={g.width} height={g.height} rx="8" />
            <text x={g.x + 8} y={g.y + 12}>{shorten(g.label)}</text>
          </g>
        ))}
        {layout.edges.map((e) => (
          <path
            class="edge"
            d={e.path}
            marker-end="url(#arrow)"
            data-from={e.from}
            data-to={e.to}
          />
        ))}
        {layout.nodes.map((n) => {
          const states = props.states.get(n.id);
          const state = run ? (states ? summarizeStates(states) : "none") : "none";
          const node = (
            <g
              class={`node ${stateClass(state)}`}
              transform={`translate(${n.x},${n.y})`}
              data-task-id={n.id}
              data-state={state}
            >
              <title>{run ? `${n.id}: ${state}` : n.id}</title>
              <rect width={NODE_W} height={NODE_H} rx="5" />
              <rect class="bar" width="6" height={NODE_H} rx="2" />
              <text x="14" y={NODE_H / 2 + 4}>{shorten(n.label)}</text>
            </g>
          );
          return run ? <a key={n.id} href={urls.ti(props.dagId, run.runId, n.id)}>{node}</a> : node;
        })}
      </svg>
    </section>
  );
}

/** The run picker above the graph: a plain GET form, which htmx turns into a swap on change. */
export function GraphRunPicker(
  props: { dagId: string; runs: RunSummary[]; selected: string | null },
) {
  const url = urls.dagTab(props.dagId, "graph");
  return (
    <form
      class="toolbar"
      method="get"
      action={url}
      hx-get={url}
      hx-target="#graph"
      hx-swap="outerHTML"
      hx-push-url="true"
      hx-trigger="change, submit"
    >
      <label>
        Run{" "}
        <select name="run">
          {props.runs.map((r) => (
            <option value={r.runId} selected={r.runId === props.selected}>
              {`${r.runId} (${r.state})`}
            </option>
          ))}
        </select>
      </label>
      <button type="submit">Show</button>
    </form>
  );
}
