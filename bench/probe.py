#!/usr/bin/env python3
"""How fast this machine is right now, in two numbers, for bench/run.sh's steadiness gate.

Prints "GFLOPS GBPS": the median rate of a 384×384×384 float32 product on two OpenBLAS threads (what the cores deliver,
which a busy sibling hyperthread or a throttled clock on the host lowers) and of copying a 24 MiB float32 array (what the
shared cache and memory deliver, which a neighbour's traffic lowers). On a virtual machine both drift by up to 2× over
minutes with no trace inside the guest (no busy CPU, no steal time), and each side of the benchmark is slowed with them.
bench/run.sh gates on the first number; the second is recorded only (on the Zen 3 VM successive readings of it scattered
over 13–24 GB/s within minutes, too widely to wait on).
"""
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
import numpy as np  # noqa: E402  (after the thread setting, which OpenBLAS reads when loaded)


def median_rate(fn, work, seconds):
    fn()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return work / times[len(times) // 2]


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
    n = 384
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    c = np.empty_like(a)
    gflops = median_rate(lambda: np.matmul(a, b, out=c), 2.0 * n ** 3, seconds) / 1e9
    src = np.random.rand(6 << 20).astype(np.float32)
    dst = np.empty_like(src)
    gbps = median_rate(lambda: np.copyto(dst, src), 2.0 * src.nbytes, seconds) / 1e9
    print(f"{gflops:.1f} {gbps:.1f}")


if __name__ == "__main__":
    main()
