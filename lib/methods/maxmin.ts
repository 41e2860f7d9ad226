/**
 * Serving several labeler populations at once (chapter 11, the aggregation presumption). One reward
 * model fitted to pooled labels serves whoever dominates the labels; MaxMin-RLHF (Chakraborty et
 * al. 2024, "MaxMin-RLHF: Towards Equitable Alignment of Large Language Models with Diverse Human
 * Preferences", arXiv 2402.08925) fits one reward model per population and optimises the worst of
 * them, the egalitarian rule of social choice: r(y) = min_g r_g(y). Each r_g must be on a common
 * scale for the minimum to mean anything: normalise each on the same reference replies first
 * (RewardModel.normalize).
 *
 * Here the rule is applied by selection: best-of-N with the max-min reward picks, for each prompt,
 * the sample whose worst population reward is highest.
 */
import { groupValues, ProxyScorer, rolloutRows } from '../rl/rollout';
import { BestOfNResult, selectBest } from './bestOfN';

/** Element-wise minimum over populations: scores[g][i] is population g's reward of item i. */
export function minOver(scores: number[][]): number[] {
  if (scores.length === 0) throw new Error('minOver: no populations');
  const n = scores[0].length;
  for (const [g, s] of scores.entries()) if (s.length !== n) throw new Error(`minOver: population 0 scores ${n} items, population ${g} ${s.length}`);
  return scores[0].map((_, i) => Math.min(...scores.map((s) => s[i])));
}

/** The max-min reward as a scorer of rows: each row's lowest reward over the populations' scorers. */
export function maxMinScorer(scorers: ProxyScorer[]): ProxyScorer {
  if (scorers.length === 0) throw new Error('maxMinScorer: no scorers');
  return (rows) => minOver(scorers.map((s) => s(rows)));
}

/**
 * Best-of-n again on an existing pool, by another scorer: the same samples, another choice (no new
 * sampling, so two selection rules are compared on identical candidates). Returns each prompt's
 * chosen sample index, its completion, and the scorer's scores[p][k].
 */
export function reselect(pool: Pick<BestOfNResult, 'samples' | 'groups'>, scorer: ProxyScorer): { chosen: number[]; completions: string[]; scores: number[][] } {
  const scores = groupValues(pool.groups, scorer(rolloutRows(pool.samples)));
  const chosen = selectBest(scores);
  return { chosen, completions: chosen.map((k, p) => pool.samples.completions[pool.groups.rows[p][k]]), scores };
}
