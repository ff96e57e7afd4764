#!/usr/bin/env node
// ONNX Runtime latency of two models, alternating: A B A B ... in one process, one intra-op thread,
// optimization level `all` (docs/benchmarks.md, "mode static"). Each round runs A then B `per_round`
// times (after a warm-up) and keeps each side's median; it prints the median over rounds of each side and
// of the per-round ratio A/B, so a drift of the shared machine's speed cancels out of the ratio.
//
//   EFFOPT_ORT_DIR=~/.cache/effopt/ort node bench/ort_latency_ab.js A.onnx B.onnx [ROUNDS] [PER_ROUND]
//
// Inputs: seeded uniform [0, 1) floats for every float input (the models' own shapes; a symbolic dim is 1).
'use strict';
const path = require('path');
const ort = require(path.join(process.env.EFFOPT_ORT_DIR || '', 'node_modules', 'onnxruntime-node'));

function feeds(session) {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
  const out = {};
  for (const name of session.inputNames) {
    const meta = session.inputMetadata ? session.inputMetadata.find((m) => m.name === name) : null;
    const dims = (meta && meta.shape ? meta.shape : [1]).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; ++i) data[i] = rnd();
    out[name] = new ort.Tensor('float32', data, dims);
  }
  return out;
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const [a, b] = process.argv.slice(2, 4);
  const rounds = Number(process.argv[4] || 7), perRound = Number(process.argv[5] || 10);
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
  const sa = await ort.InferenceSession.create(a, opts), sb = await ort.InferenceSession.create(b, opts);
  const fa = feeds(sa), fb = feeds(sb);
  const time = async (s, f) => {
    const t = process.hrtime.bigint();
    await s.run(f);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  for (let i = 0; i < 3; ++i) { await time(sa, fa); await time(sb, fb); }
  const ma = [], mb = [], ratio = [];
  for (let r = 0; r < rounds; ++r) {
    const ta = [], tb = [];
    for (let i = 0; i < perRound; ++i) ta.push(await time(sa, fa));
    for (let i = 0; i < perRound; ++i) tb.push(await time(sb, fb));
    ma.push(median(ta)); mb.push(median(tb)); ratio.push(median(ta) / median(tb));
  }
  const f = (x) => x.toFixed(2);
  console.log(JSON.stringify({ a, b, rounds, per_round: perRound, a_ms_median: +f(median(ma)), b_ms_median: +f(median(mb)),
    ratio_a_over_b_median: +f(median(ratio)), ratio_min: +f(Math.min(...ratio)), ratio_max: +f(Math.max(...ratio)) }));
}
main().catch((e) => { console.error(e); process.exit(1); });
