/**
 * The chapter registry: the one list of the course's chapters, what each trains and evaluates,
 * what it records and what it hands on. Everything that used to find chapters by grepping for
 * "PPO" reads it: the stages (which notebook makes a missing artifact), the recipe (every
 * trainer's presets), policyKey (the key prefix of every evaluated policy), the reference script
 * (which chapters run once, which per seed, which depend on which), the course runner (titles and
 * parts) and the evaluation chapter (which methods it must find).
 *
 * A new chapter is one entry here plus its files (notebook, assignment, lib modules); a new
 * method is one entry in its chapter's `trainers` / `methods`. test/chapters.test.ts fails when an
 * exported trainer (`xTrain`, `pretrain`) or `X_PRESETS` is in no entry, and when a notebook,
 * assignment or artifact named here does not exist (the chapter contract: CONTRIBUTING.md).
 *
 * This file imports nothing from the library: presets are named (module and export), and
 * course/recipe.ts resolves them, so what a notebook reaches through stages.ts or results.ts (which
 * read this registry) does not pull in every method's code.
 */

/** Artifacts chapters hand each other (course/stages.ts maps each to its path under runsDir()). */
export type Artifact =
  | 'pretrained' | 'pretrainedChat' | 'sft' | 'comparisons' | 'labelPairs' | 'labels' | 'rewardModel'
  | 'results' | 'histories' | 'policies';

/** A trainer the library exports, with its config and presets (`tiny` and `course`). */
export interface TrainerEntry {
  /** The exported function, e.g. "ppoTrain". */
  trainer: string;
  /** Its config type, e.g. "PPOConfig". */
  config: string;
  /** Module (under lib/) and export of its presets; the recipe hashes them under `recipeKey`. */
  presets: { module: string; name: string };
  recipeKey: string;
}

/**
 * A method whose policies are evaluated and saved as results (course/stages.ts MethodResult),
 * hence measured in the evaluation chapter. `label` and `key` are templates with one optional knob
 * `{beta}` or `{n}`: "PPO beta={beta}" -> key "ppo.beta{beta}" (so "PPO beta=0.05" -> "ppo.beta0.05").
 */
export interface MethodEntry {
  /** MethodResult.method. */
  method: string;
  label: string;
  key: string;
}

/**
 * How a chapter takes part in the reference (`npm run reference`): `shared` runs once (not
 * re-seeded: pretraining and SFT), `seeded` once per seed with RLHF_SEED, `none` not at all.
 */
export type ReferenceRole = 'shared' | 'seeded' | 'none';

export interface ChapterEntry {
  /** Two digits: the notebook's prefix. 09-10 are reserved for the chapters to come. */
  number: string;
  /** notebooks/<notebook>.ipynb */
  notebook: string;
  /** Names the notebook had before (readers of older reference files map them). */
  formerly?: string[];
  part: string;
  title: string;
  /** assignments/<assignment>.ipynb, graded by npm run grade:check. */
  assignment: string;
  reference: ReferenceRole;
  /** Trainers this chapter introduces. */
  trainers: TrainerEntry[];
  /** Methods whose results (and policies) this chapter saves for the evaluation chapter. */
  methods: MethodEntry[];
  /** Prefixes of the keys it records (rl.record), e.g. "ppo." (the policy keys of `methods` included). */
  keys: string[];
  /** Artifacts it writes for later chapters. */
  hands: Artifact[];
  /** Artifacts of earlier chapters it loads (its upstream chapters are those that hand them). */
  loads: Artifact[];
  /** True for the chapter that compares every method's policies (it stays last). */
  evaluation?: boolean;
}

const PART_I = 'Part I — Language models';

export const CHAPTERS: readonly ChapterEntry[] = [
  {
    number: '01', notebook: '01-shannon-ngrams', part: PART_I, title: 'History: Shannon\'s n-gram approximations of English',
    assignment: 'ch01-ngram-smoothing', reference: 'shared', trainers: [], methods: [], keys: ['ngram.'], hands: [], loads: [],
  },
  {
    number: '02', notebook: '02-transformer', part: PART_I, title: 'The transformer language model',
    assignment: 'ch02-causal-attention', reference: 'shared',
    trainers: [{ trainer: 'pretrain', config: 'PretrainConfig', presets: { module: 'train/pretrain', name: 'PRETRAIN_PRESETS' }, recipeKey: 'pretrain' }],
    methods: [], keys: ['bigram.', 'ladder.', 'machinery.', 'pretrain.'], hands: ['pretrained'], loads: [],
  },
  {
    number: '03', notebook: '03-sft', part: 'Part II — RLHF, phase 1', title: 'Instruction tuning (supervised fine-tuning)',
    assignment: 'ch03-sft-targets', reference: 'shared',
    trainers: [{ trainer: 'sftTrain', config: 'SFTConfig', presets: { module: 'methods/sft', name: 'SFT_PRESETS' }, recipeKey: 'sft' }],
    methods: [], keys: ['sft.'], hands: ['pretrainedChat', 'sft'], loads: ['pretrained'],
  },
  {
    number: '04', notebook: '04-reward-model', part: 'Part II — RLHF, phase 2', title: 'Preference collection and reward modeling',
    assignment: 'ch04-bradley-terry', reference: 'seeded',
    trainers: [{ trainer: 'rewardTrain', config: 'RewardConfig', presets: { module: 'methods/reward', name: 'REWARD_PRESETS' }, recipeKey: 'reward' }],
    methods: [], keys: ['rm.'], hands: ['comparisons', 'labelPairs', 'labels', 'rewardModel'], loads: ['sft'],
  },
  {
    number: '05', notebook: '05-ppo', part: 'Part II — RLHF, phase 3', title: 'RL optimization with PPO and a KL penalty',
    assignment: 'ch05-gae', reference: 'seeded',
    trainers: [{ trainer: 'ppoTrain', config: 'PPOConfig', presets: { module: 'methods/ppo', name: 'PPO_PRESETS' }, recipeKey: 'ppo' }],
    methods: [{ method: 'SFT', label: 'SFT', key: 'sftPolicy' }, { method: 'PPO', label: 'PPO beta={beta}', key: 'ppo.beta{beta}' }],
    keys: ['ppo.', 'sftPolicy.'], hands: ['results', 'histories', 'policies'], loads: ['sft', 'rewardModel'],
  },
  {
    number: '06', notebook: '06-best-of-n', part: 'Part III — Beyond PPO', title: 'Best-of-N and rejection sampling',
    assignment: 'ch06-best-of-n', reference: 'seeded', trainers: [],
    methods: [{ method: 'best-of-N', label: 'best-of-{n}', key: 'bon.n{n}' }, { method: 'rejection sampling', label: 'rejection sampling N={n}', key: 'rs.n{n}' }],
    keys: ['bon.', 'rs.'], hands: ['results'], loads: ['sft', 'rewardModel'],
  },
  {
    number: '07', notebook: '07-dpo', part: 'Part III — Beyond PPO', title: 'Direct preference optimization (DPO)',
    assignment: 'ch07-dpo-loss', reference: 'seeded',
    trainers: [{ trainer: 'dpoTrain', config: 'DPOConfig', presets: { module: 'methods/dpo', name: 'DPO_PRESETS' }, recipeKey: 'dpo' }],
    methods: [{ method: 'DPO', label: 'DPO beta={beta}', key: 'dpo.beta{beta}' }, { method: 'IPO', label: 'IPO beta={beta}', key: 'ipo.beta{beta}' }],
    keys: ['dpo.', 'ipo.'], hands: ['results', 'policies'], loads: ['sft', 'rewardModel', 'comparisons'],
  },
  {
    number: '08', notebook: '08-critic-free', part: 'Part III — Beyond PPO', title: 'RL without a critic: REINFORCE, RLOO, GRPO and Dr. GRPO',
    assignment: 'ch08-grpo-advantages', reference: 'seeded',
    trainers: [{ trainer: 'criticFreeTrain', config: 'CriticFreeConfig', presets: { module: 'methods/criticFree', name: 'CRITIC_FREE_PRESETS' }, recipeKey: 'criticFree' }],
    methods: [
      { method: 'REINFORCE', label: 'REINFORCE beta={beta}', key: 'reinforce.beta{beta}' },
      { method: 'RLOO', label: 'RLOO beta={beta}', key: 'rloo.beta{beta}' },
      { method: 'GRPO', label: 'GRPO beta={beta}', key: 'grpo.beta{beta}' },
      { method: 'Dr. GRPO', label: 'Dr. GRPO beta={beta}', key: 'drgrpo.beta{beta}' },
      { method: 'PPO-ptx', label: 'PPO-ptx beta={beta}', key: 'ppoPtx.beta{beta}' },
    ],
    keys: ['reinforce.', 'rloo.', 'grpo.', 'drgrpo.', 'criticFree.', 'rlvr.', 'ptx.', 'ppoPtx.'], hands: ['results', 'histories', 'policies'], loads: ['sft', 'rewardModel'],
  },
  {
    number: '11', notebook: '11-assumptions', part: 'Part IV — What RLHF assumes', title: 'What RLHF assumes: the presumptions put to the test, and a reward-model benchmark',
    assignment: 'ch11-preference-cycles', reference: 'seeded', trainers: [],
    methods: [{ method: 'RS on pooled labels', label: 'RS pooled populations N={n}', key: 'assume.rsPooled.n{n}' }],
    keys: ['assume.'], hands: ['results'], loads: ['sft', 'rewardModel', 'comparisons'],
  },
  {
    number: '12', notebook: '12-evaluation', formerly: ['08-evaluation'], part: 'Part V — Evaluation', title: 'Reward-KL frontier, over-optimization, win rates',
    assignment: 'ch12-win-rate', reference: 'seeded', evaluation: true, trainers: [], methods: [],
    keys: ['eval.'], hands: [], loads: ['sft', 'rewardModel', 'comparisons', 'results', 'histories', 'policies'],
  },
];

/** The chapter of a notebook name ("05-ppo"; a former name such as "08-evaluation" too). */
export function chapterOf(notebook: string): ChapterEntry {
  const c = CHAPTERS.find((x) => x.notebook === notebook || x.formerly?.includes(notebook));
  if (!c) throw new Error(`chapter registry: no chapter has the notebook "${notebook}" (lib/course/chapters.ts lists ${CHAPTERS.map((x) => x.notebook).join(', ')})`);
  return c;
}

/** Chapters in the reference with this role, in course order. */
export function referenceChapters(role: 'shared' | 'seeded'): ChapterEntry[] {
  return CHAPTERS.filter((c) => c.reference === role);
}

/** The chapter that writes an artifact first (the notebook to run when it is missing). */
export function artifactChapter(a: Artifact): ChapterEntry {
  const c = CHAPTERS.find((x) => x.hands.includes(a));
  if (!c) throw new Error(`chapter registry: no chapter hands on the artifact "${a}"`);
  return c;
}

/** The chapters whose artifacts `c` loads (direct upstream), in course order. */
export function upstreamOf(c: ChapterEntry): ChapterEntry[] {
  return CHAPTERS.filter((x) => x !== c && x.hands.some((a) => c.loads.includes(a)));
}

/** Every method with saved results, in course order. */
export function registeredMethods(): (MethodEntry & { chapter: ChapterEntry })[] {
  return CHAPTERS.flatMap((c) => c.methods.map((m) => ({ ...m, chapter: c })));
}

/** The methods the evaluation chapter compares: every registered method (it requires a result of each). */
export function evaluatedMethods(): string[] {
  return registeredMethods().map((m) => m.method);
}

/** The notebook that saves the results (and policies) of `method`, or undefined for an unknown method. */
export function methodNotebook(method: string): string | undefined {
  return registeredMethods().find((m) => m.method === method)?.chapter.notebook;
}

/** Every registered trainer. */
export function registeredTrainers(): (TrainerEntry & { chapter: ChapterEntry })[] {
  return CHAPTERS.flatMap((c) => c.trainers.map((t) => ({ ...t, chapter: c })));
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The key prefix of an evaluated policy from its label, by the registry's templates: "PPO beta=0.05" ->
 * "ppo.beta0.05", "best-of-16" -> "bon.n16", "rejection sampling N=8" -> "rs.n8", "SFT" -> "sftPolicy".
 * Throws for a label no registered method writes (register the method first).
 */
export function policyKey(label: string): string {
  for (const m of registeredMethods()) {
    const knob = /\{(beta|n)\}/.exec(m.label);
    const re = new RegExp(`^${escapeRe(m.label).replace(/\\\{(beta|n)\\\}/, knob?.[1] === 'n' ? '(\\d+)' : '([0-9.]+)')}$`);
    const hit = re.exec(label);
    if (hit) return knob ? m.key.replace(`{${knob[1]}}`, hit[1]) : m.key;
  }
  throw new Error(`policyKey: no registered method writes the label "${label}" (labels: ${registeredMethods().map((m) => m.label).join(', ')}; lib/course/chapters.ts)`);
}

/** "04-07, 12" for chapter numbers ["04", "05", "06", "07", "12"] (runs of consecutive numbers joined). */
export function chapterSpan(numbers: string[]): string {
  const out: string[] = [];
  let start = 0;
  for (let i = 1; i <= numbers.length; i++) {
    if (i < numbers.length && Number(numbers[i]) === Number(numbers[i - 1]) + 1) continue;
    out.push(i - 1 > start ? `${numbers[start]}-${numbers[i - 1]}` : numbers[start]);
    start = i;
  }
  return out.join(', ');
}
