/** The page shell: one stylesheet inline (no build step), light and dark. */
import type { ComponentChildren } from "preact";

const CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --bg: #fff; --line: #e4e7ec;
  --success: #12b76a; --failed: #f04438; --running: #2e90fa; --queued: #98a2b3; --skipped: #f9a8d4;
  --upstream_failed: #f79009; --up_for_retry: #fdb022; --scheduled: #d0d5dd; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e7ec; --muted: #98a2b3; --bg: #111318; --line: #2a2f3a; } }
body { font: 14px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
header { padding: 12px 20px; border-bottom: 1px solid var(--line); font-weight: 600; }
main { padding: 20px; max-width: 1200px; margin: auto; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 500; }
.muted { color: var(--muted); }
.tag { display: inline-block; padding: 0 6px; border: 1px solid var(--line); border-radius: 8px; margin-right: 4px; }
.state { display: inline-block; width: 12px; height: 12px; border-radius: 50%; background: var(--queued); margin-right: 3px; }
.banner { border: 1px solid var(--failed); border-radius: 6px; padding: 10px 14px; margin-bottom: 16px; }
.banner pre { white-space: pre-wrap; margin: 4px 0 0; }
`;

export function Layout(props: { title: string; children: ComponentChildren }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · Gust</title>
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <header>Gust</header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

export function StateDot(props: { state: string | null }) {
  const state = props.state ?? "none";
  return <span class="state" title={state} style={`background: var(--${state}, var(--queued))`} />;
}
