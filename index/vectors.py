"""FAISS vectors under stable int64 ids: exact inner product, or IVF for large corpora."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any, Literal

import faiss as _faiss
import numpy as np

from index.errors import CorruptIndexError

logger = logging.getLogger(__name__)

# FAISS' bundled type stubs lack much of its SWIG API (SearchParameters keywords, DirectMap,
# IndexIDMap2 members); use it dynamically rather than sprinkling ignores.
faiss: Any = _faiss

VectorKind = Literal["flat", "ivf"]


def ivf_list_count(n_vectors: int) -> int:
    """IVF lists for a corpus: about 4·√n, within FAISS' training-set needs."""
    return max(16, min(65_536, int(4 * math.sqrt(max(n_vectors, 1)))))


class VectorIndex:
    """A FAISS index keyed by chunk id. Mutations happen only on private copies (see ``clone``)."""

    def __init__(self, index: faiss.Index, kind: VectorKind) -> None:
        self._index = index
        self.kind: VectorKind = kind

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def empty(cls, dimension: int) -> VectorIndex:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), "flat")

    @classmethod
    def build_ivf(
        cls, ids: np.ndarray, vectors: np.ndarray, *, nlist: int | None = None, seed: int = 1234
    ) -> VectorIndex:
        """Train an IVF-Flat index (inner product) on ``vectors`` and add them."""
        n, dim = vectors.shape
        nlist = nlist or ivf_list_count(n)
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.seed = seed
        sample = vectors
        max_train = 64 * nlist
        if n > max_train:
            rng = np.random.default_rng(seed)
            sample = vectors[rng.choice(n, size=max_train, replace=False)]
        ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        ivf.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), _ids(ids))
        return cls(ivf, "ivf")

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise CorruptIndexError(f"cannot read vector file {path}: {exc}") from exc
        # read_index returns the concrete class already. (Never rebind the result of
        # downcast_index: the original wrapper owns the C++ object and would free it.)
        kind: VectorKind = "ivf" if isinstance(index, faiss.IndexIVF) else "flat"
        return cls(index, kind)

    def save(self, path: Path) -> None:
        """Write durably: temp file, fsync, rename. Readers never see a partial file."""
        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self._index, str(tmp))
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def clone(self) -> VectorIndex:
        return VectorIndex(faiss.clone_index(self._index), self.kind)

    # --- properties --------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def nlist(self) -> int:
        """IVF lists (0 for a flat index)."""
        return int(faiss.extract_index_ivf(self._index).nlist) if self.kind == "ivf" else 0

    def serialized_bytes(self) -> int:
        return int(faiss.serialize_index(self._index).size)

    # --- mutation ----------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"vectors shape {vectors.shape} does not match {len(ids)} ids")
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), _ids(ids))

    def remove(self, ids: np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        return int(self._index.remove_ids(_ids(ids)))

    def all_items(self) -> tuple[np.ndarray, np.ndarray]:
        """All (ids, vectors); used to rebuild as another kind."""
        if self.kind == "flat":
            ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            vectors = self._index.index.reconstruct_n(0, self.ntotal)
            return ids, vectors
        ivf = faiss.extract_index_ivf(self._index)
        invlists = ivf.invlists
        id_parts, vec_parts = [], []
        for list_no in range(ivf.nlist):
            size = invlists.list_size(list_no)
            if size == 0:
                continue
            id_parts.append(
                faiss.rev_swig_ptr(invlists.get_ids(list_no), size).copy().astype(np.int64)
            )
            codes = faiss.rev_swig_ptr(invlists.get_codes(list_no), size * ivf.code_size).copy()
            vec_parts.append(codes.view(np.float32).reshape(size, self.dimension))
        if not id_parts:
            return np.zeros(0, np.int64), np.zeros((0, self.dimension), np.float32)
        return np.concatenate(id_parts), np.concatenate(vec_parts)

    # --- search ------------------------------------------------------------------------------
    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        nprobe: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query; ids of -1 mark missing results.

        ``allowed`` restricts results to those ids inside the search itself (not after the cut);
        ``nprobe`` is the IVF lists probed (ignored by a flat index; no default here: it comes
        from ``Settings.ivf_nprobe``).
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, self.ntotal)) if self.ntotal else 1
        if self.ntotal == 0 or (allowed is not None and len(allowed) == 0):
            return (
                np.full((len(q), k), -np.inf, dtype=np.float32),
                np.full((len(q), k), -1, dtype=np.int64),
            )
        selector = faiss.IDSelectorBatch(_ids(allowed)) if allowed is not None else None
        if self.kind == "ivf":
            params: faiss.SearchParameters = (
                faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
                if selector is not None
                else faiss.SearchParametersIVF(nprobe=nprobe)
            )
            if allowed is not None and len(allowed) <= 4 * k * 64:
                # Very selective filter: an IVF probe could miss the few allowed vectors.
                params = faiss.SearchParametersIVF(
                    sel=selector, nprobe=faiss.extract_index_ivf(self._index).nlist
                )
            scores, ids = self._index.search(q, k, params=params)
        elif selector is not None:
            scores, ids = self._index.search(q, k, params=faiss.SearchParameters(sel=selector))
        else:
            scores, ids = self._index.search(q, k)
        return scores, ids


def _ids(ids: np.ndarray | None) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64))
