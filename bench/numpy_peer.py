"""The straightforward numpy script a user would write for the snapshot bench (bench/run.ts): open the
safetensors file with np.memmap (header parsed by hand, no safetensors package), float64 sums, Adam's u in
float32. Prints the figures and the time spent, as JSON.

Usage: python3 bench/numpy_peer.py SNAPSHOT.safetensors [--squares dtype|astype|mean]
"""
import json
import struct
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402

path = sys.argv[1]
squares = sys.argv[sys.argv.index("--squares") + 1] if "--squares" in sys.argv else "dtype"
lr, b1, b2, eps, t = 1e-3, 0.9, 0.999, 1e-8, 100

with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
mm = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)


def tensor(key):
    a, b = header[key]["data_offsets"]
    return mm[a:b].view(np.float32)


def rms(x):
    # Three usual spellings of a float64 RMS: a float64 copy squared; numpy squaring into float64; float32 squares
    # averaged with a float64 accumulator.
    if squares == "astype":
        return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    if squares == "mean":
        return float(np.sqrt(np.mean(np.square(x), dtype=np.float64)))
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


t1 = time.perf_counter()
bc1, bc2 = 1 - b1**t, 1 - b2**t
out = {}
for key in header:
    if not key.startswith("param/"):
        continue
    layer = key[len("param/"):]
    p, g = tensor(key), tensor("grad/" + layer)
    m, v = tensor("exp_avg/" + layer), tensor("exp_avg_sq/" + layer)
    denom = np.sqrt(v / np.float32(bc2))
    u = (m / np.float32(bc1)) / (denom + np.float32(eps))
    param_rms, u_rms = rms(p), rms(u)
    zero = v == 0
    out[layer] = dict(
        paramRms=param_rms,
        gradRms=rms(g),
        adamUpdateRms=u_rms,
        relStepPredicted=lr * u_rms / param_rms,
        epsDominatedFraction=float(np.mean((denom < eps) & ~zero)),
        zeroSecondMomentFraction=float(np.mean(zero)),
    )
t2 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, compute_s=t2 - t1, layers=out)))
