/**
 * The report's ethics checklist (issue #24): what a governance board asks before synthetic images are used,
 * each item filled from what the pipeline knows and linked to its evidence (a section anchor of the
 * report), or left "open" for a person to answer in `--sign-off FILE.json`.
 *
 * Status: `done` (the pipeline checked it; the answer says what it found), `attention` (checked, and a
 * person should look: no DP, δ ≥ 1/N, small groups, a poor verdict, high leakage, rejected images),
 * `not run` (the step that would answer it was not run; the answer says which), `open` (only a person can
 * answer; the answer names the sign-off field), `answered` (a person answered in the sign-off file).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import type { ReviewSummary } from '../review/log.js';
import type { AuditParts, EvaluationParts } from './inputs.js';
import { canaryFinding } from './canary.js';

export type ChecklistStatus = 'done' | 'attention' | 'not run' | 'open' | 'answered';

export interface ChecklistItem {
  id: string;
  question: string;
  status: ChecklistStatus;
  answer: string;
  /** The report section holding the evidence ('#privacy'), or null. */
  evidence: string | null;
  /** For items a person answers: the field of the sign-off file. */
  signOffField?: keyof SignOff;
}

const text = z.string().trim().min(1).max(5000);
export const SignOffSchema = z
  .object({
    signedBy: text.optional(),
    date: text.optional(),
    intendedUse: text.optional(),
    dataLicence: text.optional(),
    tuningOnPrivateData: text.optional(),
    clinicalSignOff: text.optional(),
  })
  .strict();
export type SignOff = z.infer<typeof SignOffSchema>;
export const SIGN_OFF_FIELDS = Object.keys(SignOffSchema.shape) as (keyof SignOff)[];

/** Reads and checks `--sign-off FILE.json`; every problem is a ConfigError naming the fields. */
export function readSignOff(path: string): SignOff {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`--sign-off ${path}: ${code ? `cannot read the file (${code})` : 'not valid JSON'}; give a JSON object with any of ${SIGN_OFF_FIELDS.join(', ')}`);
  }
  const r = SignOffSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
    throw new ConfigError(`--sign-off ${path}: ${issues}; the fields are ${SIGN_OFF_FIELDS.join(', ')}, each a non-empty string`);
  }
  return r.data;
}

type Obj = Record<string, any>;
type Level = 'good' | 'fair' | 'poor' | 'unknown' | 'not informative';

export interface ChecklistInput {
  privacy: Obj;
  modelCard: Obj;
  evaluation: EvaluationParts | null;
  audit: AuditParts | null;
  verdicts: Record<string, { level: Level; text: string }>;
  review: ReviewSummary | null;
  signOff: SignOff | null;
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(0)}%`);

function person(id: string, question: string, field: keyof SignOff, signOff: SignOff | null, openText: string, evidence: string | null = null): ChecklistItem {
  const v = signOff?.[field];
  const by = signOff?.signedBy ? ` (${signOff.signedBy}${signOff.date ? `, ${signOff.date}` : ''})` : '';
  return v
    ? { id, question, status: 'answered', answer: `${v}${by}`, evidence, signOffField: field }
    : { id, question, status: 'open', answer: `${openText} Answer it in --sign-off FILE.json, field "${field}".`, evidence, signOffField: field };
}

export function buildChecklist(x: ChecklistInput): ChecklistItem[] {
  const pv = x.privacy;
  const items: ChecklistItem[] = [];
  const dp = pv.differentialPrivacy === true;
  const eps = num(pv.epsilon);
  items.push(
    dp
      ? { id: 'dp', question: 'Is the generator trained with differential privacy?', status: 'done', answer: `yes: (ε = ${eps?.toFixed(2) ?? '–'}, δ = ${pv.delta})-DP per ${pv.unit}, ${pv.accountant} accountant`, evidence: '#privacy' }
      : { id: 'dp', question: 'Is the generator trained with differential privacy?', status: 'attention', answer: 'no: the generator has no formal privacy guarantee', evidence: '#privacy' },
  );
  const n = num(pv.units);
  const delta = num(pv.delta);
  items.push(
    !dp || n === null || delta === null
      ? { id: 'delta', question: 'Is δ below 1/N (N = privacy units in the train split)?', status: dp ? 'attention' : 'not run', answer: dp ? 'the model card does not give N or δ' : 'no DP', evidence: '#privacy' }
      : {
          id: 'delta',
          question: 'Is δ below 1/N (N = privacy units in the train split)?',
          status: delta < 1 / n ? 'done' : 'attention',
          answer: `${delta < 1 / n ? 'yes' : 'NO'}: δ = ${delta} vs 1/N = 1/${n} = ${(1 / n).toPrecision(3)} (${pv.unit}s)`,
          evidence: '#privacy',
        },
  );
  const tuningCaveat = ((pv.doesNotCover ?? []) as string[]).find((s) => /tuning/i.test(s));
  items.push(
    person(
      'tuning',
      'Was anything (hyperparameters, model choice, thresholds) tuned on the private data?',
      'tuningOnPrivateData',
      x.signOff,
      `medsynth cannot tell.${tuningCaveat ? ` The guarantee does not cover it (model card: "${tuningCaveat}").` : ''}`,
      '#privacy',
    ),
  );
  const canary = x.audit?.canaryAudit;
  const found = canaryFinding(canary);
  items.push(
    found?.finding === 'broken'
      ? { id: 'canary', question: 'Was a canary audit run?', status: 'attention', answer: `yes, and ${found.why}: the DP implementation is broken; do not release`, evidence: '#privacy' }
      : canary
      ? { id: 'canary', question: 'Was a canary audit run?', status: 'done', answer: `yes${typeof canary.summary === 'string' ? `: ${canary.summary}` : num(canary.epsilonLowerBound) !== null ? `: empirical ε lower bound ${num(canary.epsilonLowerBound)!.toFixed(2)}` : ''}`, evidence: '#attacks' }
      : { id: 'canary', question: 'Was a canary audit run?', status: 'not run', answer: 'no canary audit in the audit JSON', evidence: '#attacks' },
  );
  const attacks = x.audit?.attacks ?? [];
  const best = x.audit?.best;
  const privacyLevel = x.verdicts.privacy?.level;
  items.push(
    attacks.length
      ? {
          id: 'attacks',
          question: 'Which membership-inference attacks were run?',
          status: privacyLevel === 'poor' ? 'attention' : 'done',
          answer: `${attacks.map((a) => a.name).join(', ')}${best ? `; best AUC ${num(best.auc)?.toFixed(3) ?? '–'} (${best.attack}), empirical ε lower bound ${num(best.epsilonLowerBound)?.toFixed(2) ?? '–'}` : ''}`,
          evidence: '#attacks',
        }
      : { id: 'attacks', question: 'Which membership-inference attacks were run?', status: 'not run', answer: 'none: run medsynth audit and pass --audit', evidence: '#attacks' },
  );
  const fb = x.evaluation?.fairness;
  if (!x.evaluation) items.push({ id: 'small-groups', question: 'Which groups are below the minimum size?', status: 'not run', answer: 'not evaluated: run medsynth evaluate and pass --eval', evidence: '#utility' });
  else if (!fb) items.push({ id: 'small-groups', question: 'Which groups are below the minimum size?', status: 'not run', answer: 'this evaluation has no group sizes (re-run medsynth evaluate)', evidence: '#utility' });
  else {
    const groups = fb.groups ?? [];
    const excluded = (fb.excluded ?? []).map((e) => `${groups[e.group!] ?? e.group} (${e.n})`);
    items.push({
      id: 'small-groups',
      question: 'Which groups are below the minimum size?',
      status: excluded.length ? 'attention' : 'done',
      answer: excluded.length ? `${excluded.join(', ')}: fewer than ${fb.minGroup} real test images, left out of the fairness figures` : `none: every group has at least ${fb.minGroup} real test images`,
      evidence: '#utility',
    });
  }
  const verdictItem = (id: string, question: string, key: string, evidence: string): ChecklistItem => {
    const v = x.verdicts[key];
    if (!x.evaluation || !v) return { id, question, status: 'not run', answer: 'not evaluated: run medsynth evaluate and pass --eval', evidence };
    return { id, question, status: v.level === 'good' || v.level === 'fair' ? 'done' : 'attention', answer: v.text.startsWith(v.level) ? v.text : `${v.level}: ${v.text}`, evidence };
  };
  items.push(verdictItem('fairness', 'Fairness before and after augmentation (worst-group accuracy, equalized odds)?', 'fairness', '#utility'));
  items.push(verdictItem('diversity', 'Are the samples diverse (not collapsed, not copies)?', 'diversity', '#diversity'));
  const r = x.review;
  if (!r) items.push({ id: 'review', question: 'Did a person review the synthetic images before release?', status: 'not run', answer: 'no review given: run medsynth review, then pass its review.jsonl (or release\'s review-summary.json) with --review', evidence: null });
  else {
    const cells = r.cells.map((c) => `${c.cell} ${pct(c.acceptanceRate)} of ${c.reviewed}`).join('; ');
    items.push({
      id: 'review',
      question: 'Did a person review the synthetic images before release?',
      status: r.reviewed === 0 || r.reviewed < r.images ? 'attention' : 'done',
      answer: `${r.reviewers.length} reviewer(s) (${r.reviewers.join(', ')}) decided on ${r.reviewed} of ${r.images} images; ${r.released} released, ${r.rejected} rejected (acceptance ${pct(r.acceptanceRate)}); per cell: ${cells}. Rule: ${r.rule}`,
      evidence: '#review',
    });
  }
  const ds = x.modelCard.dataset as Obj | undefined;
  items.push({
    id: 'source',
    question: 'Where do the training data come from?',
    status: ds ? 'done' : 'attention',
    answer: ds ? `${ds.name} (${ds.source} adapter), fingerprint ${ds.fingerprint}` : 'the model card names no dataset',
    evidence: '#provenance',
  });
  items.push(person('licence', 'Under which licence or agreement may the data be used for this?', 'dataLicence', x.signOff, 'medsynth does not know the licence of the data.', '#provenance'));
  items.push(person('intended-use', 'What is the intended use of the synthetic images?', 'intendedUse', x.signOff, 'Only the people releasing the images can say.'));
  items.push(person('clinical-sign-off', 'Has a clinician signed off the release?', 'clinicalSignOff', x.signOff, 'Needs a named clinician.'));
  return items;
}
