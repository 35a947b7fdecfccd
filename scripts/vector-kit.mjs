// What the vector generators share: the conformance kit's location, the logging, and the
// input rules the Rust tests rebuild (see gen-vectors.mjs). No npm dependencies of its own.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const vectorsDir = join(repoRoot, 'crates/walrus-core/tests/vectors');

/// Logging and fatal errors, prefixed with the generator's name and the time since it began.
export function logger(name) {
  const t0 = Date.now();
  return {
    log: (msg) => console.error(`${name}: ${msg} (${((Date.now() - t0) / 1000).toFixed(1)}s)`),
    die: (msg) => {
      console.error(`${name}: ERROR: ${msg}`);
      process.exit(1);
    },
  };
}

/// The installed conformance kit: WALRUS_CONFORMANCE_DIR if it is installed, else what the
/// kit's setup.sh (WALRUS_CONFORMANCE_KIT, default ../shared/conformance) prints.
export function conformanceDir(die) {
  const env = process.env.WALRUS_CONFORMANCE_DIR;
  if (env && existsSync(join(env, 'blob-id.mjs')) && existsSync(join(env, 'node_modules/@mysten/walrus-wasm'))) {
    return env;
  }
  const kit = process.env.WALRUS_CONFORMANCE_KIT || resolve(repoRoot, '../shared/conformance');
  const setup = join(kit, 'setup.sh');
  if (!existsSync(setup)) die(`conformance kit not found (no ${setup}); set WALRUS_CONFORMANCE_DIR or WALRUS_CONFORMANCE_KIT`);
  const r = spawnSync(setup, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) die(`${setup} failed (exit ${r.status})`);
  const dir = r.stdout.trim().split('\n').pop();
  if (!dir || !existsSync(join(dir, 'blob-id.mjs'))) die(`${setup} printed no usable dir: ${JSON.stringify(r.stdout)}`);
  return dir;
}

/// The version of an installed package of the kit.
export function packageVersion(dir, name) {
  return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/// Runs one of the kit's scripts with node.
export function runNode(dir, script, args) {
  return spawnSync(process.execPath, [join(dir, script), ...args], {
    encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const M64 = (1n << 64n) - 1n;
/// The first `len` bytes of the splitmix64 stream seeded with `seed` (each output u64 appended
/// little-endian): `walrus_core::splitmix::splitmix_bytes`.
export function splitmix(seed, len) {
  const out = Buffer.alloc(Math.ceil(len / 8) * 8);
  let state = BigInt(seed) & M64;
  for (let off = 0; off < out.length; off += 8) {
    state = (state + 0x9e3779b97f4a7c15n) & M64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    z ^= z >> 31n;
    out.writeBigUInt64LE(z, off);
  }
  return out.subarray(0, len);
}
// Self-check of the stream against the published splitmix64 reference (seed 0 first output).
if (splitmix(0, 8).readBigUInt64LE(0) !== 0xe220a8397b1dcdafn) throw new Error('splitmix64 self-check failed');

/// The bytes an input rule names: {"kind":"ascii","text":T} or {"kind":"splitmix","seed":S,"len":L}.
export function inputBytes(input) {
  if (input.kind === 'ascii') return Buffer.from(input.text, 'utf8');
  if (input.kind === 'splitmix') return splitmix(input.seed, input.len);
  throw new Error(`unknown input kind ${input.kind}`);
}
