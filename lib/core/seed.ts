/**
 * The run seed: `RLHF_SEED=k` re-seeds the random choices of chapters 04-08 and 12 so that the same
 * recipe can be run several times (the reference results of `npm run reference` are seeds 0, 1, 2).
 *
 * Every stage keeps its own base seed (a constant in its config or call); `seedFor(base)` offsets it
 * by k * SEED_STRIDE. k = 0 (the default) returns the base unchanged, so a run without RLHF_SEED is
 * exactly the run of earlier versions of the course.
 *
 * What moves with RLHF_SEED (each through seedFor at the point where the seed is consumed):
 *   - all sampling through `rollout` (comparison pairs of 04, PPO rollouts, best-of-N and
 *     rejection-sampling pools, every evaluation of 05-07 and 12, and also chapter 03's sample tables);
 *   - the simulated labelers (04), the reward model's head initialisation and batch order (04);
 *   - PPO's prompt order and minibatches (05), the critic-free trainer's (08) and its exact-oracle toy's
 *     samples, DPO's batch order (07), the position-biased judge (12).
 * What stays fixed: pretraining (02) and supervised fine-tuning (03, and the batch order of
 * rejection-sampling fine-tuning, which uses the same trainer), the choice of prompts
 * (makePrompts) and the held-out evaluation prompts. The reference runs chapters 02-03 once, at
 * seed 0, and shares them between its seeds.
 */

/** Distance between the seeds of two runs: larger than the base seeds of the stages (all below 100,000). */
export const SEED_STRIDE = 100_003;

/** The run seed k from RLHF_SEED (default 0); read at every call so a test can change it. */
export function runSeed(): number {
  const raw = process.env.RLHF_SEED;
  if (raw === undefined || raw.trim() === '') return 0;
  const k = Number(raw);
  if (!Number.isInteger(k) || k < 0 || k > 9999) {
    throw new Error(`RLHF_SEED must be a whole number from 0 to 9999 (the run seed), got "${raw}"`);
  }
  return k;
}

/** A stage's base seed offset by the run seed: `base` itself when RLHF_SEED is unset or 0. */
export function seedFor(base: number): number {
  if (!Number.isFinite(base)) throw new Error(`seedFor: base seed must be a finite number, got ${base}`);
  return base + SEED_STRIDE * runSeed();
}
