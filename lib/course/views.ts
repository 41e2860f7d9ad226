/**
 * Live views of the RLHF trainers: charts that redraw in place while a run goes, built on
 * display.ts's livePlot and table. A trainer never draws; it calls back (ppoTrain's and criticFreeTrain's onIteration,
 * dpoTrain's onStep) and a view draws. Call `done()` after the run for the final draw.
 */
import { LivePlot, livePlot, table } from '../view/display';
import { FAST } from '../core/mode';
import type { DPOStep } from '../methods/dpo';
import type { PPOStats } from '../methods/ppo';
import type { CriticFreeIterationStats } from '../methods/criticFree';
import type { Rollout } from '../rl/rollout';

/** What every online trainer reports per iteration (PPOStats, CriticFreeIterationStats). */
interface IterationStats { iteration: number; proxy: number; gold: number; kl: number; entropy: number }

type ViewOptions = { sampleEvery?: number; samples?: number; title?: string };

/** Rewards, KL and entropy, the method's own health chart, and samples every `sampleEvery` iterations. */
function onlineLiveView<S extends IterationStats>(title: string, health: [string, (s: S) => Record<string, number>], opts: ViewOptions) {
  const charts: [LivePlot, (s: S) => Record<string, number>][] = [
    [livePlot({ title: `${title}: rewards`, xTitle: 'iteration', yTitle: 'mean score', height: 300 }), (s) => ({ proxy: s.proxy, gold: s.gold })],
    [livePlot({ title: `${title}: KL to the SFT reference (nats) and entropy (nats/token)`, xTitle: 'iteration', yTitle: 'nats', height: 300 }), (s) => ({ kl: s.kl, entropy: s.entropy })],
    [livePlot({ title: `${title}: ${health[0]}`, xTitle: 'iteration', yTitle: '', height: 300 }), health[1]],
  ];
  const sampleEvery = opts.sampleEvery ?? (FAST ? 0 : 10);
  const onIteration = (s: S, r: Rollout, scores: { proxy: number[]; gold: number[] }) => {
    for (const [chart, pick] of charts) chart.add(s.iteration, pick(s));
    if (sampleEvery > 0 && s.iteration % sampleEvery === 0) {
      const n = Math.min(opts.samples ?? 3, r.prompts.length);
      table(Array.from({ length: n }, (_, i) => ({
        prompt: r.prompts[i].replace(/\n/g, ' / '), completion: r.completions[i], proxy: scores.proxy[i], gold: scores.gold[i],
      })), { caption: `${title} iteration ${s.iteration}: samples` });
    }
  };
  return { onIteration, sampleEvery, done: () => charts.forEach(([c]) => c.done()) };
}

/**
 * The live view of a PPO run: three charts (rewards: proxy and gold; KL to the reference and
 * entropy; clip fraction and value loss) and a table of samples every `sampleEvery` iterations
 * (default 10; 0 = never, the default in fast mode).
 */
export function ppoLiveView(opts: ViewOptions = {}) {
  return onlineLiveView<PPOStats>(opts.title ?? 'PPO', ['clip fraction and value loss', (s) => ({ clipFrac: s.clipFrac, valueLoss: s.valueLoss })], opts);
}

/**
 * The live view of a critic-free run (criticFreeTrain's onIteration): rewards, KL and entropy, and
 * instead of a value loss the fraction of prompts whose K samples all scored the same (no signal)
 * beside the clip fraction (GRPO's; 0 for REINFORCE and RLOO).
 */
export function criticFreeLiveView(opts: ViewOptions = {}) {
  return onlineLiveView<CriticFreeIterationStats>(opts.title ?? 'critic-free RL', ['clip fraction and groups without contrast', (s) => ({ clipFrac: s.clipFrac, flatGroups: s.flatGroups })], opts);
}

/**
 * The live view of a DPO (or IPO) run: the mean summed log-probs of the chosen and the rejected
 * completions per step. Both often fall, the rejected faster (trl#800).
 */
export function dpoLiveView(opts: { loss?: 'dpo' | 'ipo'; title?: string } = {}) {
  const chart = livePlot({ title: opts.title ?? `${(opts.loss ?? 'dpo').toUpperCase()}: log-probs of chosen and rejected`, yTitle: 'log pi(y|x), nats' });
  return {
    onStep: (s: DPOStep) => chart.add(s.step, { chosen: s.chosenLogp, rejected: s.rejectedLogp }),
    done: () => chart.done(),
  };
}
