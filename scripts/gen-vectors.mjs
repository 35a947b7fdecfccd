#!/usr/bin/env node
// Generates the golden test vectors in crates/walrus-core/tests/vectors/ with the official Walrus
// encoder (@mysten/walrus-wasm), driven through the conformance kit's scripts (blob-id.mjs and
// encode.mjs, which stay in the kit; this script only runs them).
//
// Usage: node scripts/gen-vectors.mjs
//   WALRUS_CONFORMANCE_DIR  an installed kit dir (containing blob-id.mjs and node_modules); if unset
//                           or not installed, the kit's setup.sh is run to install/locate it
//   WALRUS_CONFORMANCE_KIT  where the kit's setup.sh lives (default: ../shared/conformance relative
//                           to the repository root)
//
// Every input is described by a small JSON object so that Rust tests can regenerate its bytes:
//   {"kind":"ascii","text":T}            the UTF-8 bytes of T
//   {"kind":"splitmix","seed":S,"len":L} the first L bytes of the splitmix64 stream seeded with S
//                                        (each output u64 appended little-endian)
// No npm dependencies of its own.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conformanceDir, inputBytes, logger, packageVersion, runNode as runKit, vectorsDir } from './vector-kit.mjs';

const { log, die } = logger('gen-vectors');
const encodeDir = join(vectorsDir, 'encode');
const dir = conformanceDir(die);
const wasmVersion = packageVersion(dir, '@mysten/walrus-wasm');
if (wasmVersion !== '0.3.0') console.error(`gen-vectors: WARNING: expected @mysten/walrus-wasm 0.3.0, found ${wasmVersion}`);
const encoderName = `@mysten/walrus-wasm ${wasmVersion}`;
log(`conformance dir ${dir} (${encoderName})`);

// ---------------------------------------------------------------------------------------------
// Inputs (the rules are vector-kit.mjs's).
const seedFor = (n, len) => (n * 1000003 + len) % 2 ** 32;
const smInput = (n, len) => ({ kind: 'splitmix', seed: seedFor(n, len), len });

const tmp = mkdtempSync(join(tmpdir(), 'walrus-vectors-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let fileCounter = 0;
function writeInput(input) {
  const path = join(tmp, `in-${fileCounter++}.bin`);
  const bytes = inputBytes(input);
  writeFileSync(path, bytes);
  return { path, bytes };
}

// ---------------------------------------------------------------------------------------------
// Parameters (RS2): f = floor((n-1)/3), primary symbols n-2f, secondary symbols n-f.
const params = (n) => {
  const f = Math.floor((n - 1) / 3);
  const k = (n - 2 * f) * (n - f);
  return { f, primary: n - 2 * f, secondary: n - f, k, max: k * 65534 };
};
const symbolSizeFor = (n, len) => {
  let s = Math.floor((Math.max(len, 1) - 1) / params(n).k) + 1;
  if (s % 2 === 1) s += 1;
  return s;
};
const uleb = (v) => { let k = 1; v = Math.floor(v / 128); while (v > 0) { k++; v = Math.floor(v / 128); } return k; };

const runNode = (script, args) => runKit(dir, script, args);

// ---------------------------------------------------------------------------------------------
// (a) Blob IDs.
const NS = [4, 7, 10, 100, 1000];
const MIB = 1048576;
const MAX_EXACT = 4 * MIB;
const KNOWN = [
  { n: 10, text: 'walrus blob id v1 regression test', blobId: 'RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY' },
  { n: 1000, text: 'some other string', blobId: 'M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk' },
];

const blobCases = []; // {n, input}
const tooLarge = []; // {n, input} expected to be rejected by the oracle
for (const n of NS) {
  const { k, max } = params(n);
  const sizes = [0, 1, 2, 3, 17, 1001, 2 * k, 2 * k + 1, 64 * k, 64 * k + 1, 63 * k + 5];
  if (n === 10 || n === 100 || n === 1000) sizes.push(MIB + 7, 3 * MIB + 13);
  // The sizes the end-to-end tests store on an n = 1000 network (the localnet's default).
  if (n === 1000) sizes.push(MIB, 64 * MIB);
  if (max <= MAX_EXACT) sizes.push(max);
  const seen = new Set();
  for (const len of sizes) {
    if (seen.has(len)) continue;
    seen.add(len);
    if (len > max) {
      log(`n=${n}: size ${len} exceeds the maximum ${max}; recorded as a too-large case instead`);
      if (len <= MAX_EXACT) tooLarge.push({ n, input: smInput(n, len) });
      continue;
    }
    blobCases.push({ n, input: smInput(n, len) });
  }
  if (max <= MAX_EXACT) tooLarge.push({ n, input: smInput(n, max + 1) });
}
for (const { n, text } of KNOWN) blobCases.push({ n, input: { kind: 'ascii', text } });

const results = [];
for (const n of NS) {
  const cases = blobCases.filter((c) => c.n === n);
  const files = cases.map((c) => ({ c, ...writeInput(c.input) }));
  const r = runNode('blob-id.mjs', ['--shards', String(n), ...files.map((f) => f.path)]);
  if (r.status !== 0) die(`blob-id.mjs --shards ${n} failed (exit ${r.status}):\n${r.stderr}`);
  const byFile = new Map(r.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((o) => [o.file, o]));
  for (const { c, path, bytes } of files) {
    const o = byFile.get(path);
    if (!o) die(`no oracle output for ${JSON.stringify(c)}`);
    if (o.size !== bytes.length || o.shards !== n || o.encoding !== 'RS2') die(`unexpected oracle output ${JSON.stringify(o)} for ${JSON.stringify(c)}`);
    results.push({ n, input: c.input, size: o.size, blobId: o.blobId, rootHash: o.rootHash });
  }
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  log(`blob IDs for n=${n}: ${files.length} cases`);
}
for (const { n, text, blobId } of KNOWN) {
  const got = results.find((r) => r.n === n && r.input.kind === 'ascii' && r.input.text === text);
  if (!got || got.blobId !== blobId) die(`oracle disagrees with the Walrus sources for n=${n} ${JSON.stringify(text)}: expected ${blobId}, got ${got?.blobId}`);
  log(`known vector ok: n=${n} ${JSON.stringify(text)} -> ${blobId}`);
}

// Too-large inputs must be rejected by the oracle.
const tooLargeResults = [];
for (const c of tooLarge) {
  const { path } = writeInput(c.input);
  const r = runNode('blob-id.mjs', ['--shards', String(c.n), path]);
  rmSync(path);
  const m = /^Error: (.*)$/m.exec(r.stderr);
  if (r.status === 0 || !m) die(`oracle did not reject n=${c.n} size ${c.input.len} (max ${params(c.n).max}): exit ${r.status}\n${r.stdout}${r.stderr}`);
  tooLargeResults.push({ n: c.n, input: c.input, size: c.input.len, maxSize: params(c.n).max, error: m[1] });
  log(`too large ok: n=${c.n} size ${c.input.len} -> ${JSON.stringify(m[1])}`);
}

mkdirSync(vectorsDir, { recursive: true });
const blobIdsJson = '{"generator":"scripts/gen-vectors.mjs","encoder":' + JSON.stringify(encoderName) +
  ',"cases":[\n' + results.map((r) => JSON.stringify(r)).join(',\n') +
  '\n],"tooLarge":[\n' + tooLargeResults.map((r) => JSON.stringify(r)).join(',\n') + '\n]}\n';
writeFileSync(join(vectorsDir, 'blob_ids.json'), blobIdsJson);
log(`wrote blob_ids.json: ${results.length} cases, ${tooLargeResults.length} too-large cases`);

// ---------------------------------------------------------------------------------------------
// (b) Full encodings.
const ENCODE = [
  ...[0, 1, 420, 768, 1199].map((len) => ({ n: 4, name: `n4-s${len}`, input: smInput(4, len) })),
  ...[1, 100, 1440].map((len) => ({ n: 7, name: `n7-s${len}`, input: smInput(7, len) })),
  { n: 10, name: 'n10-regression', input: { kind: 'ascii', text: KNOWN[0].text } },
  ...[1848, 500].map((len) => ({ n: 10, name: `n10-s${len}`, input: smInput(10, len) })),
];
rmSync(encodeDir, { recursive: true, force: true });
mkdirSync(encodeDir, { recursive: true });
for (const c of ENCODE) {
  const { n } = c;
  const p = params(n);
  const { path, bytes } = writeInput(c.input);
  const out = join(tmp, `out-${c.name}`);
  const r = runNode('encode.mjs', ['--shards', String(n), path, out]);
  if (r.status !== 0) die(`encode.mjs ${c.name} failed (exit ${r.status}):\n${r.stderr}`);
  const md = JSON.parse(readFileSync(join(out, 'metadata.json'), 'utf8'));
  const idr = runNode('blob-id.mjs', ['--shards', String(n), path]);
  if (idr.status !== 0) die(`blob-id.mjs for ${c.name} failed:\n${idr.stderr}`);
  const id = JSON.parse(idr.stdout.trim());
  const s = symbolSizeFor(n, bytes.length);
  if (md.blobId !== id.blobId) die(`${c.name}: encode.mjs blob ID ${md.blobId} != blob-id.mjs ${id.blobId}`);
  if (md.unencodedLength !== bytes.length || md.symbolSize !== s || md.encoding !== 'RS2' || md.hashes.length !== n) {
    die(`${c.name}: unexpected metadata ${JSON.stringify({ ...md, hashes: md.hashes.length })}`);
  }
  const readSlivers = (kind, symbols) => Array.from({ length: n }, (_, i) => {
    const b = readFileSync(join(out, `${kind}-${i}.bcs`));
    const len = symbols * s;
    const want = uleb(len) + len + 2 + 2;
    const index = kind === 'primary' ? i : n - 1 - i;
    if (b.length !== want) die(`${c.name}: ${kind}-${i}.bcs is ${b.length} bytes, expected ${want}`);
    if (b.readUInt16LE(b.length - 4) !== s) die(`${c.name}: ${kind}-${i}.bcs symbol size field ${b.readUInt16LE(b.length - 4)} != ${s}`);
    if (b.readUInt16LE(b.length - 2) !== index) die(`${c.name}: ${kind}-${i}.bcs index field ${b.readUInt16LE(b.length - 2)} != ${index}`);
    return b.toString('hex');
  });
  const primary = readSlivers('primary', p.secondary); // a primary sliver holds n-f symbols
  const secondary = readSlivers('secondary', p.primary); // a secondary sliver holds n-2f symbols
  const doc = {
    n, input: c.input, blobId: md.blobId, rootHash: id.rootHash, unencodedLength: md.unencodedLength, symbolSize: s,
    hashes: md.hashes.map((h) => ({ primary: h.primary, secondary: h.secondary })), primary, secondary,
  };
  writeFileSync(join(encodeDir, `${c.name}.json`), JSON.stringify(doc) + '\n');
  rmSync(out, { recursive: true, force: true });
  rmSync(path);
  log(`encoded ${c.name}: ${bytes.length} bytes, symbol size ${s}, blob ID ${md.blobId}`);
}

// ---------------------------------------------------------------------------------------------
// Size check.
let total = 0;
const walk = (d) => { for (const e of readdirSync(d)) { const q = join(d, e); const st = statSync(q); if (st.isDirectory()) walk(q); else total += st.size; } };
walk(vectorsDir);
log(`vectors dir total ${total} bytes`);
if (total > 2 * 1024 * 1024) die(`vectors dir is ${total} bytes, over the 2 MiB budget`);
log('done');
