"""Stores a file through a publisher and reads it back through an aggregator with `requests`,
the way the Walrus documentation's Python quickstart uses the HTTP API (PUT
$PUBLISHER/v1/blobs?epochs=N, then GET $AGGREGATOR/v1/blobs/<blobId>). Our own code, run by
crates/walrus-gateway/tests.

Usage: PUBLISHER=http://... AGGREGATOR=http://... python3 store_and_read.py FILE
"""
import json
import os
import sys

import requests

publisher, aggregator = os.environ["PUBLISHER"], os.environ["AGGREGATOR"]
with open(sys.argv[1], "rb") as f:
    data = f.read()

response = requests.put(f"{publisher}/v1/blobs", params={"epochs": 1}, data=data, timeout=60)
response.raise_for_status()
info = response.json()
if "alreadyCertified" in info:
    blob_id, end_epoch = info["alreadyCertified"]["blobId"], info["alreadyCertified"]["endEpoch"]
else:
    blob = info["newlyCreated"]["blobObject"]
    blob_id, end_epoch = blob["blobId"], blob["storage"]["endEpoch"]

read = requests.get(f"{aggregator}/v1/blobs/{blob_id}", timeout=60)
read.raise_for_status()
if read.content != data:
    sys.exit("the bytes read back differ")
print(json.dumps({"blobId": blob_id, "endEpoch": end_epoch, "bytes": len(read.content)}))
