#!/usr/bin/env node
// ONNX Runtime reference runner for effopt's tests (driven by tests/support/ort_harness.cpp).
//
// Debian has no ONNX Runtime C/C++ headers, so tests reach ORT through onnxruntime-node. One long-lived
// process serves every run of a test binary: starting node + loading ORT costs ~100 ms, a session less.
//
// Protocol: newline-delimited JSON on stdin/stdout, one response line per request, in order.
//   On start-up:  {"ready":true,"ort_version":"1.30.0","node":"v20..."}
//             or  {"ready":false,"error":"..."} followed by exit(1).
//   Request:  {"id":N, "model":"/m.onnx", "inputs":[{"name":"x","path":"/in/input_0.pb"}],
//              "output_dir":"/tmp/out", "warmup":0, "repeat":1,
//              "session":{"intra_op_num_threads":1, "inter_op_num_threads":1,
//                         "graph_optimization_level":"all"|"extended"|"basic"|"layout"|"disabled",
//                         "optimized_model_path":"/opt.onnx", "execution_mode":"sequential"|"parallel",
//                         "log_severity_level":3}}
//   Response: {"id":N, "ok":true, "outputs":[{"name":"y","path":"/tmp/out/output_0.pb"}],
//              "load_ms":x, "latency_ms":[...], "cpu_ms":[...]}  (outputs are those of the last timed run;
//              cpu_ms: the node process's CPU time per timed run, all threads)
//          or {"id":N, "ok":false, "error":"message"}
// Tensors are serialized onnx.TensorProto files (the ONNX backend test-data layout). Outputs are written
// with raw_data (strings with string_data). A model that fails to load or run gives ok:false, and so does a
// feed whose name is not among the session's inputs (onnxruntime-node would drop it silently, so an
// initializer listed among the graph inputs cannot be overridden through it); only EOF on stdin ends the
// process.
//
// onnxruntime-node is looked up in --ort-dir DIR, else $EFFOPT_ORT_DIR, and nowhere else (DIR is the npm
// prefix: it holds node_modules/onnxruntime-node). Only that package is used.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

// stdout carries the protocol only: route stray console output to stderr.
console.log = console.info = console.debug = (...a) => process.stderr.write(a.join(' ') + '\n');

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function ortDir() {
  const i = process.argv.indexOf('--ort-dir');
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  return process.env.EFFOPT_ORT_DIR || '';
}

// ---------------------------------------------------------------------------------------------------------
// onnx.TensorProto codec (protobuf wire format, only the fields tests use).

const DT = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
};
// ONNX data_type -> onnxruntime-node tensor type. BFLOAT16 is absent on purpose: onnxruntime-node 1.30 has
// no tensor type for it (its backend maps type 16 to "Unsupported data type"), so it is reported as an error.
const ORT_TYPE = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};
const ONNX_TYPE = Object.fromEntries(Object.entries(ORT_TYPE).map(([k, v]) => [v, Number(k)]));
// float16 travels as its bit pattern: node 20 has no Float16Array and ORT accepts Uint16Array for it.
const TYPED_ARRAY = {
  float32: Float32Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array,
  int32: Int32Array, int64: BigInt64Array, bool: Uint8Array, float16: Uint16Array, float64: Float64Array,
  uint32: Uint32Array, uint64: BigUint64Array,
};
const TYPE_NAMES = {
  0: 'UNDEFINED', 14: 'COMPLEX64', 15: 'COMPLEX128', 16: 'BFLOAT16', 17: 'FLOAT8E4M3FN', 18: 'FLOAT8E4M3FNUZ',
  19: 'FLOAT8E5M2', 20: 'FLOAT8E5M2FNUZ', 21: 'UINT4', 22: 'INT4',
};

class Reader {
  constructor(buf) { this.buf = buf; this.pos = 0; }
  eof() { return this.pos >= this.buf.length; }
  // A 64-bit varint as unsigned 32-bit halves [lo, hi]; JS numbers cannot hold it exactly.
  varint() {
    const b = this.buf;
    let lo = 0, hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= b.length) throw new Error('truncated varint');
      const byte = b[this.pos++];
      const v = byte & 0x7f;
      if (i < 4) lo |= v << (7 * i);
      else if (i === 4) { lo |= v << 28; hi |= v >>> 4; }
      else hi |= v << (7 * i - 32);
      if (!(byte & 0x80)) return [lo >>> 0, hi >>> 0];
    }
    throw new Error('varint longer than 10 bytes');
  }
  bytes(n) {
    if (n < 0 || this.pos + n > this.buf.length) throw new Error('truncated field');
    const s = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  lengthDelimited() { return this.bytes(this.varint()[0]); }
  skip(wireType) {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.bytes(8);
    else if (wireType === 2) this.lengthDelimited();
    else if (wireType === 5) this.bytes(4);
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

function int64FromHalves([lo, hi]) {
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

// Repeated scalars may come packed (wire type 2) or not; protobuf parsers must accept both.
function readRepeated(r, wireType, out, scalarWire, readOne) {
  if (wireType === 2) {
    const sub = new Reader(r.lengthDelimited());
    while (!sub.eof()) out.push(readOne(sub));
  } else if (wireType === scalarWire) {
    out.push(readOne(r));
  } else {
    r.skip(wireType);
  }
}
const readVarint = (r) => r.varint();
const readF32 = (r) => { const b = r.bytes(4); return b.readFloatLE(0); };
const readF64 = (r) => { const b = r.bytes(8); return b.readDoubleLE(0); };

function decodeTensorProto(buf) {
  const r = new Reader(buf);
  const t = { dims: [], dataType: 0, name: '', floatData: [], int32Data: [], stringData: [], int64Data: [],
    doubleData: [], uint64Data: [], rawData: null, dataLocation: 0 };
  while (!r.eof()) {
    const key = r.varint()[0];
    const field = key >>> 3, wt = key & 7;
    switch (field) {
      case 1: readRepeated(r, wt, t.dims, 0, (s) => Number(int64FromHalves(s.varint()))); break;
      case 2: t.dataType = r.varint()[0] | 0; break;
      case 4: readRepeated(r, wt, t.floatData, 5, readF32); break;
      case 5: readRepeated(r, wt, t.int32Data, 0, readVarint); break;
      case 6: t.stringData.push(Buffer.from(r.lengthDelimited())); break;
      case 7: readRepeated(r, wt, t.int64Data, 0, readVarint); break;
      case 8: t.name = r.lengthDelimited().toString('utf8'); break;
      case 9: t.rawData = r.lengthDelimited(); break;
      case 10: readRepeated(r, wt, t.doubleData, 1, readF64); break;
      case 11: readRepeated(r, wt, t.uint64Data, 0, readVarint); break;
      case 14: t.dataLocation = r.varint()[0]; break;
      default: r.skip(wt);
    }
  }
  return t;
}

// Fills a 64-bit typed array from [lo, hi] halves without going through BigInt per element.
function fill64(TA, halves) {
  const a = new TA(halves.length);
  const u32 = new Uint32Array(a.buffer);
  halves.forEach(([lo, hi], i) => { u32[2 * i] = lo; u32[2 * i + 1] = hi; });
  return a;
}

function tensorFromProto(t, ort, label) {
  const type = ORT_TYPE[t.dataType];
  if (t.dataType === DT.BFLOAT16) {
    throw new Error(`${label}: bfloat16 tensors cannot be passed: onnxruntime-node has no bfloat16 tensor type`);
  }
  if (!type) {
    throw new Error(`${label}: unsupported data_type ${t.dataType} (${TYPE_NAMES[t.dataType] || 'unknown'})`);
  }
  if (t.dataLocation === 1) throw new Error(`${label}: tensors with external data are not supported`);
  const dims = t.dims;
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`${label}: bad dims [${dims}]`);
  const n = dims.reduce((a, b) => a * b, 1);

  let data;
  if (type === 'string') {
    data = t.stringData.map((b) => b.toString('utf8'));
  } else if (t.rawData !== null) {
    const TA = TYPED_ARRAY[type];
    if (os.endianness() !== 'LE') throw new Error('raw_data decoding assumes a little-endian host');
    if (t.rawData.length !== n * TA.BYTES_PER_ELEMENT) {
      throw new Error(`${label}: raw_data has ${t.rawData.length} bytes, dims [${dims}] of ${type} need ` +
                      `${n * TA.BYTES_PER_ELEMENT}`);
    }
    // Copy into a fresh, aligned buffer: the slice of the file buffer may be misaligned.
    const copy = new Uint8Array(t.rawData.length);
    copy.set(t.rawData);
    data = new TA(copy.buffer);
  } else {
    switch (type) {
      case 'float32': data = Float32Array.from(t.floatData); break;
      case 'float64': data = Float64Array.from(t.doubleData); break;
      case 'int64': data = fill64(BigInt64Array, t.int64Data); break;
      case 'uint64': data = fill64(BigUint64Array, t.uint64Data); break;
      case 'uint32': data = Uint32Array.from(t.uint64Data, ([lo]) => lo); break;
      // int32_data holds int8..int32, bool and float16 (as its bit pattern); the typed array truncates.
      default: data = TYPED_ARRAY[type].from(t.int32Data, ([lo]) => lo | 0);
    }
  }
  if (data.length !== n) {
    throw new Error(`${label}: ${data.length} elements for dims [${dims}] (${n} expected)`);
  }
  return new ort.Tensor(type, data, dims);
}

function encodeVarint(parts, value) {
  // value: a non-negative Number (< 2^53) or BigInt.
  let v = BigInt.asUintN(64, BigInt(value));
  const bytes = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    bytes.push(byte);
  } while (v);
  parts.push(Buffer.from(bytes));
}

function encodeBytesField(parts, field, buf) {
  encodeVarint(parts, (field << 3) | 2);
  encodeVarint(parts, buf.length);
  parts.push(buf);
}

// Same field order as protobuf's C++ serializer (by field number, dims unpacked as in proto2).
function encodeTensorProto(name, tensor) {
  const dataType = ONNX_TYPE[tensor.type];
  if (!dataType) throw new Error(`output '${name}': unsupported ORT tensor type '${tensor.type}'`);
  const parts = [];
  for (const d of tensor.dims) { encodeVarint(parts, 1 << 3); encodeVarint(parts, d); }
  encodeVarint(parts, 2 << 3);
  encodeVarint(parts, dataType);
  if (tensor.type === 'string') {
    for (const s of tensor.data) encodeBytesField(parts, 6, Buffer.from(String(s), 'utf8'));
  }
  encodeBytesField(parts, 8, Buffer.from(name, 'utf8'));
  if (tensor.type !== 'string') {
    const d = tensor.data;
    encodeBytesField(parts, 9, Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------
// Request handling.

const OPT_LEVELS = new Set(['disabled', 'basic', 'extended', 'layout', 'all']);

function sessionOptions(s) {
  s = s || {};
  const o = {
    intraOpNumThreads: s.intra_op_num_threads ?? 1,
    interOpNumThreads: s.inter_op_num_threads ?? 1,
    graphOptimizationLevel: s.graph_optimization_level ?? 'all',
    executionMode: s.execution_mode ?? 'sequential',
    // ORT's warnings (e.g. unused initializers) would drown test output; EFFOPT_ORT_LOG_LEVEL=0..4 overrides.
    logSeverityLevel: s.log_severity_level ?? Number(process.env.EFFOPT_ORT_LOG_LEVEL ?? 3),
  };
  if (!OPT_LEVELS.has(o.graphOptimizationLevel)) {
    throw new Error(`bad graph_optimization_level '${o.graphOptimizationLevel}'`);
  }
  if (s.optimized_model_path) o.optimizedModelFilePath = s.optimized_model_path;
  return o;
}

async function handle(req, ort) {
  if (typeof req.model !== 'string') throw new Error('request has no "model" path');
  if (typeof req.output_dir !== 'string') throw new Error('request has no "output_dir"');
  const warmup = req.warmup ?? 0, repeat = req.repeat ?? 1;
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`bad warmup ${warmup}`);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`bad repeat ${repeat}`);

  const feeds = {};
  for (const [i, inp] of (req.inputs || []).entries()) {
    const t = decodeTensorProto(fs.readFileSync(inp.path));
    const name = inp.name || t.name;
    if (!name) throw new Error(`input ${i} (${inp.path}) has no name`);
    feeds[name] = tensorFromProto(t, ort, `input '${name}'`);
  }

  const t0 = performance.now();
  const session = await ort.InferenceSession.create(req.model, sessionOptions(req.session));
  const loadMs = performance.now() - t0;
  try {
    // onnxruntime-node passes only the names in session.inputNames to ORT and silently drops any other
    // feed (an unknown name, or an initializer listed among the graph inputs, which ORT's C API would let
    // override the initializer from IR version 4 on): refuse them rather than run without them.
    for (const name of Object.keys(feeds)) {
      if (!session.inputNames.includes(name)) {
        throw new Error(`input '${name}' is not among the session's inputs (${session.inputNames.join(', ')}): ` +
                        'onnxruntime-node would ignore it');
      }
    }
    for (let i = 0; i < warmup; i++) await session.run(feeds);
    const latency = [], cpu = [];
    let results;
    for (let i = 0; i < repeat; i++) {
      const s = performance.now();
      const c = process.cpuUsage();
      results = await session.run(feeds);
      latency.push(performance.now() - s);
      const d = process.cpuUsage(c);
      cpu.push((d.user + d.system) / 1000);
    }
    fs.mkdirSync(req.output_dir, { recursive: true });
    const outputs = session.outputNames.map((name, k) => {
      const file = path.join(req.output_dir, `output_${k}.pb`);
      fs.writeFileSync(file, encodeTensorProto(name, results[name]));
      return { name, path: file };
    });
    return { ok: true, outputs, load_ms: loadMs, latency_ms: latency, cpu_ms: cpu };
  } finally {
    await session.release();
  }
}

function errorMessage(e) {
  const msg = (e && e.message) ? e.message : String(e);
  // onnxruntime-node rejects bfloat16 graph inputs/outputs with just the type number.
  return /Unsupported data type: 16\b/.test(msg)
    ? `${msg} (bfloat16: onnxruntime-node has no bfloat16 tensor type)` : msg;
}

function main() {
  const dir = ortDir();
  if (!dir) {
    send({ ready: false, error: 'no ONNX Runtime folder: pass --ort-dir DIR or set EFFOPT_ORT_DIR' });
    process.exit(1);
  }
  const pkg = path.join(dir, 'node_modules', 'onnxruntime-node');
  let ort;
  try {
    ort = require(pkg);
  } catch (e) {
    const hint = fs.existsSync(pkg) ? `failed to load ${pkg}: ${errorMessage(e)}`
      : `onnxruntime-node not found in ${dir}; run tools/install-deps.sh or ` +
        `npm install --prefix ${dir} --ignore-scripts onnxruntime-node@1.30.0`;
    send({ ready: false, error: hint });
    process.exit(1);
  }
  ort.env.logLevel = 'error';
  send({ ready: true, ort_version: (ort.env.versions && ort.env.versions.node) || 'unknown',
         node: process.version });

  // Requests are served strictly one at a time, in arrival order: timings must not overlap.
  let chain = Promise.resolve();
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    chain = chain.then(async () => {
      let req;
      try {
        req = JSON.parse(line);
      } catch (e) {
        send({ id: null, ok: false, error: `bad request JSON: ${errorMessage(e)}` });
        return;
      }
      try {
        send({ id: req.id ?? null, ...(await handle(req, ort)) });
      } catch (e) {
        send({ id: req.id ?? null, ok: false, error: errorMessage(e) });
      }
    });
  });
  rl.on('close', () => { chain.finally(() => process.exit(0)); });
}

process.on('unhandledRejection', (e) => process.stderr.write(`ort_runner: unhandled rejection: ${e}\n`));
main();
