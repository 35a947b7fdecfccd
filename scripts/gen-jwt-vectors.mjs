#!/usr/bin/env node
// Generates crates/walrus-gateway/tests/vectors/jwt.json: publisher JWTs for every algorithm the
// reference publisher accepts (`--jwt-algorithm`), signed by Node.js's own crypto (OpenSSL), so
// that the gateway's verification is checked against an implementation other than its own.
//
// Each case holds the `--jwt-decode-secret` text exactly as the reference reads it
// (crates/walrus-service/src/client/cli/args.rs, `AuthConfig::with_key_from_str`: hex after
// `0x`, then jsonwebtoken's `from_secret` / `from_ed_der` (the raw 32-byte Ed25519 key) /
// `from_ec_der` (the SEC1 uncompressed point) / `from_rsa_der` (PKCS#1 RSAPublicKey DER)):
//   valid    a token signed with the key
//   forged   the same claims signed with another key of the same kind
// and `weak_rsa`: a 1024-bit RSA key with a token it signed (ring, and so the reference, verify
// RSA only with 2048- to 8192-bit moduli).
//
// Usage: node scripts/gen-jwt-vectors.mjs   (no npm dependencies)
import { createHmac, generateKeyPairSync, randomBytes, sign, constants } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(repoRoot, 'crates/walrus-gateway/tests/vectors/jwt.json');

// 3025-01-01, as the reference's own auth tests use.
const FAR_EXP = 33292598400;
const b64url = (buf) => Buffer.from(buf).toString('base64url');
const hex = (buf) => '0x' + Buffer.from(buf).toString('hex');

function jwt(alg, claims, signer) {
  const signed = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signed}.${b64url(signer(Buffer.from(signed)))}`;
}

const hashOf = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };

// A key of the kind `alg` uses: [the decode secret, a signer].
function keyFor(alg, bits) {
  const family = alg.slice(0, 2);
  const size = alg.slice(2);
  if (family === 'HS') {
    const secret = randomBytes(32);
    return [hex(secret), (m) => createHmac(hashOf[size], secret).update(m).digest()];
  }
  if (alg === 'EdDSA') {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
    return [hex(raw), (m) => sign(null, m, privateKey)];
  }
  if (family === 'ES') {
    const namedCurve = size === '256' ? 'P-256' : 'P-384';
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve });
    const jwk = publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
    return [hex(point), (m) => sign(hashOf[size], m, { key: privateKey, dsaEncoding: 'ieee-p1363' })];
  }
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits ?? 2048 });
  const der = publicKey.export({ type: 'pkcs1', format: 'der' });
  const padding = family === 'PS'
    ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
    : { padding: constants.RSA_PKCS1_PADDING };
  return [hex(der), (m) => sign(hashOf[size], m, { key: privateKey, ...padding })];
}

const algorithms = ['HS256', 'HS384', 'HS512', 'EdDSA', 'ES256', 'ES384', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const cases = algorithms.map((alg) => {
  const claims = { exp: FAR_EXP, jti: `vector-${alg}`, epochs: 2, max_size: 1024 };
  const [secret, signer] = keyFor(alg);
  const [, otherSigner] = keyFor(alg);
  return { alg, secret, claims, valid: jwt(alg, claims, signer), forged: jwt(alg, claims, otherSigner) };
});
const weakClaims = { exp: FAR_EXP, jti: 'vector-weak-rsa' };
const [weakSecret, weakSigner] = keyFor('RS256', 1024);
const weak_rsa = { alg: 'RS256', secret: weakSecret, claims: weakClaims, valid: jwt('RS256', weakClaims, weakSigner) };

mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ generator: 'scripts/gen-jwt-vectors.mjs', openssl: process.versions.openssl, cases, weak_rsa }, null, 1) + '\n');
console.error(`gen-jwt-vectors: ${cases.length} algorithms written to ${out}`);
