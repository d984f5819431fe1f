# numpy peer for `medsynth metrics` (eval/bench/metrics.ts): the same metrics on the same .npy files, the way a
# Python user would compute them without scipy/sklearn, timed per part.
#  FID: np.cov (float64), S_r^1/2 by numpy.linalg.eigh, trace of the inner root by numpy.linalg.eigvalsh.
#  KID: 100 subset pairs of min(1000, n) rows without replacement (numpy's own generator, so the subsets differ
#       from medsynth's), cubic kernel, unbiased MMD^2, float64 matmuls; mean and std (divisor S).
#  PRDC: float32 squared distances ||a||^2 + ||b||^2 - 2 a.b by numpy matmul in row blocks of 2048, k-th
#       neighbour by numpy.partition (self included, so the (k+1)-th), strict "<" ball tests (as clovaai's prdc).
# numpy uses the BLAS it was built with (OpenBLAS here); threads as the environment sets them.
# Usage: python3 metrics_peer.py REAL.npy SYNTHETIC.npy [--k 5] [--subsets 100] [--subset-size 1000] -> JSON on stdout
import argparse, json, time
import numpy as np


def fid(x, y):
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    lam, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(lam, 0, None))) @ v.T
    m = root @ s2 @ root
    tr = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr)


def kid(x, y, subsets, size, seed=2020):
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    m, n = min(size, len(x)), min(size, len(y))
    vals = []
    for _ in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), n, replace=False)]
        kxx, kyy, kxy = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
        vals.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean())
    return float(np.mean(vals)), float(np.std(vals))


def blocks(a, b, rows=2048):
    bsq = (b * b).sum(1)
    bt = b.T.copy()
    for s in range(0, len(a), rows):
        blk = a[s:s + rows]
        d2 = (blk * blk).sum(1)[:, None] + bsq[None, :] - 2 * (blk @ bt)
        yield s, np.maximum(d2, 0)


def radii(a, k):
    out = np.empty(len(a), dtype=np.float32)
    for s, d2 in blocks(a, a):
        out[s:s + len(d2)] = np.partition(d2, k, axis=1)[:, k]
    return out


def prdc(x, y, k):
    c = x.mean(0)
    x, y = (x - c).astype(np.float32), (y - c).astype(np.float32)
    rx, ry = radii(x, k), radii(y, k)
    precise = np.zeros(len(y), dtype=bool)
    pairs = covered = recalled = 0
    for s, d2 in blocks(x, y):
        inb = d2 < rx[s:s + len(d2), None]
        precise |= inb.any(0)
        pairs += int(inb.sum())
        covered += int((d2.min(1) < rx[s:s + len(d2)]).sum())
        recalled += int((d2 < ry[None, :]).any(1).sum())
    return {'precision': float(precise.mean()), 'recall': recalled / len(x), 'density': pairs / (k * len(y)), 'coverage': covered / len(x)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('real')
    p.add_argument('synthetic')
    p.add_argument('--k', type=int, default=5)
    p.add_argument('--subsets', type=int, default=100)
    p.add_argument('--subset-size', type=int, default=1000)
    o = p.parse_args()
    t0 = time.perf_counter()
    x = np.load(o.real).astype(np.float64)
    y = np.load(o.synthetic).astype(np.float64)
    t1 = time.perf_counter()
    f = fid(x, y)
    t2 = time.perf_counter()
    km, ks = kid(x, y, o.subsets, o.subset_size)
    t3 = time.perf_counter()
    pr = prdc(x, y, o.k)
    t4 = time.perf_counter()
    print(json.dumps({'numpy': np.__version__, 'fid': f, 'kid': {'mean': km, 'std': ks}, **pr,
                      'seconds': {'read': t1 - t0, 'fid': t2 - t1, 'kid': t3 - t2, 'prdc': t4 - t3}}))


if __name__ == '__main__':
    main()
