// Stores a file through a publisher and reads it back through an aggregator with nothing but
// fetch, the way the Walrus documentation's JavaScript example uses the HTTP API (PUT
// $PUBLISHER/v1/blobs?epochs=N, then GET $AGGREGATOR/v1/blobs/<blobId>; the store answers
// `newlyCreated` or `alreadyCertified`). Our own code, run by crates/walrus-gateway/tests.
//
// Usage: PUBLISHER=http://... AGGREGATOR=http://... node store_and_read.mjs FILE
import { readFileSync } from 'node:fs';

const { PUBLISHER, AGGREGATOR } = process.env;
const data = readFileSync(process.argv[2]);

const stored = await fetch(`${PUBLISHER}/v1/blobs?epochs=1`, { method: 'PUT', body: data });
if (!stored.ok) throw new Error(`store failed: ${stored.status} ${await stored.text()}`);
const info = await stored.json();
const blobId = 'alreadyCertified' in info
  ? info.alreadyCertified.blobId
  : info.newlyCreated.blobObject.blobId;
const endEpoch = 'alreadyCertified' in info
  ? info.alreadyCertified.endEpoch
  : info.newlyCreated.blobObject.storage.endEpoch;

const read = await fetch(`${AGGREGATOR}/v1/blobs/${blobId}`);
if (!read.ok) throw new Error(`read failed: ${read.status}`);
const back = Buffer.from(await read.arrayBuffer());
if (!back.equals(data)) throw new Error('the bytes read back differ');
console.log(JSON.stringify({ blobId, endEpoch, bytes: back.length }));
