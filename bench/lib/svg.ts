// A hand-written SVG line chart: throughput per window over time, with
// vertical markers (flips) and the median as a dashed line.

export interface ChartMarker {
  atS: number;
  label: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function lineChartSvg(o: {
  title: string;
  subtitle?: string;
  /** y value per window (req/s). */
  values: number[];
  windowS: number;
  markers: ChartMarker[];
  median?: number;
  yLabel: string;
}): string {
  const W = 900;
  const H = 360;
  const m = { l: 70, r: 20, t: 56, b: 46 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const n = o.values.length;
  const tMax = Math.max(n * o.windowS, ...o.markers.map((x) => x.atS), 1);
  const vMax = Math.max(1, ...o.values.filter(Number.isFinite));
  const yTop = niceCeil(vMax * 1.1);
  const x = (t: number) => m.l + (t / tMax) * pw;
  const y = (v: number) => m.t + ph - (v / yTop) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${m.l}" y="20" font-size="15" font-weight="bold">${esc(o.title)}</text>`);
  if (o.subtitle) parts.push(`<text x="${m.l}" y="38" fill="#555">${esc(o.subtitle)}</text>`);
  // Grid and axes.
  for (let i = 0; i <= 5; i++) {
    const v = (yTop * i) / 5;
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${Math.round(v).toLocaleString('en-US')}</text>`);
  }
  const step = tMax > 20 ? 5 : tMax > 8 ? 2 : 1;
  for (let t = 0; t <= tMax + 1e-9; t += step) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${m.t + ph}" y2="${m.t + ph + 5}" stroke="#555"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${m.t + ph + 18}" text-anchor="middle" fill="#555">${t}</text>`);
  }
  parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#555"/>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#555"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle" fill="#333">seconds since the load started</text>`);
  parts.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(o.yLabel)}</text>`);
  if (o.median !== undefined && Number.isFinite(o.median)) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(o.median).toFixed(1)}" y2="${y(o.median).toFixed(1)}" stroke="#999" stroke-dasharray="4 4"/>`);
    parts.push(`<text x="${m.l + pw - 4}" y="${(y(o.median) - 4).toFixed(1)}" text-anchor="end" fill="#777">median ${Math.round(o.median).toLocaleString('en-US')}</text>`);
  }
  for (const mk of o.markers) {
    parts.push(`<line x1="${x(mk.atS).toFixed(1)}" x2="${x(mk.atS).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#d33" stroke-dasharray="6 3"/>`);
    parts.push(`<text x="${(x(mk.atS) + 4).toFixed(1)}" y="${m.t + 12}" fill="#d33">${esc(mk.label)}</text>`);
  }
  // One point per window, at the window's middle.
  const pts = o.values.map((v, i) => `${x((i + 0.5) * o.windowS).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  parts.push(`<polyline points="${pts}" fill="none" stroke="#1f6feb" stroke-width="1.5"/>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const k of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (k * p >= v) return k * p;
  return 10 * p;
}
