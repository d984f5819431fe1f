/**
 * Small inline-SVG charts for the report (no scripts, no external resources): line charts (training
 * curves, ε over training), ROC curves on log-log axes, and grouped bar charts (cell counts). Every chart
 * carries a <title> and axis labels, and its data points are also in the report's JSON.
 */
import { escapeHtml } from '../core/html.js';

const W = 560;
const H = 300;
const M = { left: 64, right: 16, top: 28, bottom: 44 };
const COLORS = ['#1f5fa8', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0f766e', '#a16207', '#475569'];

/** HTML-escaped text (src/core/html.ts), for the charts and the report pages. */
export const esc = escapeHtml;

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12 * Math.abs(hi); v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(0) : String(Number(v.toPrecision(3)));
}

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

interface Axes {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  xRange?: [number, number];
  yRange?: [number, number];
}

function frame(a: Axes, xs: number[], ys: number[]) {
  const tx = (v: number) => (a.logX ? Math.log10(v) : v);
  const ty = (v: number) => (a.logY ? Math.log10(v) : v);
  const finite = (v: number[]) => v.filter((x) => Number.isFinite(x));
  const fx = finite(xs.map(tx));
  const fy = finite(ys.map(ty));
  let [x0, x1] = a.xRange ? a.xRange.map(tx) as [number, number] : [Math.min(...fx), Math.max(...fx)];
  let [y0, y1] = a.yRange ? a.yRange.map(ty) as [number, number] : [Math.min(...fy), Math.max(...fy)];
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x0 + 1];
  if (!(y1 > y0)) [y0, y1] = [y0 - 1, y0 + 1];
  if (!a.yRange && !a.logY) {
    const pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
  }
  const px = (v: number) => M.left + ((tx(v) - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (v: number) => H - M.bottom - ((ty(v) - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const ticksX = a.logX ? niceTicks(Math.ceil(x0), Math.floor(x1), Math.max(1, Math.floor(x1) - Math.ceil(x0))).map((e) => 10 ** e) : niceTicks(x0, x1);
  const ticksY = a.logY ? niceTicks(Math.ceil(y0), Math.floor(y1), Math.max(1, Math.floor(y1) - Math.ceil(y0))).map((e) => 10 ** e) : niceTicks(y0, y1);
  const parts: string[] = [];
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="#fff" stroke="#cbd5e1"/>`);
  for (const t of ticksX) {
    const x = px(t);
    parts.push(`<line x1="${x}" y1="${M.top}" x2="${x}" y2="${H - M.bottom}" stroke="#eef2f7"/>`);
    parts.push(`<text x="${x}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${esc(fmtTick(t))}</text>`);
  }
  for (const t of ticksY) {
    const y = py(t);
    parts.push(`<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#eef2f7"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${esc(fmtTick(t))}</text>`);
  }
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${esc(a.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(a.yLabel)}</text>`);
  parts.push(`<text x="${M.left}" y="18" font-size="13" font-weight="600">${esc(a.title)}</text>`);
  return { px, py, parts };
}

function wrap(title: string, body: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>${body.join('')}</svg>`;
}

function legend(names: { name: string; color: string; dashed?: boolean }[]): string[] {
  return names.map((s, i) => {
    const x = W - M.right - 150;
    const y = M.top + 14 + i * 15;
    return `<line x1="${x}" y1="${y - 4}" x2="${x + 18}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/><text x="${x + 22}" y="${y}" font-size="11">${esc(s.name)}</text>`;
  });
}

export function lineChart(a: Axes & { series: Series[] }): string {
  const xs = a.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = a.series.flatMap((s) => s.points.map((p) => p[1]));
  if (xs.length === 0) return wrap(a.title, [`<text x="20" y="40" font-size="13">${esc(a.title)}: no data</text>`]);
  const { px, py, parts } = frame(a, xs, ys);
  a.series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(px(x)) && Number.isFinite(py(y)));
    const color = COLORS[i % COLORS.length]!;
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''} points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
  });
  parts.push(...legend(a.series.map((s, i) => ({ name: s.name, color: COLORS[i % COLORS.length]!, dashed: s.dashed }))));
  return wrap(a.title, parts);
}

/** ROC curves on log-log axes (Carlini et al. 2022, Sec. IV: low-FPR behaviour is what matters). */
export function rocChart(title: string, curves: { name: string; fpr: number[]; tpr: number[] }[], floor = 1e-3): string {
  const clip = (v: number) => Math.max(floor, Math.min(1, v));
  const series: Series[] = curves.map((c) => ({ name: c.name, points: c.fpr.map((f, i) => [clip(f), clip(c.tpr[i]!)] as [number, number]) }));
  series.push({ name: 'chance', points: [[floor, floor], [1, 1]], dashed: true });
  return lineChart({ title, xLabel: 'false positive rate (log)', yLabel: 'true positive rate (log)', logX: true, logY: true, xRange: [floor, 1], yRange: [floor, 1], series });
}

/** Grouped bars: one group of bars per category, one bar per series. */
export function barChart(a: { title: string; yLabel: string; categories: string[]; series: { name: string; values: number[] }[] }): string {
  const max = Math.max(1, ...a.series.flatMap((s) => s.values));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const parts: string[] = [];
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="#fff" stroke="#cbd5e1"/>`);
  for (const t of niceTicks(0, max)) {
    const y = H - M.bottom - (t / max) * plotH;
    parts.push(`<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#eef2f7"/><text x="${M.left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${esc(fmtTick(t))}</text>`);
  }
  const groupW = plotW / Math.max(1, a.categories.length);
  const barW = (groupW * 0.8) / Math.max(1, a.series.length);
  a.categories.forEach((cat, ci) => {
    a.series.forEach((s, si) => {
      const v = s.values[ci] ?? 0;
      const h = (v / max) * plotH;
      const x = M.left + ci * groupW + groupW * 0.1 + si * barW;
      parts.push(`<rect x="${x.toFixed(1)}" y="${(H - M.bottom - h).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${cat} — ${s.name}: ${v}`)}</title></rect>`);
    });
    const label = cat.length > 18 ? cat.slice(0, 17) + '…' : cat;
    parts.push(`<text x="${(M.left + ci * groupW + groupW / 2).toFixed(1)}" y="${H - M.bottom + 14}" text-anchor="middle" font-size="10">${esc(label)}</text>`);
  });
  parts.push(`<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(a.yLabel)}</text>`);
  parts.push(`<text x="${M.left}" y="18" font-size="13" font-weight="600">${esc(a.title)}</text>`);
  parts.push(...legend(a.series.map((s, i) => ({ name: s.name, color: COLORS[i % COLORS.length]! }))));
  return wrap(a.title, parts);
}
