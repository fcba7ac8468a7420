"""The Merkle tree of Certificate Transparency (RFC 6962 section 2.1, RFC 9162 2.1).

Leaf hash SHA-256(0x00 || leaf), node hash SHA-256(0x01 || left || right), the tree
of n leaves split at the largest power of two below n. Proofs are RFC 9162's audit
paths and consistency proofs, so anyone's RFC 6962 verifier checks ours.

Why our own module: ``pymerkle`` 7 hashes the same way (its roots match the CT test
vectors) but its proofs are its own format (an inclusion path that carries the leaf
hash with "rule" bits, consistency proofs unlike RFC 9162's), which outside verifiers
cannot check, and it keeps leaves in its own storage, apart from the store whose
transaction also records the release.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (already ``leaf_hash``ed), iteratively: O(n)."""
    if not hashes:
        return EMPTY_ROOT
    # Fold perfect subtrees from the left, as a binary counter: the stack holds the
    # roots of complete subtrees of decreasing size; the ragged right edge is folded
    # right-to-left at the end, which is exactly the split at the largest power of 2.
    stack: list[tuple[int, bytes]] = []
    for h in hashes:
        size, node = 1, h
        while stack and stack[-1][0] == size:
            left = stack.pop()[1]
            node = node_hash(left, node)
            size *= 2
        stack.append((size, node))
    node = stack.pop()[1]
    while stack:
        node = node_hash(stack.pop()[1], node)
    return node


def inclusion_path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 2.1.1: the audit path of leaf ``index``."""
    n = len(hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of {n}")
    if n == 1:
        return []
    k = split(n)
    if index < k:
        return inclusion_path(index, hashes[:k]) + [root(hashes[k:])]
    return inclusion_path(index - k, hashes[k:]) + [root(hashes[:k])]


def consistency_proof(old_size: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 2.1.2 between the tree of ``old_size`` leaves and
    the tree of all ``hashes``."""
    n = len(hashes)
    if not 0 <= old_size <= n:
        raise ValueError(f"size {old_size} is not a prefix of a tree of {n}")
    if old_size in (0, n):
        return []
    return _subproof(old_size, hashes, True)


def _subproof(m: int, hashes: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [root(hashes)]
    k = split(n)
    if m <= k:
        return _subproof(m, hashes[:k], complete) + [root(hashes[k:])]
    return _subproof(m - k, hashes[k:], False) + [root(hashes[:k])]


# The same tree read from its perfect subtrees: every subtree the RFC 6962 recursion
# visits is either perfect (2^level leaves from an index that is a multiple of its
# size) or the ragged right edge, itself made of perfect subtrees. A store that keeps
# the hash of each perfect subtree once it is complete (``ledger.tree``) then gives
# roots and proofs in O(log n) reads instead of reading every leaf.

Node = tuple[int, int]  # (level, index): leaves index * 2^level .. (index+1) * 2^level


def perfect_nodes(size: int) -> list[Node]:
    """Every perfect subtree of a tree of ``size`` leaves above the leaves (level 1
    up): what a store keeps; ``size >> level`` of them at each level."""
    return [
        (level, i)
        for level in range(1, max(size, 1).bit_length())
        for i in range(size >> level)
    ]


class Nodes:
    """Roots and proofs of the tree of ``size`` leaves from ``get(level, index)``, the
    hash of a perfect subtree (level 0: a leaf hash). ``needed`` lists the nodes a
    computation reads, so a store can fetch them in one query first."""

    def __init__(self, size: int, get: Callable[[int, int], bytes]) -> None:
        self.size = size
        self.get = get

    @staticmethod
    def needed(fn: Callable[[Nodes], object], size: int) -> set[Node]:
        seen: set[Node] = set()

        def record(level: int, index: int) -> bytes:
            seen.add((level, index))
            return EMPTY_ROOT

        fn(Nodes(size, record))
        return seen

    def subtree(self, start: int, n: int) -> bytes:
        """MTH of leaves ``start .. start + n`` (a subtree the recursion visits)."""
        if n & (n - 1) == 0:
            level = n.bit_length() - 1
            return self.get(level, start >> level)
        k = split(n)
        return node_hash(self.subtree(start, k), self.subtree(start + k, n - k))

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        return self.subtree(0, size) if size else EMPTY_ROOT

    def inclusion_path(self, index: int) -> list[bytes]:
        """``inclusion_path(index, hashes)`` of the whole tree."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf {index} is not in a tree of {self.size}")
        out: list[bytes] = []
        start, n = 0, self.size
        while n > 1:
            k = split(n)
            if index - start < k:
                out.append(self.subtree(start + k, n - k))
                n = k
            else:
                out.append(self.subtree(start, k))
                start, n = start + k, n - k
        return out[::-1]

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """``consistency_proof(old_size, hashes)`` of the whole tree."""
        if not 0 <= old_size <= self.size:
            raise ValueError(
                f"size {old_size} is not a prefix of a tree of {self.size}"
            )
        if old_size in (0, self.size):
            return []
        out: list[bytes] = []
        start, m, n, complete = 0, old_size, self.size, True
        while m != n:
            k = split(n)
            if m <= k:
                out.append(self.subtree(start + k, n - k))
                n = k
            else:
                out.append(self.subtree(start, k))
                start, m, n, complete = start + k, m - k, n - k, False
        if not complete:
            out.append(self.subtree(start, n))
        return out[::-1]


def root_from_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes]
) -> bytes:
    """The root an audit path implies (RFC 9162 2.1.3.2); raises when it cannot be
    a path of leaf ``index`` in a tree of ``size``."""
    if not 0 <= index < size:
        raise ValueError("index out of range")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], expected_root: bytes
) -> bool:
    """True when ``path`` proves leaf hash ``leaf`` is entry ``index`` of the tree
    of ``size`` whose root is ``expected_root``."""
    try:
        return root_from_inclusion(index, size, leaf, path) == expected_root
    except ValueError:
        return False


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """RFC 9162 2.1.4.2: the tree of ``new_size`` extends the tree of ``old_size``."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root starts it
        path = [old_root, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
