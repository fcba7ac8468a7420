"""The ledger's Merkle tree against Certificate Transparency's published test vectors
(RFC 6962 test data as in certificate-transparency / trillian / transparency-dev
merkle), and properties of proofs for every small tree."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pupilshare.ledger import merkle, tree

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
HASHES = [merkle.leaf_hash(x) for x in LEAVES]


def test_hasher_vectors():
    assert merkle.EMPTY_ROOT.hex() == hashlib.sha256(b"").hexdigest()
    assert merkle.root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert merkle.leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert merkle.node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_roots(size):
    assert merkle.root(HASHES[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize("index,size,path", INCLUSION)
def test_inclusion_vectors(index, size, path):
    got = merkle.inclusion_path(index, HASHES[:size])
    assert [h.hex() for h in got] == path
    root = bytes.fromhex(ROOTS[size - 1])
    assert merkle.verify_inclusion(index, size, HASHES[index], got, root)
    assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"x"), got, root)
    assert not merkle.verify_inclusion(index, size * 2, HASHES[index], got, root)
    assert not merkle.verify_inclusion(index, size, HASHES[index], got + [root], root)
    for i in range(len(got)):  # one flipped bit anywhere breaks it
        bad = list(got)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        assert not merkle.verify_inclusion(index, size, HASHES[index], bad, root)


@pytest.mark.parametrize("old,new,proof", CONSISTENCY)
def test_consistency_vectors(old, new, proof):
    got = merkle.consistency_proof(old, HASHES[:new])
    assert [h.hex() for h in got] == proof
    a, b = bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1])
    assert merkle.verify_consistency(old, new, a, b, got)
    if old != new:
        assert not merkle.verify_consistency(old, new, b, a, got)
        assert not merkle.verify_consistency(old, new, a, b, got[:-1])


def test_every_small_tree():
    for n in range(1, 9):
        r = merkle.root(HASHES[:n])
        for i in range(n):
            path = merkle.inclusion_path(i, HASHES[:n])
            assert merkle.verify_inclusion(i, n, HASHES[i], path, r)
        for m in range(1, n + 1):
            p = merkle.consistency_proof(m, HASHES[:n])
            assert merkle.verify_consistency(m, n, merkle.root(HASHES[:m]), r, p)


def _reference_root(hashes):  # the definition, recursively, as RFC 6962 writes it
    if len(hashes) == 1:
        return hashes[0]
    k = merkle.split(len(hashes))
    return merkle.node_hash(_reference_root(hashes[:k]), _reference_root(hashes[k:]))


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_properties(leaves, data):
    hashes = [merkle.leaf_hash(x) for x in leaves]
    n = len(hashes)
    r = merkle.root(hashes)
    assert r == _reference_root(hashes)
    i = data.draw(st.integers(0, n - 1))
    assert merkle.verify_inclusion(i, n, hashes[i], merkle.inclusion_path(i, hashes), r)
    m = data.draw(st.integers(1, n))
    proof = merkle.consistency_proof(m, hashes)
    assert merkle.verify_consistency(m, n, merkle.root(hashes[:m]), r, proof)
    if m < n:  # an edited old entry no longer proves consistent
        edited = [merkle.leaf_hash(b"edited"), *hashes[1:m]]
        assert not merkle.verify_consistency(m, n, merkle.root(edited), r, proof)


def _nodes_of(hashes):
    """A ``merkle.Nodes`` over the perfect subtrees as ``ledger.tree`` keeps them."""
    from pupilshare.ledger import tree

    kept = {(lv, ix): h for lv, ix, _, h in tree.all_nodes(hashes)}
    kept.update({(0, i): h for i, h in enumerate(hashes)})
    return merkle.Nodes(len(hashes), lambda lv, ix: kept[(lv, ix)])


@pytest.mark.parametrize("index,size,path", INCLUSION)
def test_kept_nodes_give_the_vectors(index, size, path):
    nodes = _nodes_of(HASHES[:size])
    assert nodes.root().hex() == ROOTS[size - 1]
    assert [h.hex() for h in nodes.inclusion_path(index)] == path


@pytest.mark.parametrize("old,new,proof", CONSISTENCY)
def test_kept_nodes_give_the_consistency_vectors(old, new, proof):
    nodes = _nodes_of(HASHES[:new])
    assert [h.hex() for h in nodes.consistency_proof(old)] == proof
    assert nodes.root(old).hex() == ROOTS[old - 1]


@given(st.lists(st.binary(max_size=4), min_size=1, max_size=140), st.data())
def test_kept_nodes_prove_as_the_leaves_do(leaves, data):
    """Roots and proofs from the kept perfect subtrees equal those from every leaf,
    and read O(log n) nodes (what makes a proof cheap in a long ledger)."""
    from pupilshare.ledger import tree

    hashes = [merkle.leaf_hash(x) for x in leaves]
    n = len(hashes)
    nodes = _nodes_of(hashes)
    assert len(tree.all_nodes(hashes)) == tree.expected(n)
    i = data.draw(st.integers(0, n - 1))
    m = data.draw(st.integers(0, n))
    assert nodes.root() == merkle.root(hashes)
    assert nodes.inclusion_path(i) == merkle.inclusion_path(i, hashes)
    assert nodes.consistency_proof(m) == merkle.consistency_proof(m, hashes)
    need = merkle.Nodes.needed(lambda t: t.inclusion_path(i), n)
    assert len(need) <= 2 * n.bit_length()
    peaks: list[tuple[int, bytes]] = []
    for k, h in enumerate(hashes):
        tree.push(peaks, h, k)
    assert tree.peaks_root(peaks) == merkle.root(hashes)


@given(st.lists(st.binary(max_size=8), max_size=140))
def test_the_frontier_gives_every_prefix_root(leaves: list[bytes]) -> None:
    """The running root ``ledger verify`` checks each signed head against is the
    tree's root at every size, as the recomputation from all leaves gives it."""
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    peaks: tree.Peaks = []
    assert tree.peaks_root(peaks) == merkle.root([])
    for n, h in enumerate(hashes, start=1):
        tree.push(peaks, h, n - 1)
        assert tree.peaks_root(peaks) == merkle.root(hashes[:n])
