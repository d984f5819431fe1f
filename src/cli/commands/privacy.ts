/** `medsynth privacy epsilon` and `medsynth privacy noise`: the accountant on its own. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ACCOUNTANTS, type AccountantName } from '../../privacy/accountants/index.js';
import { calibrateNoise, epsilonFor } from '../../privacy/calibrate.js';
import { info_ } from '../context.js';
import { JSON_HELP, JsonOutput, withExample } from './shared.js';

function num(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
}

const accountant = () => new Option('--accountant <name>', 'privacy accountant').choices([...ACCOUNTANTS]).default('rdp');

export function registerPrivacyCommands(program: Command): void {
  const privacy = withExample(program.command('privacy').description('privacy accounting for DP-SGD (Poisson-subsampled Gaussian)'), 'medsynth privacy epsilon --sample-rate 0.01 --noise-multiplier 1.1 --steps 2000 --delta 1e-5');
  withExample(privacy
    .command('epsilon')
    .description('epsilon spent by a DP-SGD training')
    .requiredOption('--sample-rate <q>', 'probability that a privacy unit is in a batch', num)
    .requiredOption('--noise-multiplier <sigma>', 'noise std / clipping norm', num)
    .requiredOption('--steps <n>', 'number of noisy steps', num)
    .requiredOption('--delta <d>', 'target delta', num)
    .addOption(accountant())
    .option('--json [file]', JSON_HELP), 'medsynth privacy epsilon --sample-rate 0.01 --noise-multiplier 1.1 --steps 2000 --delta 1e-5')
    .action((o: { sampleRate: number; noiseMultiplier: number; steps: number; delta: number; accountant: AccountantName; json?: string | true }) => {
      const json = new JsonOutput(o.json);
      const r = epsilonFor(o);
      if (r.atGridEdge) info_(`warning: the best RDP order (${r.order}) is at the edge of the order grid; epsilon may be loose`);
      const out: Record<string, unknown> = { epsilon: r.epsilon, delta: o.delta, accountant: o.accountant, order: r.order };
      if (r.estimate !== undefined) Object.assign(out, { epsilon_estimate: r.estimate, epsilon_lower: r.lower });
      json.write(out);
      if (json.stdout) return;
      if (o.accountant === 'rdp') process.stdout.write(`epsilon ${r.epsilon.toFixed(4)} at delta ${o.delta} (RDP accountant, best order ${r.order})\n`);
      else process.stdout.write(`epsilon ${r.epsilon.toFixed(4)} at delta ${o.delta} (PRV accountant, certified upper bound; estimate ${r.estimate!.toFixed(4)}, lower bound ${r.lower!.toFixed(4)})\n`);
    });
  withExample(privacy
    .command('noise')
    .description('smallest noise multiplier that keeps a training within a target epsilon')
    .requiredOption('--target-epsilon <e>', 'privacy budget', num)
    .requiredOption('--delta <d>', 'target delta', num)
    .requiredOption('--sample-rate <q>', 'probability that a privacy unit is in a batch', num)
    .requiredOption('--steps <n>', 'number of noisy steps', num)
    .addOption(accountant())
    .option('--json [file]', JSON_HELP), 'medsynth privacy noise --target-epsilon 8 --delta 1e-5 --sample-rate 0.01 --steps 2000')
    .action((o: { targetEpsilon: number; delta: number; sampleRate: number; steps: number; accountant: AccountantName; json?: string | true }) => {
      const json = new JsonOutput(o.json);
      const r = calibrateNoise(o);
      const out = { noise_multiplier: r.noiseMultiplier, epsilon: r.epsilon };
      json.write(out);
      if (!json.stdout) process.stdout.write(`noise multiplier ${r.noiseMultiplier.toFixed(4)} gives epsilon ${r.epsilon.toFixed(4)} <= ${o.targetEpsilon} at delta ${o.delta} (${o.accountant.toUpperCase()} accountant)\n`);
    });
}
