"""Data pipeline benchmark: cache build vs a plain loop, warm load, peak memory.

    python benchmarks/bench_data.py [--data PATH] [--image-size 133] [--workers 2] [--repeat 2]

1. Plain loop (what the assignment does, with Pillow in place of cv2): one process lists the
   class folders, then opens, converts and resizes every file into a preallocated uint8 array.
2. Cache build (`smearnet.data.load_dataset`, fresh cache folder) in a child process: listing,
   header index, decoding and resizing in ``--workers`` processes, writing the .npy.
   Both read the same files after one warm-up pass, so neither pays for the disk.
   With --repeat, the two alternate and the best time of each counts (other processes on the
   machine slow whichever run they overlap).
3. Warm load: a new process memory-maps the finished cache (time inside the process, and the
   whole process including Python's start).
4. Peak memory: the build's main process (VmHWM) and its largest worker (ru_maxrss of
   children); one epoch of shuffled, augmented float32 batches over the whole set (peak
   anonymous RSS = memory beyond the memory-mapped cache pages, and VmHWM with them).
   Worker peaks are sampled from /proc every 0.1 s (they are the forkserver's children).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "malaria" / "cell_images"

_BUILD = textwrap.dedent("""
    import json, os, sys, threading, time

    def hwm_mb(pid):
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def descendants(root):
        kids = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                kids.setdefault(ppid, []).append(int(d))
        out, todo = [], [root]
        while todo:
            for c in kids.get(todo.pop(), []):
                out.append(c)
                todo.append(c)
        return out

    peak_child, done = {}, threading.Event()
    def sample():  # workers are the forkserver's children: poll their high-water marks
        while not done.wait(0.1):
            for pid in descendants(os.getpid()):
                peak_child[pid] = max(peak_child.get(pid, 0.0), hwm_mb(pid))
    threading.Thread(target=sample, daemon=True).start()

    def cpu_s(pid, children=False):  # utime+stime (or cutime+cstime: reaped children)
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        i = 13 if children else 11
        return (int(f[i]) + int(f[i + 1])) / os.sysconf("SC_CLK_TCK")

    t0 = time.perf_counter()
    from smearnet.data import load_dataset
    t1 = time.perf_counter()
    c1 = os.times()
    ds = load_dataset(sys.argv[1], int(sys.argv[2]), progress=False, workers=int(sys.argv[3]))
    t2 = time.perf_counter()
    c2 = os.times()
    done.set()
    time.sleep(0.3)  # let the fork server reap its workers
    # workers are the fork server's children: their CPU time is in its cutime/cstime
    servers = [p for p in descendants(os.getpid()) if "forkserver" in open(f"/proc/{p}/cmdline").read()]
    worker_cpu = sum(cpu_s(p, children=True) for p in servers)
    main_cpu = (c2.user + c2.system) - (c1.user + c1.system) + (c2.children_user + c2.children_system) - (c1.children_user + c1.children_system)
    print(json.dumps({"n": len(ds), "built": ds.built, "import_s": t1 - t0, "load_s": t2 - t1,
                      "main_cpu_s": main_cpu, "worker_cpu_s": worker_cpu,
                      "main_hwm_mb": hwm_mb(os.getpid()),
                      "worker_max_rss_mb": max(peak_child.values(), default=0.0),
                      "cache_mb": ds.images.nbytes / 2**20, "cache_dir": str(ds.cache_dir)}))
""")

_EPOCH = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from smearnet.data import Augment, Batches, load_dataset

    def mem():
        s = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
        return {k: int(s[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile", "VmHWM")}

    ds = load_dataset(sys.argv[1], int(sys.argv[2]), progress=False)
    augment = Augment() if sys.argv[3] == "1" else None
    base = mem()
    peak_anon, n, t = base["RssAnon"], 0, time.perf_counter()
    for k, (x, y) in enumerate(Batches(ds.images, ds.labels, None, batch_size=32, seed=0,
                                       augment=augment)):
        n += len(y)
        if k % 20 == 0:
            peak_anon = max(peak_anon, mem()["RssAnon"])
    secs = time.perf_counter() - t
    end = mem()
    print(json.dumps({"images": n, "seconds": secs, "images_per_s": n / secs,
                      "anon_before_mb": base["RssAnon"],
                      "peak_anon_mb": max(peak_anon, end["RssAnon"]),
                      "file_rss_end_mb": end["RssFile"], "vm_hwm_mb": end["VmHWM"]}))
""")


def run_child(code: str, *args: str, env: dict) -> tuple[dict, float]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - t


def plain_loop(root: Path, size: int) -> tuple[int, float, float]:
    """The assignment's recipe, one process: list, open, convert, resize, store (uint8).
    Returns (images, wall seconds, CPU seconds)."""
    import numpy as np
    from PIL import Image

    t, c = time.perf_counter(), time.process_time()
    files = [root / c / f for c in ("Parasitized", "Uninfected")
             for f in sorted(os.listdir(root / c)) if f.endswith(".png")]
    out = np.zeros((len(files), size, size, 3), dtype=np.uint8)
    for i, f in enumerate(files):
        with Image.open(f) as im:
            out[i] = np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
    return len(files), time.perf_counter() - t, time.process_time() - c


def warm_page_cache(root: Path) -> float:
    t = time.perf_counter()
    for c in ("Parasitized", "Uninfected"):
        for f in os.scandir(root / c):
            with open(f.path, "rb") as fh:
                fh.read()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--image-size", type=int, default=133)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()
    root, size = Path(args.data), args.image_size

    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    print(f"warm-up read of every file: {warm_page_cache(root):.1f} s")
    home = Path(tempfile.mkdtemp(prefix="smearnet-bench-"))
    env = dict(os.environ, SMEARNET_HOME=str(home))
    plain_times, build_times, plain_cpu, build_cpu, build = [], [], [], [], None
    try:
        for r in range(args.repeat):
            n, secs, cpu = plain_loop(root, size)
            plain_times.append(secs)
            plain_cpu.append(cpu)
            print(f"[{r}] plain loop: {n} images in {secs:.1f} s = {n / secs:.0f} images/s, "
                  f"CPU {cpu:.1f} s (load {os.getloadavg()[0]:.1f})")
            shutil.rmtree(home / "cache", ignore_errors=True)
            build, wall = run_child(_BUILD, str(root), str(size), str(args.workers), env=env)
            build_times.append(build["load_s"])
            build_cpu.append(build["main_cpu_s"] + build["worker_cpu_s"])
            print(f"[{r}] cache build, {args.workers} workers: {build['n']} images in "
                  f"{build['load_s']:.1f} s = {build['n'] / build['load_s']:.0f} images/s, "
                  f"CPU {build['main_cpu_s']:.1f} s main + {build['worker_cpu_s']:.1f} s "
                  f"workers (load {os.getloadavg()[0]:.1f})")
        best_plain, best_build = min(plain_times), min(build_times)
        speedup = best_plain / best_build
        warm, warm_wall = run_child(_BUILD, str(root), str(size), "1", env=env)
        assert not warm["built"]
        epoch, _ = run_child(_EPOCH, str(root), str(size), "0", env=env)
        epoch_aug, _ = run_child(_EPOCH, str(root), str(size), "1", env=env)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    n = build["n"]
    figures = {
        "images": n, "image_size": size, "workers": args.workers,
        "plain_loop_images_per_s": n / best_plain, "cache_build_images_per_s": n / best_build,
        "speedup": speedup, "plain_seconds": plain_times, "build_seconds": build_times,
        "plain_cpu_seconds": plain_cpu, "build_cpu_seconds": build_cpu,
        "load_average_end": os.getloadavg()[0],
        "warm_load_s": warm["load_s"], "warm_load_process_s": warm_wall,
        "import_s": warm["import_s"], "cache_mb": build["cache_mb"],
        "build_main_peak_rss_mb": build["main_hwm_mb"],
        "build_worker_peak_rss_mb": build["worker_max_rss_mb"],
        "epoch_plain": epoch, "epoch_augmented": epoch_aug,
    }
    print()
    print(f"cache build: {n / best_build:.0f} images/s vs plain loop {n / best_plain:.0f} "
          f"images/s: {speedup:.2f}x  (target >= 1.7x)")
    cpu_ratio = min(build_cpu) / min(plain_cpu)
    print(f"CPU time: build {min(build_cpu):.1f} s (all processes) vs plain "
          f"{min(plain_cpu):.1f} s: {cpu_ratio:.2f}x the work; on {args.workers} free cores "
          f"that is at best {args.workers / cpu_ratio:.2f}x the plain loop's speed")
    print(f"warm load: {warm['load_s']:.2f} s in-process, {warm_wall:.2f} s for the whole "
          f"process  (target < 3 s)")
    print(f"cache size: {build['cache_mb']:.0f} MiB")
    print(f"build peak RSS: main {build['main_hwm_mb']:.0f} MiB, largest worker "
          f"{build['worker_max_rss_mb']:.0f} MiB  (target < 1 GB beyond the cache)")
    for name, e in (("plain", epoch), ("augmented", epoch_aug)):
        print(f"one epoch, {name} batches of 32: {e['images_per_s']:.0f} images/s; peak "
              f"anonymous RSS {e['peak_anon_mb']:.0f} MiB (before: {e['anon_before_mb']:.0f}), "
              f"mapped cache pages {e['file_rss_end_mb']:.0f} MiB, VmHWM {e['vm_hwm_mb']:.0f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
