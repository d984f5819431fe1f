/**
 * Text for HTML: `&`, `<`, `>` and `"` as entities, so a value can stand in element content or in a
 * double-quoted attribute (never in an unquoted attribute, a script or a style).
 */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
