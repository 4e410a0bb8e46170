/**
 * The page shell and the small pieces every page uses. No inline script or style: the
 * stylesheet and htmx are served from `/static/`, under a Content-Security-Policy that allows
 * nothing else.
 */
import type { ComponentChildren } from "preact";
import { CSS } from "./style.ts";
import { stateClass, urls } from "./format.ts";
import { useCan, useViewer } from "./viewer.ts";

/** A short content hash, so the stylesheet's address changes when it does and can be cached. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}

export const CSS_VERSION = fnv1a(CSS);
export const HTMX_VERSION = "2.0.11";

/**
 * htmx settings: no `eval` (the CSP forbids it anyway), no injected indicator styles (they are
 * in the stylesheet), and a 422 answer is swapped in, since that is how a form comes back with
 * its errors.
 */
const HTMX_CONFIG = JSON.stringify({
  allowEval: false,
  allowScriptTags: false,
  includeIndicatorStyles: false,
  historyCacheSize: 0,
  responseHandling: [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "422", swap: true },
    { code: "[45]..", swap: false, error: true },
  ],
});

export function Layout(props: { title: string; children: ComponentChildren }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <title>{`${props.title} · Gust`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={`/static/gust.css?v=${CSS_VERSION}`} />
        <script src={`/static/htmx.min.js?v=${HTMX_VERSION}`} defer />
      </head>
      <body>
        <TopBar />
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** The brand, the sections the viewer may open, and who they are, with a way out. */
function TopBar() {
  const viewer = useViewer();
  const admin: [boolean, string, string][] = [
    [useCan("users"), "/admin/users", "Users"],
    [useCan("tokens"), "/admin/tokens", "API tokens"],
    [useCan("audit"), "/admin/audit", "Audit log"],
  ];
  return (
    <header class="top">
      <a class="brand" href="/">Gust</a>
      {viewer && <a href="/">DAGs</a>}
      {viewer && <a href="/pools">Pools</a>}
      {admin.filter(([allowed]) => allowed).map(([, href, label]) => (
        <a key={href} href={href}>{label}</a>
      ))}
      {viewer && (
        <div class="who">
          <span id="viewer">
            {viewer.name} <span class="muted">({viewer.role})</span>
          </span>
          {viewer.hasSession && <a href="/account">Account</a>}
          {viewer.hasSession && (
            <form class="inline" method="post" action="/logout">
              <button type="submit" id="logout">Log out</button>
            </form>
          )}
        </div>
      )}
    </header>
  );
}

/** A coloured dot for a state; the state's name is its tooltip and its accessible name. */
export function StateDot(props: { state: string | null; href?: string; label?: string }) {
  const state = props.state ?? "none";
  const title = props.label ? `${props.label}: ${state}` : state;
  return props.href
    ? (
      <a
        class={`dot ${stateClass(state)}`}
        href={props.href}
        title={title}
        aria-label={title}
      />
    )
    : <span class={`dot ${stateClass(state)}`} title={title} role="img" aria-label={title} />;
}

export function StateBadge(props: { state: string | null }) {
  const state = props.state ?? "none";
  return <span class={`badge ${stateClass(state)}`} data-state={state}>{state}</span>;
}

/** Labelled facts in a row that wraps; an entry whose value is null or "" is left out. */
export function Facts(props: { items: [string, ComponentChildren][]; id?: string }) {
  return (
    <dl class="kv" id={props.id}>
      {props.items.filter(([, v]) => v !== null && v !== "" && v !== false).map(([k, v]) => (
        <div>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A labelled form field, with a line of help under it. */
export function FormField(
  props: { id: string; label: string; help?: string; children: ComponentChildren },
) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.help && <div class="help">{props.help}</div>}
    </div>
  );
}

/** Newer/older links for lists read one page at a time. */
export function Pager(
  props: { prev: string | null; next: string | null; label?: ComponentChildren },
) {
  if (!props.prev && !props.next && !props.label) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {props.prev ? <a href={props.prev} rel="prev">← Previous</a> : null}
      {props.label ? <span class="muted">{props.label}</span> : null}
      {props.next ? <a href={props.next} rel="next">Next →</a> : null}
    </nav>
  );
}

/** A page for a missing DAG, run or task instance. */
export function NotFoundPage(props: { message: string }) {
  return (
    <Layout title="Not found">
      <h1>Not found</h1>
      <p>{props.message}</p>
      <p>
        <a href={urls.dags()}>All DAGs</a>
      </p>
    </Layout>
  );
}
