"""Download throughput and memory: kling_nb's `AsyncClient.download` against `curl -o`.

A 500 MB file (random bytes, in a temp dir that is deleted afterwards) is served over
loopback by a small threaded HTTP server in this process that answers with `sendfile`, so the
server is not the bottleneck. Each download runs in a fresh subprocess, alternating curl and
kling_nb, `--rounds` times each:

- curl: `curl -sS -o FILE URL`, wall time of the process.
- kling_nb: a Python process that imports kling_nb and awaits `AsyncClient.download(task, dest)`
  (`_download.stream_to_file` underneath: streamed into `dest.part`, size-checked, sha256
  computed, renamed). Its wall time covers the whole call, and it reports its own peak RSS
  (`ru_maxrss` and `VmHWM`) and the RSS it had before the download started.

Every row prints the median and spread of its rounds; the header and the summary print the
machine's core count and load average (a loaded machine slows every row, curl too).

Targets: kling_nb throughput >= 0.8x curl's (medians), peak RSS of the downloading process
< 100 MB. Both files are checked against the source's sha256.

`--compare PATH` adds a row for the kling_nb at PATH (a baseline checkout: the folder holding
`kling_nb/`), run in the same rotation, so a change is measured against its base under the
same load. The `cpu` column is the downloading process's user + sys time.

Run: python bench/download.py [--size-mb 500] [--rounds 5] [--compare PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.server
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BLOCK = 1 << 20
HERE = Path(__file__).resolve().parent.parent
Rounds = dict[str, list[dict[str, Any]]]


def load1() -> float:
    return os.getloadavg()[0]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    path_on_disk: Path

    def do_GET(self) -> None:
        size = self.path_on_disk.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size))
        self.send_header("Accept-Ranges", "none")
        self.end_headers()
        with self.path_on_disk.open("rb") as handle:
            self.connection.sendfile(handle)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(path: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = type("Handler", (_Handler,), {"path_on_disk": path})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="bench-media", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/media/video.mp4"


def make_file(path: Path, size_mb: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(BLOCK)
    # Shaped as an MP4 (ftyp, moov, then one mdat box to the end), since kling_nb checks the
    # top-level boxes of every download it finishes.
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    moov = b"\x00\x00\x00\x10moov" + bytes(8)
    head = ftyp + moov + (size_mb * BLOCK - len(ftyp) - len(moov)).to_bytes(4, "big") + b"mdat"
    with path.open("wb") as handle:
        for i in range(size_mb):
            # Vary every block a little, so nothing downstream can dedupe or compress it.
            chunk = i.to_bytes(8, "little") + block[8:]
            if i == 0:
                chunk = head + chunk[len(head) :]
            handle.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def run_curl(url: str, dest: Path) -> tuple[float, float]:
    """curl's wall time and CPU time (user + sys)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "-o", str(dest), url], check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def run_kling(url: str, dest: Path, code: Path | None = None) -> dict[str, Any]:
    """Download in a fresh process, with kling_nb imported from `code` (default: this one)."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")])
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, str(dest)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    report["process_s"] = time.perf_counter() - started
    return report


def child(url: str, dest: str) -> None:
    """Download with kling_nb in this (fresh) process and print a JSON report."""
    import kling_nb as kn

    def vm_hwm_kb() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return -1

    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    async def go() -> tuple[float, int]:
        task = kn.Task(
            id="bench_task", route="text2video", status=kn.Status.SUCCEEDED, video_url=url
        )
        async with kn.AsyncClient("sk-bench", base_url="http://127.0.0.1:9") as client:
            started = time.perf_counter()
            result = await client.download_file(task, dest)
            return time.perf_counter() - started, result.size

    async def discard() -> tuple[float, int]:
        import httpx

        async with httpx.AsyncClient() as http, http.stream("GET", url) as response:
            started, size = time.perf_counter(), 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
            return time.perf_counter() - started, size

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    seconds, size = asyncio.run(discard() if dest == "-" else go())
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "code": kn.__file__,
                "cpu_s": cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime,
                "seconds": seconds,
                "bytes": size,
                "rss_before_kb": before_kb,
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "vmhwm_kb": vm_hwm_kb(),
            }
        )
    )


def spread(values: Sequence[float]) -> str:
    """`median (min-max, ±x%)` of repeated timings: the spread is (max - min) / median."""
    med = statistics.median(values)
    pct = (max(values) - min(values)) / med * 100 if med else 0.0
    return f"{med:.2f} s ({min(values):.2f}-{max(values):.2f}, {pct:.0f}%)"


def machine() -> str:
    """The core count and load average the numbers were taken under."""
    one, five, fifteen = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.2f} {five:.2f} {fifteen:.2f}"


def measure_rounds(url: str, tmp: Path, expected: str, args: argparse.Namespace) -> Rounds:
    """Alternate curl, kling_nb (this checkout, then `--compare` if given) and the httpx
    ceiling, `args.rounds` times: drift and other load hit every client alike."""
    who_all = ["curl", "kling"] + (["base"] if args.compare else []) + ["httpx"]
    out: Rounds = {who: [] for who in who_all}
    for n in range(args.rounds):
        # Rotate the order as well, so no client always follows the same one.
        for who in who_all[n % len(who_all) :] + who_all[: n % len(who_all)]:
            dest = Path(tmp) / f"{who}.mp4"
            if who == "curl":
                curl_s, cpu_s = run_curl(url, dest)
                out[who].append({"seconds": curl_s, "cpu_s": cpu_s, "load": load1()})
                check = True
            else:
                code = args.compare if who == "base" else HERE
                target = Path("-") if who == "httpx" else dest
                out[who].append({**run_kling(url, target, code), "load": load1()})
                check = who != "httpx"
            if check:
                if sha256_of(dest) != expected:
                    raise SystemExit(f"{who}: the downloaded file differs from the source")
                dest.unlink()
    return out


def report(out: Rounds, args: argparse.Namespace) -> tuple[float, float]:
    """Print the table; return kling_nb's median ratio to curl and its peak RSS (MB)."""
    mb = args.size_mb * BLOCK / 1e6
    curl_med = statistics.median(r["seconds"] for r in out["curl"])
    rows = []
    names = {
        "curl": "curl -o",
        "kling": "AsyncClient.download",
        "base": f"  same, kling_nb from {args.compare}",
        "httpx": "httpx aiter_raw, discarded",
    }
    for who, rs in out.items():
        secs = [r["seconds"] for r in rs]
        med = statistics.median(secs)
        # Per round: curl's time of that round over this client's, so load drift cancels.
        ratios = [c["seconds"] / r["seconds"] for c, r in zip(out["curl"], rs, strict=True)]
        peak = max(max(r.get("maxrss_kb", 0), r.get("vmhwm_kb", 0)) for r in rs) / 1024
        rss = f"{peak:.0f} MB" if who in ("kling", "base") else "-"
        if who == "httpx":
            rss = "(no write, no hash)"
        cpu = statistics.median(r["cpu_s"] for r in rs)
        rows.append(
            (names[who], mb / med, spread(secs), f"{cpu:.2f} s", rss, curl_med / med, ratios)
        )
    loads = [r["load"] for rs in out.values() for r in rs]
    print(f"{args.size_mb} MB over loopback, {args.rounds} rounds each; {machine()}")
    print(f"load average (1 min) during the rounds: {min(loads):.2f}-{max(loads):.2f}")
    print("time: median (min-max, spread = (max-min)/median); cpu: user+sys of the download")
    head = f"{'client':40s} {'throughput':>11s} {'time':>26s} {'cpu':>7s} {'peak RSS':>20s}"
    print(f"{head} {'x curl':>7s}  per-round x curl")
    for name, tput, secs, cpu, rss, x, ratios in rows:
        per = " ".join(f"{v:.2f}" for v in ratios)
        print(f"{name:40s} {tput:>6,.0f} MB/s {secs:>26s} {cpu:>7s} {rss:>20s} {x:>7.2f}  {per}")
    print("\nMarkdown:\n")
    print("| client | throughput | time | cpu | peak RSS | x curl |\n|---|---|---|---|---|---|")
    for name, tput, secs, cpu, rss, x, _ in rows:
        print(f"| {name.strip()} | {tput:,.0f} MB/s | {secs} | {cpu} | {rss} | {x:.2f} |")
    kling = [r["seconds"] for r in out["kling"]]
    peak_mb = max(max(r["maxrss_kb"], r["vmhwm_kb"]) for r in out["kling"]) / 1024
    return curl_med / statistics.median(kling), peak_mb


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare", type=Path, help="a baseline checkout, run alternately")
    parser.add_argument("--child", nargs=2, metavar=("URL", "DEST"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if shutil.which("curl") is None:
        print("curl is missing: apt-get install -y curl", file=sys.stderr)
        return 2
    if args.compare:
        args.compare = args.compare.resolve()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kling-bench-download-") as tmp:
        source = Path(tmp) / "source.mp4"
        expected = make_file(source, args.size_mb)
        server, url = serve(source)
        try:
            out = measure_rounds(url, Path(tmp), expected, args)
        finally:
            server.shutdown()
            server.server_close()
    assert not Path(tmp).exists()
    ratio, peak_mb = report(out, args)
    ok_speed, ok_rss = ratio >= 0.8, peak_mb < 100
    print(
        f"\nSUMMARY download: kling_nb {ratio:.2f}x curl (target >= 0.8: "
        f"{'MET' if ok_speed else 'MISSED'}), peak RSS {peak_mb:.0f} MB (target < 100 MB: "
        f"{'MET' if ok_rss else 'MISSED'}); {args.size_mb} MB x {args.rounds} rounds, sha256 "
        f"verified; {machine()}; {time.perf_counter() - started:.0f} s"
    )
    return 0 if ok_speed and ok_rss else 1


if __name__ == "__main__":
    sys.exit(main())
