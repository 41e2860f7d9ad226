/**
 * The reward-model benchmark (lib/feedback/rmBench.ts): build it from the corpus and the default
 * gold score, deterministically from its seed, and write data/rm-bench/v<version>.jsonl atomically;
 * or, with --check, rebuild it and compare with the committed file (exit 1 if they differ).
 *
 *   npx tsx scripts/rm-bench.ts [--check] [--out FILE]
 *
 * Changing the builder, the gold score or the corpus changes the pairs: then bump BENCH_VERSION and
 * write a new file rather than overwrite a version others have scored.
 */
import * as fs from 'fs';
import { parseArgs } from 'util';
import { writeAtomic } from '../lib/core/files';
import { loadCorpus } from '../lib/text/corpus';
import { defaultGold } from '../lib/feedback/task';
import { benchPath, BENCH_VERSION, checkBenchmark, scoreBenchmark } from '../lib/feedback/rmBench';
import { BENCH_BUILD_DEFAULTS, buildBenchmark } from '../lib/feedback/rmBenchBuild';

function main(): void {
  const { values: o } = parseArgs({ options: { check: { type: 'boolean', default: false }, out: { type: 'string', default: benchPath() } } });
  const records = checkBenchmark(buildBenchmark(loadCorpus(), defaultGold()), 'built');
  const body = records.map((r) => JSON.stringify(r) + '\n').join('');
  if (o.check) {
    const old = fs.existsSync(o.out!) ? fs.readFileSync(o.out!, 'utf8') : '';
    const same = old === body;
    console.log(`${o.out}: ${same ? 'identical to' : 'DIFFERS from'} the rebuilt benchmark v${BENCH_VERSION} (seed ${BENCH_BUILD_DEFAULTS.seed}, ${records.length} pairs)`);
    process.exit(same ? 0 : 1);
  }
  writeAtomic(o.out!, body);
  const counts = scoreBenchmark(records, (_, c) => defaultGold().score(c), 'subcategory');
  console.log(`wrote ${o.out}: ${records.length} pairs, benchmark v${BENCH_VERSION}, seed ${BENCH_BUILD_DEFAULTS.seed}`);
  for (const row of counts) console.log(`  ${row.group.padEnd(34)} ${String(row.pairs).padStart(4)} pairs, gold's own accuracy ${row.accuracy}`);
}

main();
