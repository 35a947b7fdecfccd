#!/usr/bin/env python3
# The churn acceptance scenario of issue 15 in full (CI runs the reduced form,
# crates/walrus-sdk/tests/churn.rs): a `walrus localnet` of 4 nodes over 1000 shards with
# 30-second epochs, over ten epoch changes, while a load of stores and reads runs:
#   - before each mid-epoch, stake moves: new stake on one node, an earlier stake withdrawn;
#   - after the first change, a fifth node joins through the operator commands (node setup,
#     faucet, node register, node run, stake);
#   - after the fifth change, an original node's operator withdraws its stake and it leaves.
# Every blob must read back with the right bytes throughout (no read may fail); every store
# must succeed (the SDK retries retriable errors by itself). At the end every blob is read
# again. Prints a JSON summary (and writes it to --out); exits 1 if anything failed.
#
#   scripts/churn.py --walrus "$CARGO_TARGET_DIR/release/walrus" [--shards 1000]
#                    [--epoch 30s] [--changes 10] [--dir DIR (emptied first)] [--out FILE] [--pause S]
import argparse, json, os, random, shutil, signal, subprocess, sys, tempfile, threading, time
import urllib.request

WAL = 1_000_000_000  # FROST per WAL
PAUSE_S = 1.0  # between two operations of the load


def log(msg):
    print(f"[churn {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Walrus:
    def __init__(self, binary, config):
        self.binary, self.config = binary, config

    def run(self, *args, wallet=None, check=True, timeout=600):
        cmd = [self.binary, "--config", self.config] + list(args)
        if wallet:
            cmd += ["--wallet", wallet]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"walrus {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
        return done

    def json(self, *args, wallet=None):
        return json.loads(self.run(*args, "--json", wallet=wallet).stdout)

    def faucet(self, wallet, wal):
        """`wal` WAL, and 10 more for the fees of what it pays for."""
        wal += 10
        while wal > 0:
            step = min(wal, 1000)
            self.run("wallet", "faucet", "--amount", str(step), wallet=wallet)
            wal -= step


def system(chain_url):
    with urllib.request.urlopen(f"{chain_url}/v1/system", timeout=10) as r:
        return json.load(r)


def owners(view):
    """shard -> node ID of the view's committee."""
    out = {}
    for member in view["system"]["committee"]["members"]:
        for shard in member["shards"]:
            out[shard] = member["node_id"]
    return out


class Load(threading.Thread):
    """Stores a blob and reads an earlier one back, over and over, with a pause between
    (`--pause`, 1 s by default; 0 for an unpaced load): the machine of the recorded runs has 2
    cores for 5 nodes, the chain, the gateway and the load."""

    def __init__(self, walrus, work, seed, pause):
        super().__init__(daemon=True)
        self.walrus, self.work, self.rng, self.pause = walrus, work, random.Random(seed), pause
        self.stop = threading.Event()
        self.blobs = []  # (blob ID, path of the original)
        self.stores = self.reads = 0
        self.failures = []

    def read_back(self, blob_id, original, tag):
        out = os.path.join(self.work, f"read-{tag}.bin")
        done = self.walrus.run("read", blob_id, "--out", out, check=False)
        if done.returncode != 0:
            self.failures.append(f"read of {blob_id} failed: {done.stderr.strip()[-500:]}")
        elif open(out, "rb").read() != open(original, "rb").read():
            self.failures.append(f"read of {blob_id} returned other bytes")
        else:
            self.reads += 1

    def run(self):
        i = 0
        while not self.stop.is_set():
            self.stop.wait(self.pause)
            size = self.rng.choice([1024, 64 << 10, 1 << 20, 4 << 20])
            path = os.path.join(self.work, f"blob-{i}.bin")
            with open(path, "wb") as f:
                f.write(self.rng.randbytes(size))
            done = self.walrus.run("store", path, "--epochs", "15", "--json", check=False)
            if done.returncode != 0:
                self.failures.append(f"store {i} ({size} B) failed: {done.stderr.strip()[-500:]}")
            else:
                # Fresh random bytes: always a new blob.
                result = json.loads(done.stdout)[0]["blobStoreResult"]
                self.blobs.append((result["newlyCreated"]["blobObject"]["blobId"], path))
                self.stores += 1
            if self.blobs:
                blob_id, original = self.rng.choice(self.blobs)
                self.read_back(blob_id, original, "load")
            i += 1


def main():
    # SIGTERM ends the run as a failure, through the `finally` that stops the processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--walrus", required=True)
    ap.add_argument("--shards", type=int, default=1000)
    ap.add_argument("--epoch", default="30s")
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--dir")
    ap.add_argument("--out")
    ap.add_argument("--pause", type=float, default=PAUSE_S, help="seconds between two operations")
    ap.add_argument("--port", type=int, default=21000, help="chain port; nodes, gateway follow")
    args = ap.parse_args()
    work = args.dir or tempfile.mkdtemp(prefix="walrus-churn-")
    shutil.rmtree(work, ignore_errors=True)  # --dir is emptied first: every run starts afresh
    os.makedirs(work)
    net = os.path.join(work, "net")
    chain_url = f"http://127.0.0.1:{args.port}"
    user = os.path.join(work, "user.key")
    localnet_log = open(os.path.join(work, "localnet.log"), "w")
    localnet = subprocess.Popen(
        [args.walrus, "localnet", "--dir", net, "--shards", str(args.shards), "--epoch-duration", args.epoch,
         "--chain-port", str(args.port), "--first-node-port", str(args.port + 1),
         "--gateway-port", str(args.port + 9), "--wallet", user],
        stdout=localnet_log, stderr=subprocess.STDOUT)
    processes = [localnet]
    summary = {"shards": args.shards, "epoch": args.epoch, "pause_s": args.pause, "changes": [], "failures": []}
    try:
        deadline = time.monotonic() + 300
        while not os.path.exists(os.path.join(net, "client_config.yaml")) or not os.path.exists(
                os.path.join(net, "localnet.json")):
            if localnet.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the localnet did not come up; see {localnet_log.name}")
            time.sleep(0.5)
        walrus = Walrus(args.walrus, os.path.join(net, "client_config.yaml"))
        walrus.faucet(user, 20_000)  # the load's stores
        staker = os.path.join(work, "staker.key")
        walrus.run("wallet", "new", wallet=staker)
        nodes = [m["node_id"] for m in system(chain_url)["system"]["committee"]["members"]]
        log(f"localnet up: {len(nodes)} nodes, {args.shards} shards, epochs of {args.epoch}")
        load = Load(walrus, work, 1, args.pause)
        load.start()

        view = system(chain_url)
        start_epoch = view["system"]["committee"]["epoch"]
        epoch, staked, fifth, left = start_epoch, [], None, None
        changing_since, last_owners = None, owners(view)
        while epoch < start_epoch + args.changes:
            view = system(chain_url)
            state = view["system"]["epoch_state"]
            now_epoch = view["system"]["committee"]["epoch"]
            if now_epoch != epoch:
                changing_since = time.monotonic()
                epoch = now_epoch
                moved = sum(1 for s, o in owners(view).items() if last_owners.get(s) != o)
                last_owners = owners(view)
                summary["changes"].append({"epoch": epoch, "shardsMoved": moved})
                log(f"epoch {epoch} begins: {moved} shards move; load {load.stores} stores, {load.reads} reads")
            if changing_since is not None and "ChangeSync" not in state:
                took = time.monotonic() - changing_since
                summary["changes"][-1]["startToDoneS"] = round(took, 2)
                log(f"epoch {epoch}'s change done in {took:.1f} s")
                changing_since = None
                # The moves of this epoch, made before its mid-epoch vote.
                # Stake moves among the nodes that stay: 5 000 WAL more on one, and the oldest
                # of these moving stakes (never the fifth node's own) withdrawn from another.
                staying = [n for n in nodes if n != left]
                target = staying[(epoch - start_epoch) % len(staying)]
                walrus.faucet(staker, 5000)
                staked.append(walrus.json("stake", "--node-id", target, "--amount", "5000", wallet=staker)["stakedWal"])
                if len(staked) > 2:
                    walrus.run("request-withdraw-stake", "--staked-wal-id", staked.pop(0), wallet=staker)
                if epoch == start_epoch + 1 and fifth is None:
                    fifth = join_fifth_node(walrus, args, work, staker, processes)
                    nodes.append(fifth)
                if epoch == start_epoch + 5 and left is None:
                    owner = os.path.join(net, "nodes", "2", "owner.key")
                    stake = walrus.json("list-staked-wal", wallet=owner)[0]
                    walrus.run("request-withdraw-stake", "--staked-wal-id", stake["id"], wallet=owner)
                    left = stake["nodeId"]
                    log(f"node {left}'s operator withdraws its stake")
            if localnet.poll() is not None:
                raise RuntimeError(f"the localnet stopped; see {localnet_log.name}")
            time.sleep(0.5)
        load.stop.set()
        load.join()
        log(f"{args.changes} changes done; reading all {len(load.blobs)} blobs again")
        for blob_id, original in load.blobs:
            load.read_back(blob_id, original, "final")
        final = owners(system(chain_url))
        summary.update({
            "stores": load.stores, "reads": load.reads, "blobs": len(load.blobs),
            "failures": load.failures, "fifthNode": fifth, "leftNode": left,
            "fifthNodeShards": sum(1 for o in final.values() if o == fifth),
            "leftNodeShards": sum(1 for o in final.values() if o == left),
            "everyShardOwned": len(final) == args.shards,
        })
        if summary["leftNodeShards"] or not summary["fifthNodeShards"] or not summary["everyShardOwned"]:
            summary["failures"].append("the join or the leave did not happen as asked")
    except Exception as e:  # noqa: BLE001 (the summary records any failure)
        summary["failures"].append(f"the scenario stopped: {e}")
    finally:
        for p in reversed(processes):
            p.send_signal(signal.SIGTERM)
        for p in reversed(processes):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        open(args.out, "w").write(text + "\n")
    sys.exit(1 if summary["failures"] else 0)


def join_fifth_node(walrus, args, work, staker, processes):
    """A new operator from nothing: setup, faucet, register, run, stake."""
    node_dir = os.path.join(work, "fifth")
    shutil.rmtree(node_dir, ignore_errors=True)
    chain_url = f"http://127.0.0.1:{args.port}"
    setup = json.loads(subprocess.run(
        [args.walrus, "node", "setup", "--dir", node_dir, "--chain-url", chain_url,
         "--rest-listen", f"127.0.0.1:{args.port + 8}", "--name", "fifth", "--json"],
        capture_output=True, text=True, check=True).stdout)
    owner = os.path.join(node_dir, "owner.key")
    walrus.faucet(owner, 100)
    config = os.path.join(node_dir, "node.yaml")
    registered = json.loads(subprocess.run(
        [args.walrus, "--config", config, "node", "register", "--json"],
        capture_output=True, text=True, check=True).stdout)
    node_id = registered["nodeId"]
    log_file = open(os.path.join(work, "fifth.log"), "w")
    processes.append(subprocess.Popen([args.walrus, "--config", config, "node", "run"],
                                      stdout=log_file, stderr=subprocess.STDOUT))
    walrus.faucet(staker, 25_000)
    walrus.run("stake", "--node-id", node_id, "--amount", "25000", wallet=staker)
    log(f"fifth node {node_id} registered (operator {setup['operator']}) and staked 25 000 WAL")
    return node_id


if __name__ == "__main__":
    main()
