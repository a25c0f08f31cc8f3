// Markdown table helper for the custom scenarios.

/** `align`: one char per column, 'l' or 'r' (default: first column left, the rest right). */
export function mdTable(head: string[], rows: (string | number)[][], align?: string): string {
  const a = align ?? 'l' + 'r'.repeat(head.length - 1);
  const sep = head.map((_, i) => (a[i] === 'r' ? '--:' : '---'));
  return [`| ${head.join(' | ')} |`, `| ${sep.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const dash = '—';
export const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : dash);
export const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : dash);
export const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : dash);
