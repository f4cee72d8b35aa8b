"""The dense half of the index folder: FAISS over the e5 passage vectors, exact while that is fast enough.

The limits below are measured (docs/bench.md); they decide the index type a build writes, and nprobe is
stored in the index file, so a loaded index needs no settings.
"""
from __future__ import annotations

import numpy as np

# Up to this many chunks FAISS searches exhaustively. Measured (docs/bench.md, 2 busy shared cores): a flat
# query takes p50 23 ms at 100k chunks and 112 ms at 1M, so exact search stops at 100k (50 ms budget).
EXACT_SEARCH_LIMIT = 100_000
# Inverted lists scanned per query (at least; nlist/128 for bigger indexes). At 1M chunks (IVF4096) recall@10
# against exact search for the real seed questions is 0.938 / 0.975 / 0.988 at nprobe 32 / 64 / 128, for
# synthetic queries 0.998 / 1.0 / 1.0; nprobe 128 costs p50 1.1 ms (docs/bench.md).
IVF_NPROBE = 128


def ivf_nlist(count: int) -> int:
    """Inverted lists for an IVF index of `count` vectors: about 4·sqrt(n) (a power of two), at least 39
    training points each."""
    nlist = 1 << int(round(np.log2(max(4 * np.sqrt(count), 64))))
    return max(1, min(nlist, count // 39))


def make_faiss_index(vectors: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT):
    """Exact inner-product search while it is fast enough, IVF with half-precision vectors beyond.

    Measured at 1M synthetic 384-d chunks on 2 cores (docs/bench.md): IVF4096,SQfp16 trains and adds
    in 45-90 s, holds 2 bytes per dimension (746 MiB), and with nprobe 128 finds 98.8% (real
    questions) / 100% (synthetic queries) of the exact top 10 in ~1 ms. IVF4096,SQ8 (380 MiB) stalls
    at 0.96-0.97 recall (8-bit codes blur near-ties); HNSW32 builds in 3-5 min, takes 1.7 GiB and
    reaches only 0.93 for the real questions at efSearch 256. nprobe is stored in the index file.
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    count, dim = vectors.shape
    if count <= exact_limit:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = ivf_nlist(count)
        index = faiss.index_factory(dim, f"IVF{nlist},SQfp16", faiss.METRIC_INNER_PRODUCT)
        sample = min(count, nlist * 40)
        rows = np.sort(np.random.default_rng(0).choice(count, sample, replace=False)) if sample < count else slice(None)
        index.train(vectors[rows])
        faiss.extract_index_ivf(index).nprobe = min(nlist, max(IVF_NPROBE, nlist // 128))
    index.add(vectors)
    return index
