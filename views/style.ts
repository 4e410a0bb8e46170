/**
 * The dashboard's one stylesheet, served as `/static/gust.css` (no build step). Light and dark
 * follow the system; narrow screens get one column and scrolling tables. Colours are classes,
 * never inline styles, so the Content-Security-Policy can forbid inline styles altogether.
 */
export const CSS = `
:root { color-scheme: light dark;
  --fg: #1d2330; --muted: #667085; --bg: #fff; --panel: #f8f9fb; --line: #e4e7ec; --link: #175cd3;
  --accent: #175cd3; --danger: #d92d20; --focus: #84adff;
  --c-success: #12b76a; --c-failed: #f04438; --c-running: #2e90fa; --c-queued: #98a2b3;
  --c-scheduled: #c9b38f; --c-up_for_retry: #fdb022; --c-up_for_reschedule: #7dd3fc;
  --c-upstream_failed: #f79009; --c-skipped: #f472b6; --c-removed: #d0d5dd; --c-none: transparent; }
@media (prefers-color-scheme: dark) { :root {
  --fg: #e4e7ec; --muted: #98a2b3; --bg: #111318; --panel: #181b22; --line: #2a2f3a;
  --link: #84adff; --accent: #528bff; --danger: #f97066; --c-removed: #475467; } }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); margin: 0; }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
:focus-visible { outline: 2px solid var(--focus); outline-offset: 1px; }
header.top { display: flex; gap: 16px; align-items: center; padding: 10px 20px;
  border-bottom: 1px solid var(--line); }
header.top .brand { font-weight: 700; color: var(--fg); font-size: 16px; }
header.top .who { margin-left: auto; display: flex; flex-wrap: wrap; gap: 12px;
  align-items: center; }
.login { max-width: 380px; margin: 40px auto; }
.login .field input { max-width: none; }
code.secret { display: inline-block; padding: 4px 8px; border: 1px dashed var(--accent);
  border-radius: 4px; word-break: break-all; user-select: all; }
main { padding: 16px 20px 40px; max-width: 1400px; margin: auto; }
h1 { font-size: 20px; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 16px; margin: 20px 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 500; white-space: nowrap; }
.scroll { overflow-x: auto; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.nowrap { white-space: nowrap; }
.break { word-break: break-all; }
.tag { display: inline-block; padding: 0 8px; border: 1px solid var(--line); border-radius: 10px;
  margin: 0 4px 2px 0; font-size: 12px; color: var(--fg); }
.banner { border: 1px solid var(--c-failed); border-radius: 6px; padding: 10px 14px;
  margin-bottom: 16px; }
.banner pre, pre.block { white-space: pre-wrap; word-break: break-word; margin: 4px 0 0; }
pre.block { background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px; max-height: 70vh; overflow: auto; font-size: 12px; }
.notice { border: 1px solid var(--line); border-left: 4px solid var(--accent); padding: 8px 12px;
  border-radius: 4px; margin: 8px 0; background: var(--panel); }
.notice.error { border-left-color: var(--c-failed); }
.notice.ok { border-left-color: var(--c-success); }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
  border: 1px solid var(--line); white-space: nowrap; }
.badge::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%;
  margin-right: 5px; background: var(--c); border: 1px solid var(--line); }
.dot { display: inline-block; width: 12px; height: 12px; border-radius: 50%; margin-right: 3px;
  background: var(--c); border: 1px solid var(--line); vertical-align: middle; }
.s-success { --c: var(--c-success); --n: "success"; }
.s-failed { --c: var(--c-failed); --n: "failed"; }
.s-running { --c: var(--c-running); --n: "running"; }
.s-queued { --c: var(--c-queued); --n: "queued"; }
.s-scheduled { --c: var(--c-scheduled); --n: "scheduled"; }
.s-up_for_retry { --c: var(--c-up_for_retry); --n: "up_for_retry"; }
.s-up_for_reschedule { --c: var(--c-up_for_reschedule); --n: "up_for_reschedule"; }
.s-upstream_failed { --c: var(--c-upstream_failed); --n: "upstream_failed"; }
.s-skipped { --c: var(--c-skipped); --n: "skipped"; }
.s-removed { --c: var(--c-removed); --n: "removed"; } .s-none { --c: var(--c-none); --n: "none"; }
.toolbar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 8px 0 12px; }
.toolbar input[type=search] { min-width: 220px; flex: 1 1 220px; max-width: 420px; }
input, select, textarea, button { font: inherit; color: inherit; background: var(--bg);
  border: 1px solid var(--line); border-radius: 6px; padding: 5px 8px; }
textarea { width: 100%; min-height: 90px; font-family: ui-monospace, monospace; font-size: 12px; }
button { cursor: pointer; background: var(--panel); }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button.danger { color: var(--danger); }
form.inline { display: inline; margin: 0; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 8px 0; }
.switch { display: inline-flex; align-items: center; gap: 6px; padding: 2px 8px 2px 2px;
  border-radius: 14px; font-size: 12px; }
.switch::before { content: ""; width: 28px; height: 16px; border-radius: 8px;
  background: radial-gradient(circle at 8px 50%, #fff 5px, transparent 6px), var(--c-queued); }
.switch[aria-checked=true]::before, .switch[data-active=true]::before {
  background: radial-gradient(circle at 20px 50%, #fff 5px, transparent 6px), var(--c-success); }
.pager { display: flex; gap: 12px; align-items: center; margin: 12px 0; }
nav.tabs { display: flex; gap: 4px; border-bottom: 1px solid var(--line); margin: 12px 0;
  overflow-x: auto; }
nav.tabs a { padding: 6px 12px; border-bottom: 2px solid transparent; color: var(--muted);
  white-space: nowrap; }
nav.tabs a[aria-current=page] { border-bottom-color: var(--accent); color: var(--fg); }
.dag-head { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: baseline; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 6px 0; }
.facts div span:first-child { color: var(--muted); margin-right: 6px; }
dl.kv { display: flex; flex-wrap: wrap; gap: 4px 24px; margin: 8px 0; }
dl.kv div { display: flex; gap: 6px; min-width: 0; }
dl.kv dt { color: var(--muted); white-space: nowrap; } dl.kv dd { margin: 0; word-break: break-word; }
details.panel { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px;
  margin: 12px 0; background: var(--panel); }
details.panel summary { cursor: pointer; font-weight: 600; }
.field { margin: 10px 0; }
.field label { display: block; font-weight: 500; }
.field .help { color: var(--muted); font-size: 12px; }
.field .error { color: var(--c-failed); font-size: 12px; }
.field input:not([type=checkbox]), .field select { width: 100%; max-width: 420px; }
.field[aria-invalid=true] input, .field[aria-invalid=true] textarea { border-color: var(--c-failed); }
.grid { display: inline-block; padding-bottom: 4px; }
.grow { display: flex; gap: 2px; align-items: center; margin-bottom: 2px; }
.grow.head { align-items: flex-end; margin-bottom: 4px; }
.grow .label { flex: none; width: 240px; padding-right: 8px; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; font-size: 12px; }
.grow .label.group { color: var(--muted); }
.grow .label.d1 { padding-left: 14px; } .grow .label.d2 { padding-left: 28px; }
.grow .label.d3, .grow .label.d4 { padding-left: 42px; }
.c { display: block; position: relative; flex: none; width: 14px; height: 14px; border-radius: 3px;
  background: var(--c); border: 1px solid var(--line); }
.c.mapped { border-radius: 50%; }
.c.empty { background: none; border-color: transparent; }
/* A grid cell names its state on hover from its class (cells carry no title of their own). */
.c:not([title]):not(.empty):hover::after { content: var(--n); position: absolute; left: 18px;
  top: -3px; z-index: 2; padding: 0 6px; border-radius: 4px; font-size: 11px; line-height: 18px;
  white-space: nowrap; background: var(--fg); color: var(--bg); pointer-events: none; }
.runcol { flex: none; width: 14px; display: flex; flex-direction: column; align-items: center;
  gap: 4px; }
.runbar { display: block; width: 14px; height: 40px; border-radius: 3px; background: var(--c);
  border: 1px solid var(--line); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; color: var(--muted);
  margin-top: 10px; }
.runlabel { writing-mode: vertical-rl; transform: rotate(180deg); font-size: 10px;
  color: var(--muted); white-space: nowrap; }
svg text { fill: var(--fg); font: 12px system-ui, sans-serif; }
svg .node rect { fill: var(--panel); stroke: var(--line); }
svg .node .bar { fill: var(--c); stroke: none; }
svg .node.s-none rect.bar { fill: var(--line); }
svg a:hover rect:not(.bar) { stroke: var(--accent); }
svg .edge { fill: none; stroke: var(--muted); stroke-width: 1.2; }
svg .arrow { fill: var(--muted); }
svg .group rect { fill: none; stroke: var(--muted); stroke-dasharray: 4 3; }
svg .group text { fill: var(--muted); font-size: 11px; }
svg .gantt-bar { fill: var(--c); }
svg .axis { stroke: var(--line); }
svg .tick { fill: var(--muted); font-size: 10px; }
.graph { overflow: auto; max-height: 80vh; border: 1px solid var(--line); border-radius: 6px; }
.log { font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--panel);
  border: 1px solid var(--line); border-radius: 6px; padding: 8px; max-height: 70vh;
  overflow: auto; white-space: pre-wrap; word-break: break-word; }
.log .line .ts { color: var(--muted); margin-right: 8px; }
.log .line.warn { color: var(--c-up_for_retry); } .log .line.error { color: var(--c-failed); }
.live { color: var(--c-running); font-size: 12px; }
.htmx-indicator { opacity: 0; transition: opacity .2s; }
.htmx-request .htmx-indicator, .htmx-request.htmx-indicator { opacity: 1; }
@media (max-width: 700px) {
  header.top, main { padding-left: 12px; padding-right: 12px; }
  .hide-narrow { display: none; }
  .grow .label { width: 130px; }
  th, td { padding: 5px 6px; }
}
`;
