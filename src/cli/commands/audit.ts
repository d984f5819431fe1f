/** `medsynth audit`: membership-inference attacks on a trained run, with empirical epsilon lower bounds. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { AUDIT_DEFAULTS, auditRun, parseAttackFamilies, type AuditResult } from '../../audit/audit.js';
import { BACKEND_CHOICES } from '../../backend/index.js';
import { ConfigError } from '../../core/errors.js';
import { describeBackend, info_, startBackend } from '../context.js';
import { parsePositiveInt, parseSeed } from '../options.js';
import { fmt, formatTable } from '../../core/table.js';
import { JSON_HELP, JsonOutput, progressPrinter, withDataLoadOptions, withExample } from './shared.js';

interface AuditCliOptions {
  model: string;
  data?: string;
  attacks: string;
  nSynthetic?: number;
  seed: number;
  bootstrap: number;
  delta?: number;
  featureDim: number;
  domiasDim: number;
  minGroup: number;
  json?: string | true;
  backend?: string;
  quiet: boolean;
}

function parseDelta(value: string): number {
  const d = Number(value);
  if (!(d >= 0 && d < 1)) throw new InvalidArgumentError('expected a number in [0, 1)');
  return d;
}

const interval = (x: { estimate: number; lower: number; upper: number }) => `${fmt(x.estimate)} [${fmt(x.lower)}, ${fmt(x.upper)}]`;

/** The stdout table: attack × metrics, then the DCR shares and the accountant's epsilon. */
export function formatAuditTable(r: AuditResult): string {
  const rows = r.attacks.map((a) => {
    const t = a.overall.tprAtFpr;
    const tpr = (k: number) => `${fmt(t[k]!.estimate)}${t[k]!.resolvable ? '' : '*'}`;
    return [a.name, interval(a.overall.auc), tpr(0), tpr(1), fmt(a.overall.advantage.estimate), fmt(a.overall.epsilon?.epsilon ?? null, 2)];
  });
  const lines = [
    `membership audit of ${r.run} (${r.generator}, model ${r.modelId}): ${r.sizes.members} members vs ${r.sizes.nonMembers} non-members, ${r.sizes.synthetic} synthetic, reference ${r.sizes.reference}, seed ${r.seeds.audit}`,
    '',
    formatTable(['attack', `AUC [${Math.round(r.settings.confidence * 100)}% CI]`, 'TPR@1%FPR', 'TPR@0.1%FPR', 'max adv', 'eps_lb'], rows),
  ];
  if (r.attacks.some((a) => a.overall.tprAtFpr.some((t) => !t.resolvable))) {
    lines.push(`* FPR below 1/${r.sizes.nonMembers}: TPR at zero false positives`);
  }
  for (const d of r.dcr) {
    const pct = (x: number) => (100 * x).toFixed(1);
    lines.push(
      `DCR share (${d.space}): ${pct(d.share)}% of ${d.synthetic - d.ties} synthetic samples closer to members than to non-members ` +
        `[${pct(d.lower)}, ${pct(d.upper)}] (ideal 50%; binomial p = ${d.pValue.toPrecision(2)}; permutation p = ${d.permutation.pValue.toPrecision(2)}, ` +
        `chance range [${pct(d.permutation.nullLower)}, ${pct(d.permutation.nullUpper)}]; nearest records: ${d.distinctNearestRecords} distinct, largest share ${pct(d.largestShareOnOneRecord)}%)`,
    );
  }
  const eps = `eps_lb: ${Math.round(r.settings.confidence * 100)}% lower bound on epsilon at delta = ${r.settings.delta}`;
  if (r.privacy.differentialPrivacy) {
    lines.push(`${eps}; accountant: epsilon = ${fmt(r.privacy.epsilon, 3)}, delta = ${r.privacy.delta} per ${r.privacy.unit} (${r.privacy.accountant})`);
  } else {
    lines.push(`${eps}; the model was trained WITHOUT differential privacy (no accountant epsilon)`);
  }
  if (r.best) lines.push(`best attack: ${r.best.attack} (AUC ${fmt(r.best.auc)})`);
  if (r.canaryAudit) lines.push(`canary audit (${r.canaryAudit.threatModel.split(':')[0]}): ${r.canaryAudit.summary}`);
  return lines.join('\n');
}

export function registerAuditCommand(program: Command): void {
  withExample(program
    .command('audit')
    .description('membership-inference audit of a trained run: attack AUC, TPR at low FPR, advantage, empirical epsilon')
    .requiredOption('--model <run>', 'run folder written by medsynth train')
    .option('--data <dir>', 'the data the run was trained on (its train split = members, holdout = non-members, test = reference; default: run.json "data"; its sha256 must match)')
    .option('--attacks <list>', 'all, or a comma list of distance, dcr, domias, whitebox, control', 'all')
    .option('--n-synthetic <count>', 'synthetic samples to draw (default: as many as members)', parsePositiveInt)
    .option('--seed <int>', 'audit seed (subsampling, samples, features, bootstrap)', parseSeed, AUDIT_DEFAULTS.seed)
    .option('--bootstrap <count>', 'bootstrap replicates for the confidence intervals', parsePositiveInt, AUDIT_DEFAULTS.bootstrap)
    .option('--delta <d>', 'delta of the empirical epsilon (default: the model card delta, else 1e-5)', parseDelta)
    .option('--feature-dim <k>', 'pixel-PCA feature dimension', parsePositiveInt, AUDIT_DEFAULTS.featureDim)
    .option('--domias-dim <k>', 'leading feature dimensions of the DOMIAS density estimates', parsePositiveInt, AUDIT_DEFAULTS.domiasDim)
    .option('--min-group <n>', 'smallest group (members and non-members each) that gets metrics', parsePositiveInt, AUDIT_DEFAULTS.minGroup)
    .option('--json [file]', JSON_HELP)
    .addOption(new Option('--backend <name>', 'compute backend (default: $MEDSYNTH_BACKEND or auto)').choices([...BACKEND_CHOICES]))
    .option('--quiet', 'no progress messages on stderr', false), 'medsynth audit --model runs/cvae --json audit.json')
    .action(async (opts: AuditCliOptions) => {
      const json = new JsonOutput(opts.json);
      const attacks = parseAttackFamilies(opts.attacks);
      if (opts.domiasDim > opts.featureDim) throw new ConfigError(`--domias-dim ${opts.domiasDim}: must be at most --feature-dim (${opts.featureDim})`);
      const backend = await startBackend({ backend: opts.backend, json: true });
      if (!opts.quiet) info_(`backend: ${describeBackend(backend)}`);
      const result = await auditRun({
        run: opts.model,
        data: opts.data,
        attacks,
        seed: opts.seed,
        nSynthetic: opts.nSynthetic,
        bootstrap: opts.bootstrap,
        delta: opts.delta,
        confidence: AUDIT_DEFAULTS.confidence,
        featureDim: opts.featureDim,
        domiasDim: opts.domiasDim,
        elboDraws: AUDIT_DEFAULTS.elboDraws,
        minGroup: opts.minGroup,
        onProgress: opts.quiet ? undefined : (m) => info_(m),
        onStage: opts.quiet || json.stdout ? undefined : progressPrinter(info_, { everyMs: 15000 }),
      });
      json.write({ ...result, backend });
      if (!json.stdout) process.stdout.write(formatAuditTable(result) + '\n');
    });
  withDataLoadOptions(program.commands.find((c) => c.name() === 'audit')!);
}
