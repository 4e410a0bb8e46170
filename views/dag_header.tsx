/** The top of every page about one DAG: its id, facts, paused switch, doc and tabs. */
import type { ComponentChildren } from "preact";
import type { DagHeader } from "../db/ui_dags.ts";
import type { SerializedDag } from "../sdk/serialize.ts";
import { formatTime, urls } from "./format.ts";
import { Layout } from "./layout.tsx";
import { PauseToggle } from "./pause_toggle.tsx";

export type DagTab = "grid" | "graph" | "runs" | "code" | "versions" | "run" | "task";

export interface DagPageBase {
  header: DagHeader;
  dag: SerializedDag;
}

const TABS: [Exclude<DagTab, "run" | "task">, string][] = [
  ["grid", "Grid"],
  ["graph", "Graph"],
  ["runs", "Runs"],
  ["code", "Code"],
  ["versions", "Versions"],
];

export function DagLayout(
  props: DagPageBase & { tab: DagTab; title?: string; children: ComponentChildren },
) {
  const { header, dag } = props;
  return (
    <Layout title={props.title ?? header.dagId}>
      <div class="dag-head">
        <h1 id="dag-id">
          <a href={urls.dag(header.dagId)}>{header.dagId}</a>
        </h1>
        <PauseToggle
          dagId={header.dagId}
          isPaused={header.isPaused}
          back={urls.dag(header.dagId)}
        />
      </div>
      {dag.description && <p class="muted description">{dag.description}</p>}
      <div class="facts">
        <div>
          <span>Schedule</span>
          <code>{dag.schedule ?? "None"}</code>
          {dag.schedule && dag.timezone !== "UTC" ? ` (${dag.timezone})` : ""}
        </div>
        {header.nextRunAfter && dag.schedule && (
          <div>
            <span>Next run</span>
            {formatTime(header.nextRunAfter)}
          </div>
        )}
        <div>
          <span>Version</span>v{header.latestVersionNumber}
        </div>
        <div class="break">
          <span>File</span>
          {header.fileloc}
        </div>
        {dag.tags.length > 0 && (
          <div>
            {dag.tags.map((t) => <a key={t} class="tag" href={urls.dags({ tag: t })}>{t}</a>)}
          </div>
        )}
      </div>
      {!header.isActive && (
        <p class="notice error">This DAG is no longer defined by its file; its history stays.</p>
      )}
      {dag.doc && (
        <details class="panel doc">
          <summary>Documentation</summary>
          <pre class="block">{dag.doc}</pre>
        </details>
      )}
      <nav class="tabs" aria-label="DAG views">
        {TABS.map(([tab, label]) => (
          <a
            href={tab === "grid" ? urls.dag(header.dagId) : urls.dagTab(header.dagId, tab)}
            aria-current={props.tab === tab ? "page" : undefined}
          >
            {label}
          </a>
        ))}
      </nav>
      {props.children}
    </Layout>
  );
}
