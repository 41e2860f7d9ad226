/**
 * Labelers: who turns two completions of one prompt into a comparison record
 * (feedback/preferences.ts's JSONL format).
 *
 * `Labeler` is what every labeler is to the rest of the course: an id for provenance (written to
 * each record's `labeler` field) and `label(prompt, completionA, completionB, metadata)`, which
 * returns one checked `Comparison` (build it with `makeComparison`, keep `metadata` in the record's
 * metadata and add what the labeler saw, e.g. gold scores). Labelers keep their own state (a seeded
 * noise, a constitution, a thumbs-up rule applied to each completion alone), so a run is
 * reproducible from their seeds. `SimulatedLabeler` is the Bradley-Terry one of chapter 04;
 * `labelPairs` hands pairs to any mix of labelers.
 */
import { Rng } from '../core/rng';
import { seedFor } from '../core/seed';
import { Comparison, makeComparison, Pair, strengthOf } from './preferences';

export interface Labeler {
  /** Written to each record's `labeler` field (provenance; agreement is measured between ids). */
  readonly id: string;
  /** One comparison record of the two completions; `metadata` is copied into the record's metadata. */
  label(prompt: string, completionA: string, completionB: string, metadata?: Record<string, unknown>): Comparison;
}

export interface LabelerConfig {
  /** Written to each record's `labeler` field. */
  id: string;
  /**
   * Bradley-Terry temperature in gold-score units: P(A preferred) = sigmoid((gA - gB) / temperature).
   * 0 = always the gold order (default 0.25).
   */
  temperature: number;
  /** Perceived margins at which the strength steps up: >=, >, >>, >>> (default [0.25, 0.75, 1.5]). */
  strengthThresholds: [number, number, number];
  /** Seed of the labeler's noise (default 0). */
  seed: number;
}

const DEFAULT_LABELER: LabelerConfig = { id: 'sim', temperature: 0.25, strengthThresholds: [0.25, 0.75, 1.5], seed: 0 };

/**
 * A simulated human: perceives each completion's gold score plus Gumbel noise of scale
 * `temperature` and picks the larger. The difference of two Gumbels is logistic, so
 * P(A chosen) = sigmoid((gA - gB) / temperature) exactly (Bradley-Terry), and the strength comes
 * from the perceived margin, so choice and strength stay coherent (an upset is usually weak).
 * Exact gold ties at temperature 0 are broken by a coin with strength ">=".
 */
export class SimulatedLabeler implements Labeler {
  readonly config: LabelerConfig;
  private rng: Rng;

  constructor(readonly gold: (completion: string, prompt: string) => number, config: Partial<LabelerConfig> = {}) {
    this.config = { ...DEFAULT_LABELER, ...config };
    const t = this.config.temperature;
    if (!(t >= 0) || !Number.isFinite(t)) throw new Error(`SimulatedLabeler: temperature must be >= 0, got ${t}`);
    const th = this.config.strengthThresholds;
    if (!(th.length === 3 && th[0] >= 0 && th[0] <= th[1] && th[1] <= th[2])) {
      throw new Error(`SimulatedLabeler: strengthThresholds must be 3 increasing numbers >= 0, got ${JSON.stringify(th)}`);
    }
    this.rng = new Rng(seedFor(this.config.seed));
  }

  get id(): string {
    return this.config.id;
  }

  /** P(this labeler chooses A) for gold scores gA, gB. */
  probA(gA: number, gB: number): number {
    const t = this.config.temperature;
    if (t === 0) return gA > gB ? 1 : gA < gB ? 0 : 0.5;
    return 1 / (1 + Math.exp(-(gA - gB) / t));
  }

  private gumbel(): number {
    let u = 0;
    while (u === 0) u = this.rng.next();
    return -Math.log(-Math.log(u));
  }

  label(prompt: string, completionA: string, completionB: string, metadata: Record<string, unknown> = {}): Comparison {
    const gA = this.gold(completionA, prompt);
    const gB = this.gold(completionB, prompt);
    const t = this.config.temperature;
    let margin = t === 0 ? gA - gB : gA + t * this.gumbel() - (gB + t * this.gumbel());
    if (margin === 0) margin = this.rng.next() < 0.5 ? 1e-12 : -1e-12;
    const level = this.config.strengthThresholds.filter((x) => Math.abs(margin) >= x).length;
    return makeComparison(prompt, completionA, completionB, strengthOf(margin > 0 ? 'A' : 'B', level), this.config.id, {
      metadata: { ...metadata, goldA: gA, goldB: gB, temperature: t },
    });
  }
}

/**
 * Label pairs with any labelers: pair i goes to labelers i, i+1, ... (mod the number of
 * labelers), `perPair` of them (default 1; 2 or more lets labelerAgreement measure disagreement).
 */
export function labelPairs(pairs: Pair[], labelers: Labeler[], perPair = 1): Comparison[] {
  if (labelers.length === 0) throw new Error('labelPairs: no labelers');
  if (!Number.isInteger(perPair) || perPair < 1 || perPair > labelers.length) {
    throw new Error(`labelPairs: perPair must be an integer in 1..${labelers.length}, got ${perPair}`);
  }
  const out: Comparison[] = [];
  pairs.forEach((p, i) => {
    for (let k = 0; k < perPair; k++) out.push(labelers[(i + k) % labelers.length].label(p.prompt, p.completionA, p.completionB, p.metadata));
  });
  return out;
}
