/**
 * The membership-inference attacks of the audit, with the metadata a report renders from: name, family
 * (what `--attacks` selects), access, space and the paper. Every attack gives each query image a score,
 * higher = more likely a member; eval/privacy/metrics.ts turns scores into AUC, TPR@FPR, advantage and
 * an empirical epsilon.
 */

export type AttackFamily = 'distance' | 'domias' | 'whitebox' | 'control';
export const ATTACK_FAMILIES: readonly (AttackFamily | 'dcr')[] = ['distance', 'dcr', 'domias', 'whitebox', 'control'];

export interface AttackInfo {
  name: string;
  family: AttackFamily;
  access: 'black-box (samples only)' | 'black-box (samples + reference data)' | 'white-box' | 'none';
  space: 'pixel' | 'feature' | 'model' | 'none';
  description: string;
  paper: string;
}

export const ATTACKS: readonly AttackInfo[] = [
  {
    name: 'gan-leaks-pixel',
    family: 'distance',
    access: 'black-box (samples only)',
    space: 'pixel',
    description: '-(distance to the nearest synthetic sample), pixels',
    paper: 'Chen et al., GAN-Leaks, CCS 2020, Sec. 5.1 (full black-box)',
  },
  {
    name: 'gan-leaks-feature',
    family: 'distance',
    access: 'black-box (samples only)',
    space: 'feature',
    description: '-(distance to the nearest synthetic sample), features',
    paper: 'Chen et al., GAN-Leaks, CCS 2020, Sec. 5.1 (full black-box)',
  },
  {
    name: 'logan-black-box',
    family: 'distance',
    access: 'black-box (samples + reference data)',
    space: 'feature',
    description: 'logit of a local MLP discriminator, synthetic vs reference (reduced LOGAN: no local GAN)',
    paper: 'Hayes et al., LOGAN, PoPETs 2019, Sec. 4 (black-box)',
  },
  {
    name: 'domias',
    family: 'domias',
    access: 'black-box (samples + reference data)',
    space: 'feature',
    description: 'log p_syn(x) - log p_ref(x), Gaussian KDE',
    paper: 'van Breugel et al., DOMIAS, AISTATS 2023, Sec. 3',
  },
  {
    name: 'cvae-elbo',
    family: 'whitebox',
    access: 'white-box',
    space: 'model',
    description: '-(negative ELBO) of the cVAE',
    paper: 'Hilprecht et al., PoPETs 2019 (reconstruction attack)',
  },
  {
    name: 'cvae-reconstruction',
    family: 'whitebox',
    access: 'white-box',
    space: 'model',
    description: '-||x - Dec(mu(x))||^2 of the cVAE',
    paper: 'Hilprecht et al., PoPETs 2019 (reconstruction attack)',
  },
  {
    name: 'gan-discriminator',
    family: 'whitebox',
    access: 'white-box',
    space: 'model',
    description: 'logit of the released GAN discriminator',
    paper: 'Hayes et al., LOGAN, PoPETs 2019, Sec. 4 (white-box)',
  },
  {
    name: 'release-alignment',
    family: 'whitebox',
    access: 'white-box',
    space: 'model',
    description: 'phi(x) . (released mean embedding of x\'s class x group cell), for one-shot generators (DP-MERF)',
    paper: 'Dwork, Smith, Steinke, Ullman & Vadhan, Robust Traceability from Trace Amounts, FOCS 2015 (inner-product tracing of released means)',
  },
  {
    name: 'random-control',
    family: 'control',
    access: 'none',
    space: 'none',
    description: 'i.i.d. uniform scores: what chance alone gives at these sample sizes',
    paper: 'none (null control, eval/privacy/control.ts)',
  },
];

export function attackInfo(name: string): AttackInfo {
  const a = ATTACKS.find((x) => x.name === name);
  if (!a) throw new Error(`internal error: unknown attack ${name}`);
  return a;
}
