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

Run: python bench/download.py [--size-mb 500] [--rounds 5]
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


def run_curl(url: str, dest: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "-o", str(dest), url], check=True)
    return time.perf_counter() - started


def run_kling(url: str, dest: Path) -> dict[str, Any]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, str(dest)],
        check=True,
        capture_output=True,
        text=True,
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

    seconds, size = asyncio.run(discard() if dest == "-" else go())
    print(
        json.dumps(
            {
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("URL", "DEST"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if shutil.which("curl") is None:
        print("curl is missing: apt-get install -y curl", file=sys.stderr)
        return 2
    started = time.perf_counter()
    size = args.size_mb * BLOCK
    with tempfile.TemporaryDirectory(prefix="kling-bench-download-") as tmp:
        source = Path(tmp) / "source.mp4"
        expected = make_file(source, args.size_mb)
        server, url = serve(source)
        curl_s: list[float] = []
        kling: list[dict[str, Any]] = []
        ceiling: list[float] = []  # httpx streaming into nothing: no file, no hash
        try:
            for _ in range(args.rounds):
                for who in ("curl", "kling", "httpx"):  # alternate: drift hits all alike
                    dest = Path(tmp) / f"{who}.mp4"
                    if who == "curl":
                        curl_s.append(run_curl(url, dest))
                    elif who == "kling":
                        kling.append(run_kling(url, dest))
                    else:
                        ceiling.append(run_kling(url, Path("-"))["seconds"])
                        continue
                    if sha256_of(dest) != expected:
                        raise SystemExit(f"{who}: the downloaded file differs from the source")
                    dest.unlink()
        finally:
            server.shutdown()
            server.server_close()
    assert not Path(tmp).exists()

    mb = size / 1e6
    curl_med = statistics.median(curl_s)
    kling_s = [r["seconds"] for r in kling]
    kling_med = statistics.median(kling_s)
    proc_s = [r["process_s"] for r in kling]
    kling_proc = statistics.median(proc_s)
    ratio = curl_med / kling_med
    peak_mb = max(max(r["maxrss_kb"], r["vmhwm_kb"]) for r in kling) / 1024
    before_mb = max(r["rss_before_kb"] for r in kling) / 1024
    ceiling_med = statistics.median(ceiling)
    rows = [
        ("curl -o", mb / curl_med, spread(curl_s), "-", 1.0),
        (
            "AsyncClient.download",
            mb / kling_med,
            spread(kling_s),
            f"{peak_mb:.0f} MB (before: {before_mb:.0f})",
            ratio,
        ),
        (
            "  whole process (incl. imports)",
            mb / kling_proc,
            spread(proc_s),
            "",
            curl_med / kling_proc,
        ),
        (
            "httpx aiter_raw, discarded",
            mb / ceiling_med,
            spread(ceiling),
            "(ceiling: no write, no hash)",
            curl_med / ceiling_med,
        ),
    ]
    print(f"{args.size_mb} MB over loopback, {args.rounds} rounds each; {machine()}")
    print("time: median (min-max, spread = (max-min)/median)")
    print(f"{'client':32s} {'throughput':>11s} {'time':>30s} {'peak RSS':>22s} {'x curl':>7s}")
    for name, tput, secs, rss, x in rows:
        print(f"{name:32s} {tput:>6,.0f} MB/s {secs:>30s} {rss:>22s} {x:>7.2f}")
    print("\nMarkdown:\n")
    print("| client | throughput | time | peak RSS | x curl |\n|---|---|---|---|---|")
    for name, tput, secs, rss, x in rows:
        print(f"| {name.strip()} | {tput:,.0f} MB/s | {secs} | {rss} | {x:.2f} |")
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
