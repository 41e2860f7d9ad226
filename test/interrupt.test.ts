// Kernel > Interrupt stops every kind of library loop at a step boundary (lib/core/interrupt.ts): the
// training loop (pretraining, SFT, reward model, DPO), PPO, the critic-free trainer, and chunked sampling (rollout, and
// through it best-of-N, evaluation and comparison pairs). The stop is asked for from inside the
// loop (a callback, or an event queued while it yields), the way tslab's SIGINT handler runs.
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { clearInterrupt, interrupt, Interrupted, stopRequested } from '../lib/core/interrupt';
import { AdamW, TRAIN_DEFAULTS, TrainConfig, trainLoop } from '../lib/train/train';
import { GPT, GPT_PRESETS } from '../lib/model/model';
import { CharTokenizer } from '../lib/text/tokenizer';
import { tinyChatTokenizer, TINY_PROMPTS } from './tinyChat';
import { rollout } from '../lib/rl/rollout';
import { bestOfN } from '../lib/methods/bestOfN';
import { PPO_PRESETS, ppoTrain } from '../lib/methods/ppo';
import { CRITIC_FREE_METHODS, CRITIC_FREE_PRESETS, criticFreeTrain } from '../lib/methods/criticFree';
import { sftTrain, SFT_PRESETS } from '../lib/methods/sft';

afterEach(() => clearInterrupt());

// Least squares on a line: each step's loss depends only on the weights, so runs compare exactly.
function lineProblem() {
  const w = tf.variable(tf.scalar(0));
  const b = tf.variable(tf.scalar(0));
  const xs = tf.tensor1d([-1, 0, 1, 2]);
  const ys = tf.tensor1d([-3, -1, 1, 3]);
  const lossFn = () => ({ loss: tf.mean(tf.square(tf.sub(tf.add(tf.mul(xs, w), b), ys))) as tf.Scalar });
  return { w, b, lossFn, weights: () => [w.dataSync()[0], b.dataSync()[0]] };
}
const config: TrainConfig = { ...TRAIN_DEFAULTS, steps: 20, lr: 0.1, minLr: 0.01, warmupSteps: 2, weightDecay: 0, gradClip: 1, evalEvery: 0, livePlot: false };

describe('trainLoop and Kernel > Interrupt', () => {
  it('stops after the step during which the interrupt came, and the same optimizer resumes to the uninterrupted result', async () => {
    const straight = lineProblem();
    await trainLoop({ params: [straight.w, straight.b], lossFn: straight.lossFn, config, display: false });
    const fiveSteps = lineProblem();
    await trainLoop({ params: [fiveSteps.w, fiveSteps.b], lossFn: fiveSteps.lossFn, config, display: false, maxSteps: 5 });

    const p = lineProblem();
    const optimizer = new AdamW([p.w, p.b], config);
    const run = trainLoop({
      params: [p.w, p.b], lossFn: p.lossFn, config, display: false, optimizer, title: 'line fit',
      onStep: (s) => { if (s.step === 4) interrupt(); }, // during step 5 (0-based 4)
    });
    await expect(run).rejects.toThrow(Interrupted);
    await expect(run).rejects.toThrow('line fit stopped by Kernel > Interrupt after step 5 of 20: the model keeps the weights of step 5. Running the loop again with the same optimizer continues from step 5.');
    // consistent state: weights and optimizer are exactly those of a 5-step run
    expect(optimizer.t).toBe(5);
    expect(p.weights()).toEqual(fiveSteps.weights());

    // the stop belongs to the interrupted cell: a new one starts clean and continues from step 5
    clearInterrupt();
    const rest = await trainLoop({ params: [p.w, p.b], lossFn: p.lossFn, config, display: false, optimizer });
    expect(rest.history[0].step).toBe(5);
    expect(p.weights()).toEqual(straight.weights());
  });

  it('without a caller optimizer says that running it again starts from step 0; a loop started after the interrupt in the same cell stops at once', async () => {
    const p = lineProblem();
    const first = trainLoop({ params: [p.w, p.b], lossFn: p.lossFn, config, display: false, onStep: (s) => { if (s.step === 0) interrupt(); } });
    await expect(first).rejects.toThrow(/^training stopped by Kernel > Interrupt after step 1 of 20: .*Running the cell again trains again from step 0 with a fresh optimizer\.$/);
    const before = p.weights();
    await expect(trainLoop({ params: [p.w, p.b], lossFn: p.lossFn, config, display: false })).rejects.toThrow(/after step 0 of 20/);
    expect(p.weights()).toEqual(before);
  });

  it('sftTrain (the shared loop inside a trainer) stops between steps when the interrupt arrives while it yields', async () => {
    const tok = CharTokenizer.fromText('Human: hio\nAssistant: abz!');
    const data = [{ prompt: 'Human: hi\nAssistant: ', completion: 'ab' }, { prompt: 'Human: ho\nAssistant: ', completion: 'z!' }];
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 2 });
    const cfg = { ...SFT_PRESETS.tiny, steps: 200, batchSize: 2, evalEvery: 0 };
    const tick = setInterval(() => interrupt(), 5); // a SIGINT arriving at some point while the loop runs
    try {
      const err = await sftTrain({ policy, tokenizer: tok, examples: data }, cfg, { display: false, title: 'SFT' }).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(Interrupted);
      const m = /^SFT stopped by Kernel > Interrupt after step (\d+) of 200/.exec(err.message);
      expect(m).not.toBeNull();
      expect(Number(m![1])).toBeLessThan(200);
    } finally {
      clearInterval(tick);
      policy.dispose();
    }
  });
});

describe('sampling and Kernel > Interrupt', () => {
  const tok = CharTokenizer.fromText('Human: hi\nAssistant: abcdez.');
  const prompts = ['Human: hi\nAssistant: ', 'Human: ha\nAssistant: ', 'Human: he\nAssistant: '];
  const gen = { maxNewTokens: 5, temperature: 1, seed: 3, batchSize: 2 };

  it('rollout stops between generate() chunks, changes nothing, and a new cell samples the same replies', async () => {
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 5 });
    const six = [...prompts, ...prompts];
    const whole = await rollout(policy, tok, six, gen);
    const weights = policy.parameters().map((p) => Array.from(p.variable.dataSync()));
    const run = rollout(policy, tok, six, gen); // the first chunk runs now, then it yields
    setImmediate(() => interrupt()); // queued behind the first yield: arrives while chunk 2 is pending
    const err = await run.then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Interrupted);
    expect(err.message).toMatch(/^sampling stopped by Kernel > Interrupt after (2|4) of 6 replies; sampling trains nothing/);
    expect(policy.parameters().map((p) => Array.from(p.variable.dataSync()))).toEqual(weights);
    clearInterrupt();
    expect(await rollout(policy, tok, six, gen)).toEqual(whole);
    policy.dispose();
  });

  it('bestOfN (sampling through rollout) stops too', async () => {
    const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 5 });
    const run = bestOfN(policy, (rows) => rows.map((r) => r.length), prompts, 4, { tokenizer: tok, gen });
    setImmediate(() => interrupt());
    await expect(run).rejects.toThrow(/sampling stopped by Kernel > Interrupt after \d+ of 12 replies/);
    policy.dispose();
  });
});

/** A tiny policy, its frozen reference and two prompts of the tiny chat task: what an RL trainer's interrupt test runs on. */
function tinyRL() {
  const tok = tinyChatTokenizer();
  const policy = new GPT({ ...GPT_PRESETS.tiny, vocabSize: tok.vocabSize, seed: 4 });
  return { tok, prompts: TINY_PROMPTS.slice(0, 2), policy, refPolicy: policy.copy({ trainable: false }) };
}

describe('PPO and Kernel > Interrupt', () => {
  it('stops in the iteration during which the interrupt came, with one line in PPO terms', async () => {
    const { tok, prompts, policy, refPolicy } = tinyRL();
    const iterations: number[] = [];
    const run = ppoTrain({
      policy, refPolicy, proxy: (rows) => rows.map((r) => r.length), gold: (c) => c.length, tokenizer: tok, prompts,
    }, { ...PPO_PRESETS.tiny, iterations: 3, rolloutBatch: 4, minibatches: 2, ppoEpochs: 1, maxNewTokens: 3 }, {
      onIteration: (s) => { iterations.push(s.iteration); if (s.iteration === 1) interrupt(); },
    });
    await expect(run).rejects.toThrow('PPO stopped by Kernel > Interrupt in iteration 2 of 3: the policy keeps the weights of its last update. Running the cell again starts PPO over.');
    expect(iterations).toEqual([1]);
    expect(stopRequested()).toBe(true);
    policy.dispose();
    refPolicy.dispose();
  });
});

describe('the critic-free trainer and Kernel > Interrupt', () => {
  it('stops in the iteration during which the interrupt came, with one line naming the method', async () => {
    const { tok, prompts, policy, refPolicy } = tinyRL();
    const iterations: number[] = [];
    const run = criticFreeTrain({
      policy, refPolicy, proxy: (rows) => rows.map((r) => r.length), gold: (c) => c.length, tokenizer: tok, prompts,
    }, { ...CRITIC_FREE_PRESETS.tiny, ...CRITIC_FREE_METHODS.rloo, iterations: 3, promptsPerIteration: 2, samplesPerPrompt: 2, maxNewTokens: 3 }, {
      onIteration: (s) => { iterations.push(s.iteration); if (s.iteration === 1) interrupt(); },
    });
    await expect(run).rejects.toThrow('RLOO stopped by Kernel > Interrupt in iteration 2 of 3: the policy keeps the weights of its last update. Running the cell again starts over.');
    expect(iterations).toEqual([1]);
    policy.dispose();
    refPolicy.dispose();
  });
});

describe("the SIGINT handler in front of tslab's", () => {
  it('sends Interrupt to a running library loop, to tslab otherwise or when asked twice, and a new cell starts clean', async () => {
    // A stand-in for tslab's kernel module (what display.ts looks for) and for its SIGINT handler.
    const fake = '/fake/node_modules/tslab/dist/jupyter.js';
    const cellA = () => {}, cellB = () => {};
    const kernel = { lastWriteDisplayData: cellA as unknown };
    require.cache[fake] = { exports: kernel } as unknown as NodeJS.Module;
    const saved = process.listeners('SIGINT');
    let tslabCalls = 0;
    const tslab = () => { tslabCalls++; };
    process.removeAllListeners('SIGINT'); // a cell's synchronous part runs without SIGINT listeners (vm breakOnSigint) ...
    try {
      const p = lineProblem();
      const run = trainLoop({
        params: [p.w, p.b], lossFn: p.lossFn, config, display: false,
        onStep: (s) => { if (s.step === 2) process.emit('SIGINT', 'SIGINT'); },
      });
      process.on('SIGINT', tslab); // ... and vm puts tslab's listener back when that part returns
      await expect(run).rejects.toThrow(/after step 3 of 20/);
      expect(tslabCalls).toBe(0); // the loop took it: the cell ends with the loop's line

      process.emit('SIGINT', 'SIGINT'); // nothing of ours running: tslab's own handling
      expect(tslabCalls).toBe(1);

      kernel.lastWriteDisplayData = cellB; // the next cell
      expect(stopRequested()).toBe(false);
      const twice = trainLoop({
        params: [p.w, p.b], lossFn: p.lossFn, config, display: false,
        onStep: (s) => { if (s.step === 5) { process.emit('SIGINT', 'SIGINT'); process.emit('SIGINT', 'SIGINT'); } },
      });
      await expect(twice).rejects.toThrow(/after step 6 of 20/);
      expect(tslabCalls).toBe(2); // the second Interrupt went to tslab as well
    } finally {
      delete require.cache[fake];
      process.removeAllListeners('SIGINT');
      for (const l of saved) process.on('SIGINT', l);
    }
  });
});
