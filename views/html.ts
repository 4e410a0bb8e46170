/**
 * Escaping for the few places that build HTML as text instead of through Preact (the grid's
 * cell matrix, where thousands of tiny elements made rendering the page's main cost). It
 * escapes what preact-render-to-string escapes (`&`, `<`, `"`) and also `>` and `'`, so the
 * result is safe both as text and inside an attribute in either kind of quotes.
 */

const UNSAFE = /[&<>"']/;
const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  // Most ids and labels hold none of these: skip the replace for them.
  return UNSAFE.test(text) ? text.replace(/[&<>"']/g, (ch) => ENTITIES[ch]) : text;
}
