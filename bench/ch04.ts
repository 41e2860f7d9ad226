// Chapter 04's pieces at the course shape, in CPU seconds (all threads; wall times lie on a shared
// machine): sampling comparison replies, one reward-model training step, the held-out evaluation.
// Random weights: replies never stop early, so sampling is an upper bound.
// Usage: tsx bench/ch04.ts [profile]
import { initBackend, tf } from '../lib/engine/backend';
import { GPT, gptConfig, GPT_PRESETS } from '../lib/model/model';
import { BpeTokenizer, COURSE_BPE_MERGES } from '../lib/text/bpe';
import { loadCorpus, splitText } from '../lib/text/corpus';
import { makePrompts } from '../lib/feedback/task';
import { generate } from '../lib/model/sample';
import { RewardModel, rewardLoss, rewardConfig } from '../lib/methods/reward';
import { AdamW } from '../lib/train/train';
import { printKernelTimes } from './common';

function cpu<T>(label: string, fn: () => T, reps = 1): T {
  let out!: T;
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  for (let i = 0; i < reps; i++) out = fn();
  const c = process.cpuUsage(c0);
  console.log(`${label.padEnd(56)} ${((c.user + c.system) / 1e6 / reps).toFixed(3).padStart(8)} s CPU ${((performance.now() - w0) / 1000 / reps).toFixed(3).padStart(8)} s wall`);
  return out;
}

async function main() {
  await initBackend({ log: () => {} });
  const text = loadCorpus();
  const split = splitText(text, 0.9);
  const tok = BpeTokenizer.train(split.train, COURSE_BPE_MERGES, { alphabet: text });
  const model = new GPT(gptConfig({ ...GPT_PRESETS.course, vocabSize: tok.vocabSize }));
  const prompts = makePrompts(text, { n: 256, seed: 4 });
  const lens = prompts.map((p) => tok.encode(p).length);
  console.log(`prompt tokens: mean ${(lens.reduce((a, b) => a + b, 0) / lens.length).toFixed(1)}, max ${Math.max(...lens)}`);
  const ids = prompts.map((p) => tok.encode(p));
  const gen = (b: number) => generate(model, ids.slice(0, b), { maxNewTokens: 24, temperature: 0.8, seed: 1, padId: tok.padId });
  gen(8);
  for (const b of [32, 64, 128]) cpu(`generate ${b} prompts x 24 tokens`, () => gen(b), 1);

  const rows = gen(64).map((g) => g.tokens);
  const pairs = Array.from({ length: 16 }, (_, i) => ({ chosen: rows[2 * i], rejected: rows[2 * i + 1], level: 1 }));
  const rm = RewardModel.fromPolicy(model);
  const params = rm.parameters();
  const vars = params.map((p) => p.variable);
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 });
  const cfg = rewardConfig();
  const step = () => {
    const { value, grads } = tf.variableGrads(() => rewardLoss(rm, pairs, tok.padId, cfg, true).loss, vars);
    opt.step(vars.map((v) => grads[v.name]), 1e-4);
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  cpu('reward step, 16 pairs (32 rows), per step', step, 10);
  cpu('rawRows forward of 256 rows', () => { rm.rawRows(rows.concat(rows, rows, rows), tok.padId); }, 1);
  if (process.argv[2] === 'profile') {
    const info = await tf.profile(step);
    printKernelTimes(info, 'reward step under profiler');
  }
}
main();
