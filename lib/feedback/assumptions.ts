/**
 * Simulated labelers that break the presumptions RLHF stands on (chapter 11). Each has the public
 * shape of SimulatedLabeler that labelPairs uses (`label(prompt, completionA, completionB,
 * metadata)` returning a comparison record, and `config.id` / `name` for provenance), and writes the
 * same JSONL records, with what it did in `metadata`.
 *
 * - AttributeLabeler (Bradley-Terry): judges several attributes and decides lexicographically (the
 *   first attribute whose difference is noticeable decides; Tversky 1969's lexicographic semiorder)
 *   or by a majority of attributes (Condorcet's voters inside one head). Neither is a function of
 *   one scalar, and both can cycle: A > B > C > A.
 * - DriftingLabeler (VNM, independence of data): its utility moves from one gold to another over
 *   the session, linearly over `driftLabels` labels.
 * - AnchoringLabeler (VNM): its verdict leans towards the side it chose on the previous pair.
 *
 * The two noisy ones perceive a margin m (gold units, A minus B) plus logistic noise of scale
 * `temperature` (the difference of two Gumbels, exactly as SimulatedLabeler), choose its sign, and
 * take the strength from |m| against `strengthThresholds`.
 */
import { Rng } from '../core/rng';
import { seedFor } from '../core/seed';
import { Comparison, makeComparison, strengthOf } from './preferences';
import { Labeler, LabelerConfig } from './labeler';

/** A score of a completion (higher = better); the prompt is passed for scores that read it. */
export type Score = (completion: string, prompt: string) => number;

/** The labelers below take SimulatedLabeler's settings (id, noise temperature, strength thresholds, seed); their default temperature is 0 (no noise). */
export type NoisyConfig = LabelerConfig;

const NOISY_DEFAULTS: NoisyConfig = { id: 'labeler', temperature: 0, strengthThresholds: [0.25, 0.75, 1.5], seed: 0 };

/** Shared by the labelers below: noise, ties and strengths, one record. */
abstract class MarginLabeler<C extends NoisyConfig> {
  readonly config: C;
  protected rng: Rng;

  constructor(config: C) {
    this.config = config;
    const t = config.temperature;
    if (!(t >= 0) || !Number.isFinite(t)) throw new Error(`${this.constructor.name}: temperature must be >= 0, got ${t}`);
    const th = config.strengthThresholds;
    if (!(th.length === 3 && th[0] >= 0 && th[0] <= th[1] && th[1] <= th[2])) {
      throw new Error(`${this.constructor.name}: strengthThresholds must be 3 increasing numbers >= 0, got ${JSON.stringify(th)}`);
    }
    this.rng = new Rng(seedFor(config.seed));
  }

  /** The labeler's id, as in each record's `labeler` field (the Labeler interface). */
  get id(): string {
    return this.config.id;
  }

  /** Choose from a margin (A minus B, before noise) and write the record. */
  protected record(prompt: string, completionA: string, completionB: string, margin: number, metadata: Record<string, unknown>): Comparison {
    const t = this.config.temperature;
    let m = margin;
    if (t > 0) {
      let u = 0;
      while (u === 0) u = this.rng.next();
      m += t * Math.log(u / (1 - u)); // logistic(0, t): P(choose A) = sigmoid(margin / t)
    }
    if (m === 0) m = this.rng.next() < 0.5 ? 1e-12 : -1e-12;
    const level = this.config.strengthThresholds.filter((x) => Math.abs(m) >= x).length;
    return makeComparison(prompt, completionA, completionB, strengthOf(m > 0 ? 'A' : 'B', level), this.config.id, { metadata });
  }
}

export interface Attribute {
  name: string;
  score: Score;
  /** Differences smaller than this go unnoticed (default 0). */
  threshold?: number;
}

export interface AttributeConfig {
  id: string;
  /** 'lexicographic': the first attribute with a noticeable difference decides; 'majority': most noticeable differences win. */
  rule: 'lexicographic' | 'majority';
  /** Seed of the coin that breaks ties (no attribute noticed, or a drawn vote); default 0. */
  seed: number;
  /** A reference score written to metadata goldA/goldB (for goldAgreement); none by default. */
  gold?: Score;
}

/**
 * Judges attributes in order; deterministic except for the coin on ties. Records carry each
 * attribute's difference (A minus B) in metadata.attributes and what decided in metadata.decidedBy
 * (an attribute's name, "majority", or "coin"). The strength: lexicographic, ">" (level 1) when an
 * attribute decided; majority, the vote margin (1 to 3, e.g. 2-1 is ">", 3-0 ">>>"); a coin, ">=".
 */
export class AttributeLabeler implements Labeler {
  readonly config: AttributeConfig;
  private rng: Rng;

  constructor(readonly attributes: Attribute[], config: Partial<AttributeConfig> = {}) {
    this.config = { id: 'attributes', rule: 'lexicographic', seed: 0, ...config };
    if (attributes.length === 0) throw new Error('AttributeLabeler: no attributes');
    if (this.config.rule !== 'lexicographic' && this.config.rule !== 'majority') throw new Error(`AttributeLabeler: rule must be "lexicographic" or "majority", got ${JSON.stringify(this.config.rule)}`);
    for (const a of attributes) if (!((a.threshold ?? 0) >= 0)) throw new Error(`AttributeLabeler: attribute ${a.name} has threshold ${a.threshold}; it must be >= 0`);
    this.rng = new Rng(seedFor(this.config.seed));
  }

  get id(): string {
    return this.config.id;
  }

  label(prompt: string, completionA: string, completionB: string, metadata: Record<string, unknown> = {}): Comparison {
    const diffs = this.attributes.map((a) => a.score(completionA, prompt) - a.score(completionB, prompt));
    const noticed = diffs.map((d, i) => (Math.abs(d) > (this.attributes[i].threshold ?? 0) ? Math.sign(d) : 0));
    let sign = 0;
    let level = 1;
    let decidedBy = 'coin';
    if (this.config.rule === 'lexicographic') {
      const i = noticed.findIndex((s) => s !== 0);
      if (i >= 0) [sign, decidedBy] = [noticed[i], this.attributes[i].name];
    } else {
      const votes = noticed.reduce((s, x) => s + x, 0);
      if (votes !== 0) [sign, level, decidedBy] = [Math.sign(votes), Math.min(3, Math.abs(votes)), 'majority'];
    }
    if (sign === 0) [sign, level] = [this.rng.next() < 0.5 ? 1 : -1, 0];
    const attributes = Object.fromEntries(this.attributes.map((a, i) => [a.name, diffs[i]]));
    const g = this.config.gold;
    const gold = g ? { goldA: g(completionA, prompt), goldB: g(completionB, prompt) } : {};
    return makeComparison(prompt, completionA, completionB, strengthOf(sign > 0 ? 'A' : 'B', level), this.config.id, {
      metadata: { ...metadata, ...gold, attributes, decidedBy, rule: this.config.rule },
    });
  }
}

export interface DriftConfig extends NoisyConfig {
  /** Labels over which the utility moves from `from` to `to` (default 100); later labels use `to` alone. */
  driftLabels: number;
}

/**
 * A labeler whose utility drifts during the session: label t (0-based, counted by this labeler)
 * perceives u_t = (1 - a_t) * from + a_t * to with a_t = min(1, t / driftLabels). Records carry
 * metadata.step, metadata.drift (a_t) and the perceived utilities as goldA/goldB.
 */
export class DriftingLabeler extends MarginLabeler<DriftConfig> implements Labeler {
  private step = 0;

  constructor(readonly from: Score, readonly to: Score, config: Partial<DriftConfig> = {}) {
    super({ ...NOISY_DEFAULTS, id: 'drifting', driftLabels: 100, ...config });
    if (!(this.config.driftLabels > 0)) throw new Error(`DriftingLabeler: driftLabels must be > 0, got ${this.config.driftLabels}`);
  }

  /** The weight of `to` at label t. */
  driftAt(t: number): number {
    return Math.min(1, t / this.config.driftLabels);
  }

  /** Labels given so far. */
  get labels(): number {
    return this.step;
  }

  label(prompt: string, completionA: string, completionB: string, metadata: Record<string, unknown> = {}): Comparison {
    const a = this.driftAt(this.step);
    const u = (c: string) => (1 - a) * this.from(c, prompt) + a * this.to(c, prompt);
    const [gA, gB] = [u(completionA), u(completionB)];
    const r = this.record(prompt, completionA, completionB, gA - gB, { ...metadata, goldA: gA, goldB: gB, step: this.step, drift: a, temperature: this.config.temperature });
    this.step++;
    return r;
  }
}

export interface AnchorConfig extends NoisyConfig {
  /** Added to the margin towards the side chosen on the previous pair, gold units (default 0.5). */
  anchor: number;
}

/**
 * A labeler anchored on its previous verdict: margin = gold(A) - gold(B) + anchor * s, where s = +1
 * if it chose A on its previous pair, -1 if B, 0 on its first. Records carry metadata.previous
 * ("A", "B" or null) and gold as goldA/goldB (the preference it would state without the anchor).
 */
export class AnchoringLabeler extends MarginLabeler<AnchorConfig> implements Labeler {
  private previous: 'A' | 'B' | null = null;

  constructor(readonly gold: Score, config: Partial<AnchorConfig> = {}) {
    super({ ...NOISY_DEFAULTS, id: 'anchoring', anchor: 0.5, ...config });
    if (!Number.isFinite(this.config.anchor)) throw new Error(`AnchoringLabeler: anchor must be a finite number, got ${this.config.anchor}`);
  }

  label(prompt: string, completionA: string, completionB: string, metadata: Record<string, unknown> = {}): Comparison {
    const [gA, gB] = [this.gold(completionA, prompt), this.gold(completionB, prompt)];
    const s = this.previous === 'A' ? 1 : this.previous === 'B' ? -1 : 0;
    const r = this.record(prompt, completionA, completionB, gA - gB + this.config.anchor * s, {
      ...metadata, goldA: gA, goldB: gB, previous: this.previous, anchor: this.config.anchor, temperature: this.config.temperature,
    });
    this.previous = r.choice;
    return r;
  }
}
