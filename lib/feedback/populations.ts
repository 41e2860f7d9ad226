/**
 * Who labels (chapter 11, the aggregation presumption): a pool of labeler populations with
 * different preferences in unequal shares. Each label is given by one population drawn at random
 * with its share, and the record says which (metadata.population), so a reward model trained on
 * the pooled labels can be compared with each population's own preference.
 *
 * A Bradley-Terry reward model trained on pooled labels does not learn "the" preference: where the
 * populations disagree it fits their mixture (Siththaranjan et al. 2023, arXiv 2312.08358, show it
 * aggregates like a Borda count); a majority of three labelers can even cycle (Condorcet; Arrow
 * 1951: no aggregation rule over three or more options meets all of his fairness conditions).
 */
import { Rng } from '../core/rng';
import { seedFor } from '../core/seed';
import { wordsOf, END_MARK } from './task';
import { Comparison } from './preferences';
import { Labeler } from './labeler';

export interface Population {
  /** Written to metadata.population. */
  name: string;
  /** Relative share of the labels (normalised over the populations; > 0). */
  share: number;
  labeler: Labeler;
}

/**
 * Labels each pair by a population drawn with probability share / sum of shares (seeded). The
 * record is the population's labeler's own, with metadata.population added. `draws` counts labels
 * given per population so far.
 */
export class MixtureLabeler implements Labeler {
  readonly config: { id: string; seed: number };
  readonly draws: Record<string, number>;
  private rng: Rng;

  constructor(readonly populations: Population[], config: Partial<{ id: string; seed: number }> = {}) {
    this.config = { id: 'mixture', seed: 0, ...config };
    if (populations.length === 0) throw new Error('MixtureLabeler: no populations');
    const names = new Set<string>();
    for (const p of populations) {
      if (!(p.share > 0) || !Number.isFinite(p.share)) throw new Error(`MixtureLabeler: population ${p.name} has share ${p.share}; shares must be finite and > 0`);
      if (names.has(p.name)) throw new Error(`MixtureLabeler: two populations are named ${JSON.stringify(p.name)}`);
      names.add(p.name);
    }
    this.draws = Object.fromEntries(populations.map((p) => [p.name, 0]));
    this.rng = new Rng(seedFor(this.config.seed));
  }

  /** The labeler's id, as in each record's `labeler` field (the Labeler interface). */
  get id(): string {
    return this.config.id;
  }

  /** Each population's share of the labels, normalised to sum to 1. */
  shares(): Record<string, number> {
    const total = this.populations.reduce((s, p) => s + p.share, 0);
    return Object.fromEntries(this.populations.map((p) => [p.name, p.share / total]));
  }

  label(prompt: string, completionA: string, completionB: string, metadata: Record<string, unknown> = {}): Comparison {
    const p = this.populations[this.rng.categorical(this.populations.map((q) => q.share))];
    this.draws[p.name]++;
    const r = p.labeler.label(prompt, completionA, completionB, metadata);
    return { ...r, metadata: { ...r.metadata, population: p.name } };
  }
}

/** Records grouped by metadata.population (records without one under "(none)"), in order of first appearance. */
export function byPopulation(records: Comparison[]): Map<string, Comparison[]> {
  const out = new Map<string, Comparison[]>();
  for (const r of records) {
    const p = typeof r.metadata.population === 'string' ? r.metadata.population : '(none)';
    const g = out.get(p);
    if (g) g.push(r);
    else out.set(p, [r]);
  }
  return out;
}

/** Number of words of a reply (before `<end>`): what a length taste reads. */
export function replyWords(completion: string): number {
  const end = completion.indexOf(END_MARK);
  return wordsOf(end >= 0 ? completion.slice(0, end) : completion).length;
}

/**
 * A population's gold: `base` plus `perWord` per word of the reply (positive: likes long replies;
 * negative: likes short ones). The populations of chapter 11 differ only in this taste.
 */
export function lengthTaste(base: (completion: string) => number, perWord: number): (completion: string) => number {
  if (!Number.isFinite(perWord)) throw new Error(`lengthTaste: perWord must be a finite number, got ${perWord}`);
  return (c) => base(c) + perWord * replyWords(c);
}
