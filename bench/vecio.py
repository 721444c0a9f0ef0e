"""vecio.py — read dann's vector files from the benchmark scripts.

Mirrors engine/vf.h's formats (.fbin/.u8bin/.i8bin/.ibin: int32 count,
int32 dim, row-major data) with numpy memory maps, so the peers measured
beside dann read exactly the bytes dann reads.
"""
import numpy as np

_DTYPES = {".fbin": np.float32, ".u8bin": np.uint8, ".i8bin": np.int8, ".ibin": np.int32}


def read_bin(path):
    for ext, dt in _DTYPES.items():
        if path.endswith(ext):
            hdr = np.fromfile(path, dtype=np.int32, count=2)
            n, d = int(hdr[0]), int(hdr[1])
            return np.memmap(path, dtype=dt, mode="r", offset=8, shape=(n, d))
    raise ValueError(f"{path}: unknown vector file extension (expected one of {list(_DTYPES)})")


def recall_at(found, gt, k):
    """Mean fraction of the true k nearest found among the first k returned."""
    hits = 0
    for row, truth in zip(found[:, :k], gt[:, :k]):
        hits += len(set(row.tolist()) & set(truth.tolist()))
    return hits / (k * len(found))
