/**
 * A short history of quantifying preferences, from the Port-Royal Logic (1662) to InstructGPT and
 * ChatGPT (2022), following the lecture's line (Lambert's RLHF lecture: Port-Royal, Bentham,
 * Ramsey, operant conditioning, Bellman, MDPs, von Neumann-Morgenstern, Bradley-Terry, Arrow), and
 * which of RLHF's presumptions each idea founded or put in doubt. Chapter 11 shows it as one plotly
 * timeline and says, for each experiment, which presumption it tests.
 *
 * Dates are of first publication (a work written earlier says so in `idea`).
 */
import { Layout, plot, Trace } from '../view/display';

/** The presumptions RLHF stands on (the lecture's six), and the chapter 11 experiment that tests each. */
export const PRESUMPTIONS = {
  'quantified preferences': 'what people prefer can be measured and put on a number line (the root of the others)',
  'RL works': 'optimising a reward with reinforcement learning produces the behaviour the reward describes',
  'VNM utility': 'a labeler\'s preferences come from a fixed utility, the same whatever was seen before (tested: drifting and anchoring labelers)',
  'Bradley-Terry': 'one scalar per reply explains every choice, P(A > B) = sigmoid(r(A) - r(B)) (tested: attribute labelers, cycles and the scalar ceiling)',
  aggregation: 'many labelers\' preferences can be pooled into one reward (tested: labeler populations, a Condorcet cycle)',
  'independence of data': 'each comparison is an independent draw from one fixed preference (tested: drift and anchoring break it)',
  'independence of training': 'the reward model, once trained, stays a faithful target while the policy moves (chapters 05-07 and 12: over-optimisation)',
} as const;
export type Presumption = keyof typeof PRESUMPTIONS;

export interface HistoryEvent {
  year: number;
  who: string;
  /** The work and the idea, in one line. */
  idea: string;
  presumption: Presumption;
  /** Whether the idea founded the presumption or put it in doubt. */
  stance: 'founds' | 'challenges';
  /** A short name for the timeline where `who` is long or neighbours crowd it (default `who`). */
  label?: string;
}

export const HISTORY: readonly HistoryEvent[] = [
  { year: 1662, who: 'Arnauld and Nicole', idea: 'Port-Royal Logic: weigh a harm by its gravity and by its probability (expected value in decisions)', presumption: 'quantified preferences', stance: 'founds', label: 'Port-Royal' },
  { year: 1738, who: 'Daniel Bernoulli', idea: 'Specimen theoriae novae de mensura sortis: utility is not money; diminishing marginal utility (St Petersburg paradox)', presumption: 'VNM utility', stance: 'founds', label: 'Bernoulli' },
  { year: 1785, who: 'Condorcet', idea: 'Essai sur ... la pluralité des voix: majorities of consistent voters can cycle (A > B > C > A)', presumption: 'aggregation', stance: 'challenges' },
  { year: 1789, who: 'Jeremy Bentham', idea: 'Principles of Morals and Legislation: utility as pleasure minus pain, summed over everyone (felicific calculus)', presumption: 'quantified preferences', stance: 'founds', label: 'Bentham' },
  { year: 1898, who: 'Edward Thorndike', idea: 'Animal Intelligence: the law of effect, behaviour followed by satisfaction is stamped in', presumption: 'RL works', stance: 'founds', label: 'Thorndike' },
  { year: 1927, who: 'L. L. Thurstone', idea: 'A law of comparative judgment: each paired comparison an independent draw of a noisy perceived value', presumption: 'independence of data', stance: 'founds', label: 'Thurstone' },
  { year: 1929, who: 'Ernst Zermelo', idea: 'Ranking chess players from tournament results: the model later named Bradley-Terry, fitted by maximum likelihood', presumption: 'Bradley-Terry', stance: 'founds', label: 'Zermelo' },
  { year: 1931, who: 'Frank Ramsey', idea: 'Truth and Probability (written 1926): degrees of belief and utilities read off preferences between bets', presumption: 'VNM utility', stance: 'founds', label: 'Ramsey' },
  { year: 1938, who: 'B. F. Skinner', idea: 'The Behavior of Organisms: operant conditioning, behaviour shaped by its reinforcement', presumption: 'RL works', stance: 'founds', label: 'Skinner' },
  { year: 1947, who: 'von Neumann and Morgenstern', idea: 'Theory of Games and Economic Behavior (2nd ed.): axioms under which preferences are expected utility', presumption: 'VNM utility', stance: 'founds', label: 'von Neumann-Morgenstern' },
  { year: 1951, who: 'Kenneth Arrow', idea: 'Social Choice and Individual Values (after his 1950 paper): no rule pools three or more options fairly', presumption: 'aggregation', stance: 'challenges', label: 'Arrow' },
  { year: 1952, who: 'Bradley and Terry', idea: 'Rank analysis of incomplete block designs: P(i beats j) = p_i / (p_i + p_j)', presumption: 'Bradley-Terry', stance: 'founds', label: 'Bradley-Terry' },
  { year: 1957, who: 'Richard Bellman', idea: 'Dynamic Programming and "A Markovian decision process": the Bellman equation over states', presumption: 'RL works', stance: 'founds', label: 'Bellman' },
  { year: 1959, who: 'R. Duncan Luce', idea: 'Individual Choice Behavior: the choice axiom, Bradley-Terry for K options (Plackett-Luce)', presumption: 'Bradley-Terry', stance: 'founds', label: 'Luce' },
  { year: 1960, who: 'Ronald Howard', idea: 'Dynamic Programming and Markov Processes: MDPs solved by policy iteration', presumption: 'RL works', stance: 'founds', label: 'Howard (MDPs)' },
  { year: 1969, who: 'Amos Tversky', idea: 'Intransitivity of preferences: people judging by attributes choose in cycles', presumption: 'Bradley-Terry', stance: 'challenges', label: 'Tversky' },
  { year: 1974, who: 'Tversky and Kahneman', idea: 'Judgment under Uncertainty: anchoring, judgements lean on what came just before', presumption: 'independence of data', stance: 'challenges', label: 'anchoring' },
  { year: 1979, who: 'Kahneman and Tversky', idea: 'Prospect theory: choices violate expected utility in regular ways', presumption: 'VNM utility', stance: 'challenges', label: 'prospect theory' },
  { year: 1992, who: 'Ronald Williams', idea: 'REINFORCE: policy gradients for any differentiable policy', presumption: 'RL works', stance: 'founds', label: 'REINFORCE' },
  { year: 2017, who: 'Christiano et al.', idea: 'Deep RL from human preferences: a Bradley-Terry reward model trained on comparisons, then RL', presumption: 'Bradley-Terry', stance: 'founds' },
  { year: 2019, who: 'Ziegler et al.', idea: 'Fine-tuning language models from human preferences: reward model first, then PPO against it', presumption: 'independence of training', stance: 'founds' },
  { year: 2022, who: 'Ouyang et al. (OpenAI)', idea: 'InstructGPT, then ChatGPT: about 40 contractors\' comparisons stand for what users prefer', presumption: 'aggregation', stance: 'founds', label: 'InstructGPT' },
];

/** The timeline's traces and layout: one row per presumption, a marker per event (hollow: it challenges). */
export function historySpec(events: readonly HistoryEvent[] = HISTORY): { traces: Trace[]; layout: Layout } {
  const rows = (Object.keys(PRESUMPTIONS) as Presumption[]).filter((p) => events.some((e) => e.presumption === p));
  const traces: Trace[] = rows.map((p) => {
    const es = events.filter((e) => e.presumption === p);
    return {
      type: 'scatter', mode: 'markers+text', name: p,
      // labels alternate above and below the row, so neighbours a few years apart stay legible
      x: es.map((e) => e.year), y: es.map(() => p), text: es.map((e) => e.label ?? e.who), textposition: es.map((_, i) => (i % 2 ? 'bottom center' : 'top center')),
      hovertext: es.map((e) => `${e.year}, ${e.who} (${e.stance} it): ${e.idea}`), hoverinfo: 'text',
      marker: { size: 11, symbol: es.map((e) => (e.stance === 'founds' ? 'circle' : 'circle-open')) },
    };
  });
  const layout: Layout = {
    title: 'Quantifying preferences, 1662-2022: where each presumption of RLHF comes from',
    // log axis of 2030 - year, from 480 years before (left) to 3 years before (right): centuries compress, recent years spread
    xaxis: { title: 'year (log of years before 2030, so recent decades get room)', type: 'log', range: [Math.log10(480), Math.log10(3)],
      tickvals: [1662, 1800, 1900, 1950, 1980, 2000, 2010, 2020].map((y) => 2030 - y), ticktext: ['1662', '1800', '1900', '1950', '1980', '2000', '2010', '2020'] },
    yaxis: { automargin: true }, showlegend: false,
  };
  return { traces: traces.map((t) => ({ ...t, x: (t.x as number[]).map((y) => 2030 - y) })), layout };
}

/** Show the timeline (plotly, offline); outside Jupyter a one-line summary. */
export function historyTimeline(events: readonly HistoryEvent[] = HISTORY): void {
  const { traces, layout } = historySpec(events);
  plot(traces, layout, { height: 520 });
}
