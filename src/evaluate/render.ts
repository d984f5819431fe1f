/** The human-readable `medsynth evaluate` report: fidelity, utility & fairness, diversity. */
import { fmt, formatTable } from '../core/table.js';
import type { BootInterval } from '../../eval/fairness/bootstrap.js';
import type { FairnessReport } from '../../eval/fairness/metrics.js';
import { KID_DISPLAY_SCALE, KID_READING } from '../../eval/fidelity/kid.js';
import { absentClasses, absentSentence, indistinctSentence, intervalIncludesZero, RATE, untaughtSentence, type WayComparison } from '../../eval/utility/index.js';
import { seedStat, type SeedStat } from '../../eval/utility/intervals.js';
import type { EvaluateResult, FidelityComparison } from './evaluate.js';

const pct = (x: number | null | undefined) => fmt(x, 3);

/** Precision at or above this on collapsed samples gets the warning mark. */
export const COLLAPSED_PRECISION = 0.8;
const COLLAPSE_MARK = '!';

function fidelityCells(c: FidelityComparison, collapsed = false): string[] {
  const v = c.values;
  if (!v) return ['-', '-', '-', '-', '-', '-'];
  const kid = v.kid ? `${(v.kid.mean * KID_DISPLAY_SCALE).toFixed(2)}±${(v.kid.std * KID_DISPLAY_SCALE).toFixed(2)}` : '-';
  const warn = collapsed && v.precision !== null && v.precision >= COLLAPSED_PRECISION ? ` ${COLLAPSE_MARK}` : '';
  return [fmt(v.fid, 2), kid, `${pct(v.precision)}${warn}`, pct(v.recall), pct(v.density), pct(v.coverage)];
}

function fidelitySection(r: EvaluateResult): string[] {
  const label = (row: EvaluateResult['fidelity']['rows'][number]) =>
    row.slice === 'overall' ? 'all' : row.slice === 'class' ? `class ${row.name}` : `${r.groupBy.join('/')}=${row.name}`;
  const width = Math.max(...r.fidelity.rows.map((row) => label(row).length));
  const rows: string[][] = [];
  const notes = new Set<string>();
  for (const row of r.fidelity.rows) {
    const name = label(row);
    rows.push([`${name.padEnd(width)}  synthetic`, String(row.synthetic.n), ...fidelityCells(row.synthetic, r.learned?.collapsed)]);
    rows.push([`${''.padEnd(width)}  real test (baseline)`, String(row.baseline.n), ...fidelityCells(row.baseline)]);
    for (const [who, c] of [['synthetic', row.synthetic], ['real test', row.baseline]] as const) {
      if (c.note) notes.add(`${name}, ${who}: ${c.note}`);
      for (const s of c.values?.skipped ?? []) notes.add(`${name}, ${who}: ${s.metric} ${s.reason}`);
    }
  }
  const f = r.features;
  const marked = rows.some((row) => row[4]!.endsWith(` ${COLLAPSE_MARK}`));
  const negative = r.fidelity.rows.some((row) => [row.synthetic, row.baseline].some((c) => (c.values?.kid?.mean ?? 0) < 0));
  return [
    `Fidelity vs the real train split (features: ${f.name}, ${f.dim}-d, fitted on ${f.fittedOn}; KID x 1000, mean±std over subsets)`,
    formatTable(['slice / compared set', 'n', 'FID', 'KID x1000', 'precision', 'recall', 'density', 'coverage'], rows),
    ...(marked ? [`  ${COLLAPSE_MARK} ${collapseWarning(r)}`] : []),
    `  KID: ${KID_READING}${negative ? ' (negative values above)' : ''}.`,
    ...[...notes].map((n) => `  note: ${n}`),
  ];
}

/** The warning beside a high precision of collapsed samples. */
export function collapseWarning(r: Pick<EvaluateResult, 'learned'>): string {
  const l = r.learned;
  return `high precision on collapsed samples: they sit inside the real data but on few records (${l.distinctNearest.synthetic} distinct nearest records of ${l.m} samples, real held-out ${l.distinctNearest.reference}; mode coverage ${fmt(l.modeCoverage.ratio, 2)}x real). Precision does not see collapse; read recall and coverage.`;
}

const bi = (x: BootInterval | undefined, sign = false) => {
  if (!x || x.estimate === null) return '-';
  const v = (y: number) => (sign && y >= 0 ? '+' : '') + y.toFixed(3);
  return x.lo !== null && x.hi !== null ? `${v(x.estimate)} [${v(x.lo)}, ${v(x.hi)}]` : `${v(x.estimate)} [no interval]`;
};

function fairnessLines(r: EvaluateResult): string[] {
  const fb = r.fairness;
  if (!fb) return [];
  const name = (g: number) => `${r.groupBy.join('/') || 'group'}=${fb.groups[g]}`;
  const excluded = fb.excluded.length ? fb.excluded.map((x) => `${name(x.group)} (${x.n})`).join(', ') : 'none';
  const lines = [
    `Fairness over groups with >= ${fb.minGroup} real test images (${Math.round(fb.confidence * 100)}% bootstrap intervals, ${fb.replicates} replicates stratified by group, seed ${fb.seed}); excluded: ${excluded}`,
  ];
  if (fb.eligible.length < 2) {
    lines.push(`  fewer than 2 groups are large enough: no fairness figure (lower --min-group only if you accept noisier figures)`);
    return lines;
  }
  for (const w of fb.ways) lines.push(`  (${w.key}) worst-group accuracy ${bi(w.worstGroupAccuracy)}; equalized-odds diff. ${bi(w.equalizedOddsDifference)}`);
  for (const d of fb.differences) lines.push(`  (${d.of[0]}) - (${d.of[1]}): worst-group accuracy ${bi(d.worstGroupAccuracy, true)}; equalized-odds diff. ${bi(d.equalizedOddsDifference, true)}`);
  return lines;
}

function learnedSection(r: EvaluateResult): string[] {
  const l = r.learned;
  if (!l) return [];
  const t = l.thresholds;
  const ca = l.conditionalAccuracy;
  return [
    `Did the generator learn? (${l.space}; ${l.m} samples vs ${l.m} real test images, against the real train split)`,
    formatTable(['evidence', 'synthetic', 'real test', 'ratio', 'gate'], [
      ['distinct nearest records', l.distinctNearest.synthetic, l.distinctNearest.reference, fmt(l.distinctNearest.ratio, 2), `>= ${t.distinctRatio}`],
      [`mode coverage (K = ${l.modeCoverage.k})`, fmt(l.modeCoverage.synthetic), fmt(l.modeCoverage.reference), fmt(l.modeCoverage.ratio, 2), `>= ${t.modeCoverageRatio}`],
      ['conditional accuracy (1-NN)', fmt(ca?.synthetic ?? null), fmt(ca?.reference ?? null), ca?.margin != null ? `${fmt(ca.margin, 2)} of margin` : '-', `>= ${t.conditionalMargin} of margin over chance ${ca ? fmt(ca.chance, 2) : '-'}`],
    ]),
    l.learned ? '  learned: yes (every test passes)' : `  learned: NO - ${l.reasons.join('; ')}`,
    ...(l.untaught?.length ? [`  ${untaughtSentence(l.untaught)}`] : []),
  ];
}

/** mean [lo, hi] over classifier seeds (the mean alone with one seed). */
function seedCell(st: SeedStat): string {
  if (st.mean === null) return '-';
  return st.lo !== null && st.hi !== null ? `${pct(st.mean)} [${pct(st.lo)}, ${pct(st.hi)}]` : pct(st.mean);
}

const points = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}`;

/** One line per comparison of (c): delta in balanced accuracy, its interval and the verdict (which reads the mean), then the caveat when the interval includes 0. */
export function comparisonLine(name: string, c: WayComparison | null, seeds: number): string {
  if (!c) return `  (c) vs ${name}: not compared (a way was skipped)`;
  const ci = c.ci ? ` [${points(c.ci.lo)}, ${points(c.ci.hi)}]` : '';
  const caveat = intervalIncludesZero(c) ? ` (${indistinctSentence(seeds)})` : '';
  return `  (c) vs ${name}: balanced accuracy ${points(c.deltaBalancedAccuracy)} points${ci} -> ${c.verdict}${caveat}`;
}

function utilitySection(r: EvaluateResult): string[] {
  const u = r.utility;
  const ways = u.ways;
  const header = ['metric', ...ways.map((w) => `(${w.key}) ${w.label}`)];
  const rows: (string | number)[][] = [];
  const each = (name: string, f: (rep: FairnessReport) => number | null | undefined) =>
    rows.push([name, ...ways.map((w) => (w.reports.length ? seedCell(seedStat(w.reports.map(f), { range: RATE })) : '-'))]);
  rows.push(['train images', ...ways.map((w) => w.trainImages)]);
  each('accuracy', (x) => x.accuracy);
  each('balanced accuracy', (x) => x.balancedAccuracy);
  r.classes.forEach((name, c) => each(`recall ${name}`, (x) => x.recall[c] ?? null));
  const gname = (g: number) => (r.groupBy.length ? `${r.groupBy.join('/')}=${r.groups[g]}` : 'all');
  const groupIds = [...new Set(ways.flatMap((w) => w.reports.flatMap((x) => x.groupAccuracy.map((g) => g.group))))].sort((a, b) => a - b);
  for (const g of groupIds) each(`accuracy ${gname(g)}`, (x) => x.groupAccuracy.find((y) => y.group === g)?.accuracy ?? null);
  if (u.mode === 'binary') {
    for (const g of groupIds) {
      each(`TPR ${gname(g)}`, (x) => x.perPositive[0]?.groups.find((y) => y.group === g)?.tpr ?? null);
      each(`FPR ${gname(g)}`, (x) => x.perPositive[0]?.groups.find((y) => y.group === g)?.fpr ?? null);
    }
  }
  each('worst-group accuracy', (x) => x.worstGroupAccuracy);
  each('demographic-parity diff.', (x) => x.demographicParityDifference);
  each('equalized-odds diff.', (x) => x.equalizedOddsDifference);
  if (u.mode === 'one-vs-rest') {
    r.classes.forEach((name, c) => {
      each(`  DP diff. ${name} vs rest`, (x) => x.perPositive[c]?.demographicParityDifference ?? null);
      each(`  EO diff. ${name} vs rest`, (x) => x.perPositive[c]?.equalizedOddsDifference ?? null);
    });
  }
  const positive = u.mode === 'binary' ? `positive class ${u.positiveName}` : 'one-vs-rest per class, headline = largest; per-group TPR/FPR in --json';
  const seeds = u.classifier.seeds.length;
  const over = seeds > 1 ? `mean [95% t-interval] over ${seeds} classifier seeds` : `1 classifier seed (${u.classifier.seed}), no interval`;
  const skipped = ways.filter((w) => w.skipped).map((w) => `  note: (${w.key}) skipped: ${w.skipped}`);
  const o = u.oversampling;
  const dLine = o
    ? [`  (d) = (c) with its ${o.replaced} synthetic rows replaced by real train images of the same ${o.matchedOn} cell, drawn with replacement (seed ${o.seed}; ${o.filled} filled, ${o.leftOut} left out)`, ...o.notes.map((n) => `  note: (d) ${n}`)]
    : [];
  const vsD = u.augmentedVsOversampling;
  const plainly =
    vsD?.verdict === 'oversampling is better here'
      ? [`  oversampling is better here: duplicating real images beat the synthetic ones on balanced accuracy${intervalIncludesZero(vsD) ? `, on the mean over ${seeds} classifier seeds (${indistinctSentence(seeds)})` : ''}`]
      : [];
  return [
    `Utility & fairness on the real test split (${u.testImages} images; cnn classifier, ${u.classifier.steps} steps; ${over}; ${positive}; (c) = ${u.augmentedSource})`,
    formatTable(header, rows),
    ...dLine,
    comparisonLine('(d) oversampling', u.augmentedVsOversampling, seeds),
    comparisonLine('(a) real only', u.augmentedVsReal, seeds),
    ...plainly,
    ...skipped,
    ...fairnessLines(r),
  ];
}

function diversitySection(r: EvaluateResult): string[] {
  const d = r.diversity;
  const cellRow = (name: string, c: typeof d.cells.realTrain | null) =>
    c ? [name, c.indices.total, c.indices.cells, c.indices.emptyCells, fmt(c.indices.gini), fmt(c.indices.shannon), fmt(c.indices.pielou)] : [name, '-', '-', '-', '-', '-', '-'];
  const cellsOf = d.cells.groupBy.length ? `class x ${d.cells.groupBy.join('/')}` : 'class';
  const m = d.modes;
  const occRow = (name: string, o: typeof m.synthetic) => [
    name,
    o.counts.reduce((a, b) => a + b, 0),
    fmt(o.coverage),
    `${o.ndb.ndb}/${o.k} = ${fmt(o.ndb.ndbOverK)}`,
    o.ndb.underfilled,
    fmt(o.indices.gini),
    fmt(o.indices.shannon),
    fmt(o.indices.pielou),
  ];
  const mpd = d.intraClass.perClass.map((c) => [c.name, fmt(c.real), fmt(c.synthetic), fmt(c.ratio)]);
  mpd.push(['all (pooled)', fmt(d.intraClass.all.real), fmt(d.intraClass.all.synthetic), fmt(d.intraClass.all.ratio)]);
  return [
    `Diversity: ${cellsOf} cell counts (Gini: 0 = even; Shannon in nats; Pielou: 1 = even)`,
    formatTable(['set', 'images', 'cells', 'empty', 'Gini', 'Shannon', 'Pielou'], [
      cellRow('real train', d.cells.realTrain),
      cellRow('synthetic', d.cells.synthetic),
      cellRow('augmented (c)', d.cells.augmented),
    ]),
    ...d.cells.notes.map((n) => `  note: ${n}`),
    '',
    `Mode coverage: k-means, K = ${m.k}, on ${m.fittedOn} (seed ${m.seed}); NDB at alpha = ${m.synthetic.ndb.alpha} (lower is better, ~alpha for real data)`,
    formatTable(['set', 'images', 'coverage', 'NDB/K', 'under-filled', 'Gini', 'Shannon', 'Pielou'], [occRow('synthetic', m.synthetic), occRow('real test (baseline)', m.baseline)]),
    '',
    `Intra-class mean pairwise distance in ${r.features.name} feature space (ratio < 1: less varied than real)`,
    formatTable(['class', 'real train', 'synthetic', 'ratio'], mpd),
  ];
}

/** The note under the header when the synthetic set lacks classes of the real test split (absentClasses); none otherwise. */
export function absentNote(r: Pick<EvaluateResult, 'classes' | 'utility'>): string[] {
  const b = r.utility.ways.find((w) => w.key === 'b');
  const test = r.utility.testPerClass;
  const absent = absentClasses(b?.trainPerClass, test);
  if (!absent.length) return [];
  const named = absent.map((c) => ({ name: r.classes[c] ?? String(c), testImages: test[c]! }));
  return [`note: ${absentSentence(named, test.length, r.utility.testImages)}`];
}

export function formatEvaluation(r: EvaluateResult): string {
  const s = r.splits.sizes;
  return [
    `real      ${r.datasets.real.path} (${r.datasets.real.n} images; split seed ${r.splits.seed}: train ${s.train}, holdout ${s.holdout}, test ${s.test})`,
    `synthetic ${r.datasets.synthetic.path} (${r.datasets.synthetic.n} images${r.datasets.synthetic.rows ? `: the synthetic=1 rows of ${r.datasets.synthetic.rows.total}` : ''})`,
    ...(r.datasets.augmented ? [`augmented ${r.datasets.augmented.path} (${r.datasets.augmented.n} images)`] : []),
    `images    ${r.image.size}x${r.image.size} (from ${r.image.sizeFrom}), ${r.image.channels} channel${r.image.channels > 1 ? 's' : ''}; features ${r.features.name}: ${r.features.preprocessing}`,
    `seed      ${r.seeds.evaluation} (sub-seeds in --json)`,
    ...absentNote(r),
    '',
    ...fidelitySection(r),
    '',
    ...utilitySection(r),
    '',
    ...diversitySection(r),
    '',
    ...learnedSection(r),
  ].join('\n');
}
