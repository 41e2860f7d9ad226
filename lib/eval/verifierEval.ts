/**
 * Measuring a policy on a verifiable task (chapter 08, RL from verifiable rewards), and the
 * conclusions the text draws from it, read against their noise.
 *
 * `verifierEval` samples k completions of each evaluation prompt and keeps, per prompt: how many
 * the strict and the lenient verifier pass (feedback/verifiable.ts), pass@1 and pass@k (Chen et
 * al.'s estimator, passAtK.ts), the share of empty replies (the loophole), words, gold (what the
 * verifier does not check) and the sequence KL to a reference (k1, nats per completion). Every
 * comparison of two runs pairs the same prompts (conclusions.ts pairedChange): prompts differ far
 * more from each other than two policies differ on one prompt.
 */
import { GPT } from '../model/model';
import { Tokenizer } from '../text/tokenizer';
import { mean } from '../core/stats';
import { GenSettings, rolloutGroups, rolloutLogProbs } from '../rl/rollout';
import { verify } from '../feedback/verifiable';
import { goldScore } from '../feedback/task';
import { passAtKMean } from './passAtK';
import { Conclusion, pairedChange, Shift } from './conclusions';

/** One policy on the evaluation prompts: per-prompt values (index p) and their means. */
export interface VerifierEval {
  prompts: string[];
  /** Samples per prompt. */
  k: number;
  completions: string[][];
  /** Per prompt, per sample: passed the strict / the lenient verifier. */
  strict: boolean[][];
  lenient: boolean[][];
  /** Strict pass@1 and pass@k per prompt, and their means over prompts with standard errors. */
  passAt1: { mean: number; stderr: number; perPrompt: number[] };
  passAtK: { mean: number; stderr: number; perPrompt: number[] };
  /** Lenient pass@1 (what the verifier with the loophole reports). */
  lenientPassAt1: { mean: number; stderr: number; perPrompt: number[] };
  /** Share of replies with no word at all, per prompt and overall. */
  emptyPerPrompt: number[];
  emptyRate: number;
  /** Mean words per reply; share of replies that end their turn. */
  words: number;
  endRate: number;
  /** Mean gold score (task.ts) per prompt and overall. */
  goldPerPrompt: number[];
  gold: number;
  /** Mean sequence KL k1 to the reference per prompt and overall (nats per completion). */
  klPerPrompt: number[];
  kl: number;
  /** Strict pass rate by instruction kind. */
  byKind: Record<'include' | 'maxWords', number>;
}

/**
 * Sample k completions of each prompt (temperature 1 unless `gen` says otherwise) and verify them.
 * KL is measured against `refPolicy` at the sampling temperature. Stops on Kernel > Interrupt
 * between sampling batches (rollout's `Interrupted`).
 */
export async function verifierEval(
  policy: GPT, o: { refPolicy: GPT; tokenizer: Tokenizer; prompts: string[]; k: number; gen: GenSettings },
): Promise<VerifierEval> {
  if (!Number.isInteger(o.k) || o.k < 1) throw new Error(`verifierEval: k must be an integer >= 1, got ${o.k}`);
  if (o.prompts.length < 2) throw new Error(`verifierEval: needs at least two prompts (standard errors), got ${o.prompts.length}`);
  const { rollout: r, groups } = await rolloutGroups(policy, o.tokenizer, o.prompts, o.k, o.gen);
  const lp = rolloutLogProbs(policy, r, o.tokenizer.padId, o.gen.temperature);
  const ref = rolloutLogProbs(o.refPolicy, r, o.tokenizer.padId, o.gen.temperature);
  const kl = lp.map((row, i) => row.reduce((a, x, t) => a + x - ref[i][t], 0));
  const verdicts = r.completions.map((c, i) => verify(r.prompts[i], c, 'strict'));
  const lenientPass = r.completions.map((c, i) => verify(r.prompts[i], c, 'lenient').pass);
  const gold = r.completions.map((c) => goldScore(c));
  const per = <T>(xs: T[]) => groups.rows.map((row) => row.map((i) => xs[i]));
  const strict = per(verdicts.map((v) => v.pass));
  const lenient = per(lenientPass);
  const kinds = { include: [] as number[], maxWords: [] as number[] };
  verdicts.forEach((v) => kinds[v.constraint.kind].push(v.pass ? 1 : 0));
  const emptyPerPrompt = per(verdicts.map((v) => (v.words === 0 ? 1 : 0))).map(mean);
  const goldPerPrompt = per(gold).map(mean);
  const klPerPrompt = per(kl).map(mean);
  return {
    prompts: [...o.prompts], k: o.k, completions: per(r.completions), strict, lenient,
    passAt1: passAtKMean(strict, 1), passAtK: passAtKMean(strict, o.k), lenientPassAt1: passAtKMean(lenient, 1),
    emptyPerPrompt, emptyRate: mean(emptyPerPrompt),
    words: mean(verdicts.map((v) => v.words)), endRate: mean(verdicts.map((v) => (v.ended ? 1 : 0))),
    goldPerPrompt, gold: mean(goldPerPrompt), klPerPrompt, kl: mean(klPerPrompt),
    byKind: { include: kinds.include.length ? mean(kinds.include) : NaN, maxWords: kinds.maxWords.length ? mean(kinds.maxWords) : NaN },
  };
}

function checkSamePrompts(a: VerifierEval, b: VerifierEval, name: string): void {
  if (a.prompts.length !== b.prompts.length || a.prompts.some((p, i) => p !== b.prompts[i])) {
    throw new Error(`${name}: the two evaluations must be on the same prompts in the same order (${a.prompts.length} vs ${b.prompts.length} prompts)`);
  }
}

const f2 = (x: number) => x.toFixed(2);
const pp = (x: number) => `${(100 * x).toFixed(1)}`;
const signed = (x: number, se: number) => `${x >= 0 ? '+' : ''}${pp(x)} ± ${pp(se)} points`;
const beyond = (s: Shift) => (s === 'within noise' ? 'within noise' : `${s} beyond noise`);

/**
 * Does RL add answers or sharpen the ones sampling already found? pass@1 and pass@k before and
 * after, each change paired over prompts. 'sharpened': pass@1 rose and pass@k did not (the policy
 * now picks, at its first try, answers it could already reach in k); 'added': pass@k rose too (it
 * passes prompts none of k samples passed before); 'neither': pass@1 did not rise beyond noise.
 */
export function sharpenOrAdd(before: VerifierEval, after: VerifierEval, z = 2): Conclusion<{
  reading: 'sharpened' | 'added' | 'neither'; pass1: Shift; passK: Shift; pass1Change: number; pass1Se: number; passKChange: number; passKSe: number;
}> {
  checkSamePrompts(before, after, 'sharpenOrAdd');
  const c1 = pairedChange(before.passAt1.perPrompt, after.passAt1.perPrompt, z);
  const ck = pairedChange(before.passAtK.perPrompt, after.passAtK.perPrompt, z);
  const reading = c1.shift !== 'rose' ? 'neither' : ck.shift === 'rose' ? 'added' : 'sharpened';
  const k = before.k;
  const what = reading === 'sharpened'
    ? `RL sharpened: the policy now passes at its first try where ${k} tries already passed before, and passes few prompts that ${k} samples never did`
    : reading === 'added' ? `RL added answers: pass@${k} rose too, so it passes prompts where none of ${k} samples passed before`
      : 'pass@1 did not rise beyond noise, so this run shows neither sharpening nor new answers';
  return {
    answer: { reading, pass1: c1.shift, passK: ck.shift, pass1Change: c1.change, pass1Se: c1.stderr, passKChange: ck.change, passKSe: ck.stderr },
    sentence: `pass@1 ${f2(before.passAt1.mean)} -> ${f2(after.passAt1.mean)} (${signed(c1.change, c1.stderr)} per prompt, ${beyond(c1.shift)}); `
      + `pass@${k} ${f2(before.passAtK.mean)} -> ${f2(after.passAtK.mean)} (${signed(ck.change, ck.stderr)}, ${beyond(ck.shift)}). ${what}.`,
  };
}

/**
 * The loophole found and closed: the run rewarded by the lenient verifier against the run rewarded
 * by the strict one, on the same prompts. A reply passes "only through the loophole" when the
 * lenient verifier passes it and the strict one does not (a piece of the word, no words, no
 * <end>). Found: that share is larger after the lenient run than after the strict run, paired
 * over prompts, beyond noise. Empty replies, the loophole's extreme, are reported beside it.
 */
export function loopholeVerdict(lenientRun: VerifierEval, strictRun: VerifierEval, z = 2): Conclusion<{
  found: boolean; gapLenient: number; gapStrict: number; change: number; stderr: number; emptyLenient: number; emptyStrict: number;
}> {
  checkSamePrompts(lenientRun, strictRun, 'loopholeVerdict');
  const gap = (e: VerifierEval) => e.lenientPassAt1.perPrompt.map((x, p) => x - e.passAt1.perPrompt[p]);
  const gL = gap(lenientRun), gS = gap(strictRun);
  const c = pairedChange(gS, gL, z);
  const found = c.shift === 'rose';
  return {
    answer: { found, gapLenient: mean(gL), gapStrict: mean(gS), change: c.change, stderr: c.stderr, emptyLenient: lenientRun.emptyRate, emptyStrict: strictRun.emptyRate },
    sentence: `Replies that pass only through the loophole (the lenient verifier passes them, the strict one does not): ${pp(mean(gL))}% after the run rewarded by the lenient verifier, `
      + `${pp(mean(gS))}% after the strict one (${signed(c.change, c.stderr)} per prompt, `
      + `${found ? 'beyond noise: the policy found the loophole, and the strict verifier closes it' : 'within noise: this run did not show the policy finding it'}). `
      + `Empty replies: ${pp(lenientRun.emptyRate)}% and ${pp(strictRun.emptyRate)}%.`,
  };
}

/** Two decimals, or three significant digits for numbers below 0.1 (a small change and its error stay readable). */
const num = (x: number) => (x !== 0 && Math.abs(x) < 0.1 ? x.toPrecision(2) : x.toFixed(2));

/**
 * One quantity of two evaluations on the same items (prompts, or windows of text: `per` names
 * them), paired: the sentence names the quantity, both means and the change with its noise.
 */
export function evalChange(
  what: string, a: { label: string; values: number[] }, b: { label: string; values: number[] }, opts: { per?: string; z?: number } = {},
): Conclusion<{ change: number; stderr: number; shift: Shift }> {
  const c = pairedChange(a.values, b.values, opts.z ?? 2);
  return {
    answer: { change: c.change, stderr: c.stderr, shift: c.shift },
    sentence: `${what}: ${a.label} ${num(mean(a.values))}, ${b.label} ${num(mean(b.values))} `
      + `(${c.change >= 0 ? '+' : ''}${num(c.change)} ± ${num(c.stderr)} per ${opts.per ?? 'prompt'}, ${beyond(c.shift)}).`,
  };
}
