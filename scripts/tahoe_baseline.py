#!/usr/bin/env python3
# Baseline measurement against a running Tahoe-LAFS grid, through the client
# node's web API only: store = PUT /uri (immutable CHK upload, returns the cap),
# read = GET /uri/<cap> to a file, compared byte-for-byte with what was stored.
# Every store run uses fresh random data, so convergence cannot deduplicate.
# Normally called by scripts/tahoe_baseline.sh inside its network namespace:
#   tahoe_baseline.py --url http://127.0.0.1:PORT [--servers 4] [--runs 5]
#                     [--sizes 1024,1048576,67108864] [--out FILE]
#                     [--small-files N [--small-size 10240]]
# --small-files N: instead, the small-file case beside `walrus bench --quilt`: N files of
# --small-size bytes put one by one (the wall time of all of them), then 20 of them read back.
# Prints the JSON result to stdout (and FILE); progress goes to stderr.
import argparse, json, os, statistics, sys, tempfile, time
import urllib.parse, urllib.request


def log(msg):
    print(f"[tahoe_baseline] {msg}", file=sys.stderr, flush=True)


def wait_for_servers(url, want, timeout):
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/?t=json", timeout=5) as r:
                servers = json.load(r)["servers"]
            seen = [s["connection_status"] for s in servers]
            up = [s for s in seen if s.lower().startswith("connected")]
            if len(up) >= want:
                log(f"client sees {len(up)} connected servers: {seen}")
                return
        except OSError:
            pass  # web port not up yet
        time.sleep(0.5)
    sys.exit(f"tahoe_baseline: timeout after {timeout}s: client sees servers {seen}, wanted {want} connected")


def store(url, data):
    req = urllib.request.Request(f"{url}/uri", data=data, method="PUT")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        cap = r.read().decode().strip()
    return time.perf_counter() - t0, cap


def read(url, cap, path):
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"{url}/uri/{urllib.parse.quote(cap)}", timeout=600) as r, open(path, "wb") as f:
        while chunk := r.read(1 << 20):
            f.write(chunk)
    return time.perf_counter() - t0


def summary(size, op, times):
    p50 = statistics.median(times)
    return {"size": size, "op": op, "runs": len(times), "p50_s": round(p50, 4),
            "min_s": round(min(times), 4), "max_s": round(max(times), 4),
            "mb_per_s": round(size / p50 / 1e6, 4)}


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{len(os.sched_getaffinity(0))} cores, {model}"  # = nproc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--servers", type=int, default=4)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="1024,1048576,67108864")
    ap.add_argument("--out")
    ap.add_argument("--wait-timeout", type=float, default=60)
    ap.add_argument("--small-files", type=int, default=0)
    ap.add_argument("--small-size", type=int, default=10240)
    a = ap.parse_args()
    url = a.url.rstrip("/")
    wait_for_servers(url, a.servers, a.wait_timeout)
    if a.small_files > 0:
        return small_files(url, a)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "read.bin")
        for size in [int(s) for s in a.sizes.split(",")]:
            st, rd = [], []
            for i in range(a.runs):
                data = os.urandom(size)
                t, cap = store(url, data)
                if not (cap.startswith("URI:CHK:") and cap.endswith(f":2:6:{size}")):
                    sys.exit(f"tahoe_baseline: not a 2-of-6 CHK cap from PUT /uri: {cap[:200]!r}")
                st.append(t)
                t = read(url, cap, out_path)
                with open(out_path, "rb") as f:
                    if f.read() != data:
                        sys.exit(f"tahoe_baseline: read of {cap} differs from stored data")
                rd.append(t)
                log(f"size {size} run {i + 1}/{a.runs}: store {st[-1]:.3f}s read {t:.3f}s")
            results += [summary(size, "store", st), summary(size, "read", rd)]
    doc = {"system": "tahoe-lafs 1.20.0", "servers": a.servers,
           "shares": {"needed": 2, "happy": 4, "total": 6},
           "machine": machine(), "results": results}
    text = json.dumps(doc)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


def small_files(url, a):
    """N files put one by one, then 20 of them read back (each compared)."""
    files = [os.urandom(a.small_size) for _ in range(a.small_files)]
    t0 = time.perf_counter()
    caps = []
    for i, data in enumerate(files):
        caps.append(store(url, data)[1])
        if (i + 1) % 100 == 0:
            log(f"{i + 1} of {a.small_files} files put")
    put_all = time.perf_counter() - t0
    reads = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "read.bin")
        for i in range(0, a.small_files, max(1, a.small_files // 20)):
            reads.append(read(url, caps[i], path))
            with open(path, "rb") as f:
                if f.read() != files[i]:
                    sys.exit(f"tahoe_baseline: read of {caps[i]} differs from stored data")
    doc = {"system": "tahoe-lafs 1.20.0", "servers": a.servers,
           "shares": {"needed": 2, "happy": 4, "total": 6}, "machine": machine(),
           "smallFiles": {"files": a.small_files, "fileSize": a.small_size, "putAllS": round(put_all, 3),
                          "reads": len(reads), "readP50S": round(statistics.median(reads), 4),
                          "readMaxS": round(max(reads), 4)}}
    text = json.dumps(doc)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
