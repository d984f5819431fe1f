/**
 * The report's learned-at-all paragraph: the pooled gate's sentence, and a bold sentence naming a class the
 * samples do not teach (evaluate's learned.untaught), e.g. a rare class a GAN collapsed to one pattern.
 */
import { describe, expect, it } from 'vitest';
import { sections } from '../../../src/report/render.js';
import { reportDataFor } from '../../helpers/report-data.js';

const indices = { gini: 0.5, shannon: 0.8, pielou: 0.6, emptyCells: 0 };

function evaluation(untaught?: { name: string; realRecall: number }[]): Record<string, unknown> {
  return {
    classes: ['healthy', 'disease'],
    groups: ['female', 'male'],
    diversity: { cells: { realTrain: { counts: [[300, 900], [20, 110]], indices }, synthetic: { counts: [[70, 200], [8, 22]], indices } } },
    learned: {
      space: 'domain-cnn features',
      m: 296,
      distinctNearest: { synthetic: 198, reference: 251, ratio: 0.79 },
      modeCoverage: { k: 50, synthetic: 0.7, reference: 0.92, ratio: 0.76 },
      conditionalAccuracy: { synthetic: 1, reference: 0.94, chance: 0.5, margin: 1.14 },
      thresholds: { distinctRatio: 0.25, modeCoverageRatio: 0.3, conditionalMargin: 0.25 },
      collapsed: false,
      conditional: true,
      learned: true,
      reasons: [],
      ...(untaught ? { untaught } : {}),
    },
  };
}


const diversity = (ev: Record<string, unknown>) => sections(reportDataFor(ev, 'dpgan')).find((s) => s.id === 'diversity')!.paragraphs.join('\n');

describe('report: learned-at-all paragraph', () => {
  it('names a class the samples do not teach beside the pooled tests that passed', () => {
    const text = diversity(evaluation([{ name: 'disease', realRecall: 0.88 }]));
    expect(text).toMatch(/pass every learned-at-all test/);
    expect(text).toMatch(/<b>These tests pool the classes: .*disease \(a classifier trained on real images: recall 0\.880\).*do not teach this class\.<\/b>/);
  });

  it('adds nothing when every class is taught, or for an evaluation written before the field existed', () => {
    expect(diversity(evaluation([]))).not.toMatch(/pool the classes/);
    expect(diversity(evaluation())).not.toMatch(/pool the classes/);
  });
});
