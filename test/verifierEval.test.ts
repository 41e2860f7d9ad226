import { describe, expect, it } from 'vitest';
import { evalChange, loopholeVerdict, sharpenOrAdd, VerifierEval, verifierEval } from '../lib/eval/verifierEval';
import { passAtKMean } from '../lib/eval/passAtK';
import { verifiablePrompt, verify } from '../lib/feedback/verifiable';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { CharTokenizer } from '../lib/text/tokenizer';

/** A VerifierEval from per-prompt pass lists (strict, lenient) and empty shares; the rest is filler. */
function fake(strict: boolean[][], lenient: boolean[][] = strict, empty: number[] = strict.map(() => 0)): VerifierEval {
  const prompts = strict.map((_, p) => `p${p}`);
  const z = strict.map(() => 0);
  return {
    prompts, k: strict[0].length, completions: strict.map((r) => r.map(() => '')), strict, lenient,
    passAt1: passAtKMean(strict, 1), passAtK: passAtKMean(strict, strict[0].length), lenientPassAt1: passAtKMean(lenient, 1),
    emptyPerPrompt: empty, emptyRate: empty.reduce((a, b) => a + b, 0) / empty.length, words: 0, endRate: 1,
    goldPerPrompt: z, gold: 0, klPerPrompt: z, kl: 0, byKind: { include: 0, maxWords: 0 },
  };
}
const T = true, F = false;

describe('sharpen or add', () => {
  // 4 prompts x 4 samples. Before: each prompt passes once (pass@1 0.25, pass@4 1).
  const before = fake([[T, F, F, F], [F, T, F, F], [F, F, T, F], [F, F, F, T]]);
  it('reads a rise of pass@1 at equal pass@k as sharpening', () => {
    // after: 3 of 4 pass on every prompt: pass@1 0.75 (+0.5 on each prompt, sd 0 -> beyond noise), pass@4 1 (no change)
    const after = fake([[T, T, T, F], [T, T, F, T], [T, F, T, T], [F, T, T, T]]);
    const c = sharpenOrAdd(before, after);
    expect(c.answer).toMatchObject({ reading: 'sharpened', pass1: 'rose', passK: 'within noise' });
    expect(c.answer.pass1Change).toBeCloseTo(0.5, 12);
    expect(c.answer.passKChange).toBe(0);
    expect(c.sentence).toMatch(/pass@1 0\.25 -> 0\.75 \(\+50\.0 ± 0\.0 points per prompt, rose beyond noise\); pass@4 1\.00 -> 1\.00/);
  });
  it('reads a rise of pass@k as added answers, and no rise of pass@1 as neither', () => {
    const none = fake([[F, F, F, F], [F, F, F, F], [F, F, F, F], [F, F, F, F]]);
    const some = fake([[T, T, F, F], [T, T, F, F], [T, T, F, F], [T, T, F, F]]);
    expect(sharpenOrAdd(none, some).answer).toMatchObject({ reading: 'added', pass1: 'rose', passK: 'rose' });
    expect(sharpenOrAdd(some, none).answer.reading).toBe('neither');
    expect(() => sharpenOrAdd(before, fake([[T, F, F, F], [T, F, F, F]]))).toThrow(/same prompts in the same order \(4 vs 2 prompts\)/);
  });
});

describe('the loophole verdict', () => {
  it('says found when more replies pass only through the loophole after the lenient run, beyond noise', () => {
    // lenient run: the lenient verifier passes all 4 samples of each prompt, the strict one 1 of 4: gap 0.75 per prompt
    const L = fake([[T, F, F, F], [F, T, F, F], [F, F, T, F]], [[T, T, T, T], [T, T, T, T], [T, T, T, T]], [0.5, 0.5, 0.75]);
    // strict run: gaps 0, 0.25, 0 -> paired differences 0.75, 0.5, 0.75: mean 2/3, sd 0.144, se 0.083
    const S = fake([[T, T, F, F], [T, F, F, F], [F, F, T, F]], [[T, T, F, F], [T, T, F, F], [F, F, T, F]], [0, 0, 0.25]);
    const v = loopholeVerdict(L, S);
    expect(v.answer.found).toBe(true);
    expect(v.answer.gapLenient).toBeCloseTo(0.75, 12);
    expect(v.answer.gapStrict).toBeCloseTo(1 / 12, 12);
    expect(v.answer.change).toBeCloseTo(2 / 3, 12);
    expect(v.answer.stderr).toBeCloseTo(Math.sqrt(1 / 48) / Math.sqrt(3), 12);
    expect(v.sentence).toMatch(/only through the loophole .*: 75\.0% after the run rewarded by the lenient verifier, 8\.3% after the strict one \(\+66\.7 ± 8\.3 points per prompt, beyond noise/);
    expect(v.sentence).toMatch(/Empty replies: 58\.3% and 8\.3%\.$/);
    expect(loopholeVerdict(S, S).answer.found).toBe(false);
  });
  it('pairs any quantity over prompts', () => {
    const c = evalChange('gold', { label: 'before', values: [0, 1, 2] }, { label: 'after', values: [1, 1, 4] });
    expect(c.answer.change).toBeCloseTo(1, 12); // differences 1, 0, 2: mean 1, sd 1, se 1/sqrt(3)
    expect(c.answer.stderr).toBeCloseTo(1 / Math.sqrt(3), 12);
    expect(c.answer.shift).toBe("within noise");
    expect(c.sentence).toBe("gold: before 1.00, after 2.00 (+1.00 ± 0.58 per prompt, within noise).");
    // differences 0.02 and 0.05: mean 0.035, se 0.015 -> below 0.1, two significant digits
    expect(evalChange("loss", { label: "a", values: [1, 2] }, { label: "b", values: [1.02, 2.05] }, { per: "window" }).sentence).toBe("loss: a 1.50, b 1.53 (+0.035 ± 0.015 per window, rose beyond noise).");
  });
});

describe('verifierEval on a tiny model', () => {
  it('counts what verify says, per prompt, with KL 0 against itself', async () => {
    const tok = CharTokenizer.fromText('Human: Use the word crown. Answer in three words or fewer.\nAssistant: Ay, my crown.');
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, blockSize: 96, seed: 2 });
    const prompts = [verifiablePrompt('Ay.', { kind: 'include', word: 'crown' }), verifiablePrompt('Ay.', { kind: 'maxWords', n: 3 })];
    const e = await verifierEval(policy, { refPolicy: policy, tokenizer: tok, prompts, k: 3, gen: { maxNewTokens: 6, temperature: 1, seed: 1 } });
    expect(e.completions.map((r) => r.length)).toEqual([3, 3]);
    e.completions.forEach((row, p) => row.forEach((c, j) => {
      expect(e.strict[p][j]).toBe(verify(prompts[p], c, 'strict').pass);
      expect(e.lenient[p][j]).toBe(verify(prompts[p], c, 'lenient').pass);
    }));
    expect(e.passAt1.mean).toBeCloseTo(e.strict.flat().filter(Boolean).length / 6, 12);
    expect(Math.abs(e.kl)).toBeLessThan(1e-5);
    await expect(verifierEval(policy, { refPolicy: policy, tokenizer: tok, prompts: prompts.slice(0, 1), k: 2, gen: { maxNewTokens: 4, temperature: 1, seed: 1 } }))
      .rejects.toThrow(/at least two prompts/);
    policy.dispose();
  });
});
