/** The tabs of a DAG: grid (with the trigger form), graph, runs, code and versions. */
import type { RunSummary } from "../db/ui_runs.ts";
import type { VersionListItem, VersionSource } from "../db/ui_dags.ts";
import { DagLayout, type DagPageBase } from "./dag_header.tsx";
import { elapsed, formatDuration, formatTime, urls } from "./format.ts";
import { Graph, type GraphProps, GraphRunPicker } from "./graph.tsx";
import { Grid, type GridProps } from "./grid.tsx";
import { Pager, StateBadge } from "./layout.tsx";
import { TriggerForm, type TriggerFormProps } from "./trigger_form.tsx";
import { useCan } from "./viewer.ts";

export function GridPage(
  props: DagPageBase & { grid: GridProps; trigger: TriggerFormProps; triggerOpen: boolean },
) {
  return (
    <DagLayout {...props} tab="grid">
      {useCan("trigger") && (
        <details class="panel" id="trigger" open={props.triggerOpen}>
          <summary>Trigger a run</summary>
          <TriggerForm {...props.trigger} />
        </details>
      )}
      <Grid {...props.grid} />
    </DagLayout>
  );
}

export function GraphPage(props: DagPageBase & { graph: GraphProps; runs: RunSummary[] }) {
  return (
    <DagLayout {...props} tab="graph" title={`${props.header.dagId}: graph`}>
      {props.runs.length > 0 && (
        <GraphRunPicker
          dagId={props.header.dagId}
          runs={props.runs}
          selected={props.graph.run?.runId ?? null}
        />
      )}
      <Graph {...props.graph} />
    </DagLayout>
  );
}

export const RUNS_PER_PAGE = 25;

export function RunsPage(
  props: DagPageBase & { runs: RunSummary[]; page: number; more: boolean },
) {
  const dagId = props.header.dagId;
  const at = (page: number) => `${urls.dagTab(dagId, "runs")}${page > 1 ? `?page=${page}` : ""}`;
  return (
    <DagLayout {...props} tab="runs" title={`${dagId}: runs`}>
      <div class="scroll">
        <table id="runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>State</th>
              <th class="hide-narrow">Type</th>
              <th>Logical date</th>
              <th class="hide-narrow">Start</th>
              <th class="hide-narrow">End</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {props.runs.map((r) => (
              <tr data-run-id={r.runId}>
                <td class="break">
                  <a href={urls.run(dagId, r.runId)}>{r.runId}</a>
                </td>
                <td>
                  <StateBadge state={r.state} />
                </td>
                <td class="hide-narrow">{r.runType}</td>
                <td class="nowrap">{formatTime(r.logicalDate)}</td>
                <td class="hide-narrow nowrap">{formatTime(r.startDate)}</td>
                <td class="hide-narrow nowrap">{formatTime(r.endDate)}</td>
                <td class="nowrap">{formatDuration(elapsed(r.startDate, r.endDate))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {props.runs.length === 0 && <p class="muted">No runs.</p>}
      <Pager
        prev={props.page > 1 ? at(props.page - 1) : null}
        next={props.more ? at(props.page + 1) : null}
        label={`page ${props.page}`}
      />
    </DagLayout>
  );
}

export function CodePage(props: DagPageBase & { version: VersionSource }) {
  const v = props.version;
  return (
    <DagLayout {...props} tab="code" title={`${props.header.dagId}: code`}>
      <p class="muted">
        {v.fileloc} · version {v.versionNumber} · parsed {formatTime(v.createdAt)}
        {v.versionNumber !== props.header.latestVersionNumber && (
          <>
            {" · "}
            <a href={urls.dagTab(props.header.dagId, "code")}>latest version</a>
          </>
        )}
      </p>
      <pre class="block" id="source"><code>{v.source}</code></pre>
    </DagLayout>
  );
}

export function VersionsPage(props: DagPageBase & { versions: VersionListItem[] }) {
  const dagId = props.header.dagId;
  return (
    <DagLayout {...props} tab="versions" title={`${dagId}: versions`}>
      <div class="scroll">
        <table id="versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>Parsed</th>
              <th class="hide-narrow">Hash</th>
              <th class="hide-narrow">File</th>
            </tr>
          </thead>
          <tbody>
            {props.versions.map((v) => (
              <tr data-version={v.versionNumber}>
                <td>
                  <a href={`${urls.dagTab(dagId, "code")}?version=${v.versionNumber}`}>
                    v{v.versionNumber}
                  </a>
                  {v.id === props.header.latestVersionId
                    ? <span class="muted">(latest)</span>
                    : null}
                </td>
                <td class="nowrap">{formatTime(v.createdAt)}</td>
                <td class="hide-narrow">
                  <code>{v.hash.slice(0, 12)}</code>
                </td>
                <td class="hide-narrow break">{v.fileloc}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </DagLayout>
  );
}
