/** The DAG list: every active DAG with its schedule, tags and recent runs; import errors first. */
import type { ImportError } from "../db/dags.ts";
import { Layout, StateDot } from "./layout.tsx";

export interface DagListItem {
  dagId: string;
  description: string | null;
  schedule: string | null;
  tags: string[];
  isPaused: boolean;
  recentRuns: { runId: string; state: string }[];
}

export function DagsPage(props: { dags: DagListItem[]; importErrors: ImportError[] }) {
  return (
    <Layout title="DAGs">
      {props.importErrors.length > 0 && (
        <section class="banner" id="import-errors">
          <strong>{props.importErrors.length} DAG file(s) failed to import</strong>
          {props.importErrors.map((e) => (
            <div class="import-error">
              <pre><b>{e.filename}</b>: {e.message}</pre>
            </div>
          ))}
        </section>
      )}
      <table id="dags">
        <thead>
          <tr>
            <th>DAG</th>
            <th>Schedule</th>
            <th>Tags</th>
            <th>Recent runs</th>
            <th>Paused</th>
          </tr>
        </thead>
        <tbody>
          {props.dags.map((dag) => (
            <tr data-dag-id={dag.dagId}>
              <td>
                <strong>{dag.dagId}</strong>
                {dag.description && <div class="muted">{dag.description}</div>}
              </td>
              <td>
                <code>{dag.schedule ?? "None"}</code>
              </td>
              <td>{dag.tags.map((t) => <span class="tag">{t}</span>)}</td>
              <td>{dag.recentRuns.map((r) => <StateDot state={r.state} />)}</td>
              <td>{dag.isPaused ? "yes" : "no"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.dags.length === 0 && <p class="muted">No DAGs yet: add a file to the DAG folder.</p>}
    </Layout>
  );
}
