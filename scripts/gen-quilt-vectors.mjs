#!/usr/bin/env node
// Generates crates/walrus-core/tests/vectors/quilts.json with the official quilt encoder
// (@mysten/walrus's encodeQuilt, through the conformance kit's quilt.mjs): for file sets at
// n = 4, 10, 100 and 1000 (random counts, sizes, identifiers and tags, plus chosen edge cases),
// the quilt's blob ID and size and every patch's column range and patch ID; and file sets the
// official encoder refuses.
//
// Usage: node scripts/gen-quilt-vectors.mjs   (WALRUS_CONFORMANCE_DIR / _KIT as gen-vectors.mjs)
// Each file's bytes are an input rule of vector-kit.mjs, rebuilt by the Rust test.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conformanceDir, inputBytes, logger, packageVersion, runNode, splitmix, vectorsDir } from './vector-kit.mjs';

const { log, die } = logger('gen-quilt-vectors');
const dir = conformanceDir(die);
const encoderName = `@mysten/walrus ${packageVersion(dir, '@mysten/walrus')}`;
log(`conformance dir ${dir} (${encoderName})`);
const tmp = mkdtempSync(join(tmpdir(), 'walrus-quilt-vectors-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const columns = (n) => n - Math.floor((n - 1) / 3);

/// A deterministic choice stream from a seed (splitmix64 words).
function chooser(seed) {
  const words = splitmix(seed, 8 * 4096);
  let at = 0;
  return (m) => Number(words.readBigUInt64LE((at++ % 4096) * 8) % BigInt(m));
}

const NAMES = ['index.html', 'a', 'b', 'aa', 'img/logo.png', 'café', '日本語.txt', '_underscore', 'with space',
  'z-last', 'README.md', 'data.bin', '0', '00', 'Z', 'ab', 'b.css', 'x'.repeat(40)];
const TAG_KEYS = ['content-type', 'k', 'aa', 'b', 'author', 'x'];
const TAG_VALUES = ['text/html', '1', '2', 'value with spaces', '', 'ünïcödé'];

function randomCase(n, seed) {
  const pick = chooser(seed);
  const count = 1 + pick(Math.min(columns(n) - 1, 24));
  const used = new Set();
  const files = [];
  const sizes = [0, 1, 2, 5, 100, 1000, 4096, 10240, 65537, 300000];
  for (let i = 0; files.length < count && i < 200; i++) {
    const base = NAMES[pick(NAMES.length)];
    const identifier = pick(3) === 0 ? `${base}-${pick(1000)}` : base;
    if (used.has(identifier)) continue;
    used.add(identifier);
    const len = sizes[pick(n === 1000 ? sizes.length : sizes.length - 1)];
    const tags = {};
    for (let t = pick(3); t > 0; t--) tags[TAG_KEYS[pick(TAG_KEYS.length)]] = TAG_VALUES[pick(TAG_VALUES.length)];
    files.push({ identifier, input: { kind: 'splitmix', seed: seed * 1000 + files.length, len }, tags });
  }
  return { n, name: `n${n}-random-${seed}`, files };
}

const file = (identifier, len, seed, tags = {}) => ({ identifier, input: { kind: 'splitmix', seed, len }, tags });
const CASES = [
  { n: 10, name: 'n10-hello-world', files: [
    { identifier: 'a', input: { kind: 'ascii', text: 'hello' }, tags: {} },
    { identifier: 'b', input: { kind: 'ascii', text: 'world!!' }, tags: { aa: '1', b: '2' } }] },
  { n: 4, name: 'n4-most-patches', files: [file('one', 10, 1), file('two', 0, 2)] },
  { n: 10, name: 'n10-most-patches', files: [0, 1, 2, 3, 4, 5].map((i) => file(`p${i}`, 7 * i, 10 + i)) },
  { n: 10, name: 'n10-one-empty-file', files: [file('empty', 0, 3)] },
  { n: 100, name: 'n100-unicode-and-tags', files: [
    file('日本語.txt', 500, 4, { 'content-type': 'text/plain; charset=utf-8' }), file('café', 33, 5, { b: 'x', aa: 'y' }),
    file('_underscore', 1, 6), file('with space', 2, 7)] },
  { n: 1000, name: 'n1000-600-files-of-10-KiB', files: Array.from({ length: 600 }, (_, i) => file(`file-${String(i).padStart(4, '0')}.bin`, 10240, 2000 + i)) },
  { n: 1000, name: 'n1000-one-large-file', files: [file('large.bin', 3 * 1048576 + 5, 9, { 'content-type': 'application/octet-stream' })] },
];
for (const [n, seeds] of [[4, [41, 42]], [10, [101, 102, 103]], [100, [201, 202, 203]], [1000, [301, 302, 303]]]) {
  for (const seed of seeds) CASES.push(randomCase(n, seed));
}
const REFUSED = [
  { n: 10, name: 'n10-duplicate', files: [file('same', 1, 1), file('same', 2, 2)] },
  { n: 10, name: 'n10-too-many', files: [0, 1, 2, 3, 4, 5, 6].map((i) => file(`p${i}`, 1, i)) },
  { n: 4, name: 'n4-too-many', files: [file('a', 1, 1), file('b', 1, 2), file('c', 1, 3)] },
];

function runQuilt(c) {
  const args = ['--shards', String(c.n), '--out', join(tmp, 'quilt.bin')];
  const tags = {};
  c.files.forEach((f, i) => {
    const path = join(tmp, `f${i}.bin`);
    writeFileSync(path, inputBytes(f.input));
    args.push(`${f.identifier}=${path}`);
    if (Object.keys(f.tags).length > 0) tags[f.identifier] = f.tags;
  });
  writeFileSync(join(tmp, 'tags.json'), JSON.stringify(tags));
  args.push('--tags', join(tmp, 'tags.json'));
  return runNode(dir, 'quilt.mjs', args);
}

const results = [];
for (const c of CASES) {
  const r = runQuilt(c);
  if (r.status !== 0) die(`quilt.mjs refused ${c.name}: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  results.push({ ...c, quiltBlobId: out.quiltBlobId, size: out.size,
    patches: out.patches.map((p) => ({ identifier: p.identifier, startIndex: p.startIndex, endIndex: p.endIndex, patchId: p.patchId })) });
  log(`${c.name}: ${c.files.length} files, ${out.size} bytes, ${out.quiltBlobId}`);
}
const refused = [];
for (const c of REFUSED) {
  const r = runQuilt(c);
  if (r.status === 0) die(`quilt.mjs accepted ${c.name}`);
  refused.push({ ...c, error: r.stderr.trim() });
  log(`${c.name}: refused (${r.stderr.trim()})`);
}
writeFileSync(join(vectorsDir, 'quilts.json'), '{"generator":"scripts/gen-quilt-vectors.mjs","encoder":' + JSON.stringify(encoderName) +
  ',"cases":[\n' + results.map((r) => JSON.stringify(r)).join(',\n') + '\n],"refused":[\n' +
  refused.map((r) => JSON.stringify(r)).join(',\n') + '\n]}\n');
log(`wrote quilts.json: ${results.length} cases, ${refused.length} refused`);
