/**
 * Reward-model probe: train a reward model on notebook 04's comparisons, relabelled by a careful
 * simulated labeler under a gold score you choose, and print what it learned, part by part, beside
 * the bag-of-words baseline. Notebook 04's side runs on learning rate, epochs and batches of whole
 * prompts can be repeated with it (with the default gold). It needs the checkpoints of notebooks
 * 02-04 (default mode; RLHF_FAST=1 for fast mode's).
 *
 *   npx tsx scripts/reward-probe.ts [options]
 *     --gold JSON             GoldConfig overrides, e.g. '{"nonWordWeight":0}' (default: none)
 *     --lexicon-min-count N   keep AFINN words the play uses at least N times (default 0: all)
 *     --only-words a,b,c      keep only these AFINN words
 *     --skip-ties             train only on pairs whose gold scores differ
 *     --epochs N --lr X       reward training (defaults 1 and 1e-3; the lr decays to lr / 10)
 *     --group                 batches of whole prompts (rewardConfig.groupByPrompt)
 *     --zero-head             start the scalar head at zero instead of N(0, 1/(C+1))
 *     --temperature T         labeler noise (default 0.1)
 *     --comparisons FILE      default <runs>/comparisons.jsonl
 *
 * Example (sentiment over three words only, clean pairs, two epochs):
 *   npx tsx scripts/reward-probe.ts --gold '{"nonWordWeight":0,"repetitionWeight":0,"noEndPenalty":0,"lengthWeight":0}' \
 *     --only-words good,no,love --skip-ties --epochs 2 --group
 */
import { parseArgs } from 'util';
import * as rl from '../lib/index';

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: {
      gold: { type: 'string', default: '{}' },
      'lexicon-min-count': { type: 'string', default: '0' },
      'only-words': { type: 'string' },
      'skip-ties': { type: 'boolean', default: false },
      epochs: { type: 'string', default: '1' },
      lr: { type: 'string', default: '1e-3' },
      group: { type: 'boolean', default: false },
      'zero-head': { type: 'boolean', default: false },
      temperature: { type: 'string', default: '0.1' },
      comparisons: { type: 'string' },
    },
  });
  await rl.initBackend();
  const corpusWords = rl.wordsOf(rl.loadCorpus());
  const uses = new Map<string, number>();
  for (const w of corpusWords) uses.set(w, (uses.get(w) ?? 0) + 1);
  const only = o['only-words'] ? new Set(o['only-words'].split(',')) : null;
  const minCount = Number(o['lexicon-min-count']);
  const lexicon = new Map([...rl.loadAfinn()].filter(([w]) => (uses.get(w) ?? 0) >= minCount && (!only || only.has(w))));
  const gold = new rl.GoldScorer(lexicon, new Set(corpusWords), JSON.parse(o.gold!));

  const file = o.comparisons ?? rl.requireStage('comparisons');
  const labeler = new rl.SimulatedLabeler((c) => gold.score(c), { id: 'probe', temperature: Number(o.temperature), seed: 10 });
  const records = rl.readComparisons(file).map((r) => ({ ...labeler.label(r.prompt, r.completionA, r.completionB), split: r.metadata.split }));
  const train = records.filter((r) => r.split === 'train' && (!o['skip-ties'] || gold.score(r.completionA) !== gold.score(r.completionB)));
  const heldOut = records.filter((r) => r.split === 'heldOut');
  console.log(`${lexicon.size} lexicon words; ${train.length} training comparisons, ${heldOut.length} held out (${file})`);

  const { policy, tokenizer: tok } = rl.loadSFT();
  const rm = o['zero-head'] ? new rl.RewardModel(policy.copy(), new rl.ScalarHead(policy.config.nEmbd, 'zero')) : rl.RewardModel.fromPolicy(policy);
  const lr = Number(o.lr);
  const run = await rl.rewardTrain({ rewardModel: rm, tokenizer: tok, comparisons: train }, rl.rewardConfig({ epochs: Number(o.epochs), lr, minLr: lr / 10, groupByPrompt: o.group }), { display: false });
  console.log(`${run.history.length} steps in ${run.seconds.toFixed(0)} s; held-out pairs, how often each model prefers the reply better in each part:`);
  console.table(rl.compareByPart(rm, tok, train, heldOut, (c) => gold.parts(c)).map((p) => ({
    part: p.part, pairs: p.pairs, 'reward model': p.rewardModelAgreement.toFixed(3), 'bag of words': p.bagOfWordsAgreement.toFixed(3),
  })));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
