// Checks this project's committed BLS vector (crates/walrus-core/tests/vectors/bls_messages.json)
// with the official Walrus packages from the conformance kit:
//  - every signature verifies with @mysten/walrus-wasm's bls12381_min_pk_verify, and a tampered
//    one does not;
//  - the storage-confirmation bytes equal what the official SDK's BCS schema serializes.
// Usage: node scripts/conformance-bls.mjs CONFORMANCE_DIR
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/conformance-bls.mjs CONFORMANCE_DIR');
  process.exit(2);
}
const require = createRequire(join(dir, 'package.json'));
const wasmDir = dirname(require.resolve('@mysten/walrus-wasm'));
const { bls12381_min_pk_verify } = await import(pathToFileURL(join(wasmDir, 'index.mjs')));
const sdkDist = dirname(require.resolve('@mysten/walrus'));
const { StorageConfirmation, IntentType } = await import(pathToFileURL(join(sdkDist, 'utils/bcs.mjs')));

const here = dirname(fileURLToPath(import.meta.url));
const vector = JSON.parse(readFileSync(join(here, '../crates/walrus-core/tests/vectors/bls_messages.json'), 'utf8'));
const hex = (s) => new Uint8Array(Buffer.from(s, 'hex'));
const publicKey = hex(vector.publicKey);

let failed = 0;
const check = (name, ok) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}`);
  if (!ok) failed++;
};

for (const c of vector.cases) {
  const message = hex(c.message);
  const signature = hex(c.signature);
  check(`${c.name}: signature verifies with the official bls12381_min_pk_verify`, bls12381_min_pk_verify(signature, publicKey, message));
  const tampered = message.slice();
  tampered[tampered.length - 1] ^= 1;
  check(`${c.name}: a tampered message is rejected`, !bls12381_min_pk_verify(signature, publicKey, tampered));
}

const expected = {
  permanent: { Permanent: null },
  deletable: { Deletable: { objectId: vector.deletableObjectId } },
};
for (const [name, blobType] of Object.entries(expected)) {
  const bytes = StorageConfirmation.serialize({
    intent: IntentType.BLOB_CERT_MSG,
    epoch: vector.epoch,
    messageContents: { blobId: vector.blobId, blobType },
  }).toBytes();
  const ours = vector.cases.find((c) => c.name === name).message;
  check(`${name}: confirmation bytes equal the official SDK's serialization`, Buffer.from(bytes).toString('hex') === ours);
}

console.log(failed === 0 ? 'BLS conformance: all checks passed' : `BLS conformance: ${failed} check(s) failed`);
process.exit(failed === 0 ? 0 : 1);
