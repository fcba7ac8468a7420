"""Secondary suppression by hypercubes (the idea of tau-argus's GHMITER), batched in
NumPy so its cost grows with the table, never with a factorisation per round.

A table with margins is a cube whose every line (all axes fixed but one) satisfies
``sum(cells) == total``. Pick, for a sensitive cell ``p``, one other index ``a_j`` on
every axis: the ``2**d`` cells that take ``p_j`` or ``a_j`` on each axis (the
*corners*) can all move together, ``corner += sign * t``, and every line still adds
up, because each line through a corner holds exactly two corners. The sign flips
along an axis when both indices are categories and stays when one is the line's
total (a category rising raises its total). So an intruder who sees everything but
the corners cannot tell ``t = 0`` from any ``t`` that keeps the corners
non-negative: ``p`` can be anywhere from ``x - down`` to ``x + up``, where ``up`` is
the least corner that falls as ``p`` rises and ``down`` the least that rises with it.

A cube is chosen for each cell that needs protection so that ``up`` and ``down`` are
at least the cell's required protection, at the least cost (the values of corners not
yet suppressed). More suppression only widens what an intruder cannot know (the old
pattern's solutions are still solutions), so every cube chosen stays a valid witness
to the end, and the chosen cubes are handed to the output check, which verifies them
against its own equations (``audit.witnessed``) instead of trusting them.

The cube of ``p`` with every ``a_j`` the total is always valid (its corners are margins
holding ``p``, never smaller than it, all moving with it), so every cell gets one;
the costs steer the search to cheaper cubes among the few candidates per axis: cells
already suppressed, then the smallest values that give the protection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_COMBOS = 32  # candidate cubes scored per cell
POOL = 8  # candidates kept per line of a long axis
BATCH = 8192
REFRESH = 4  # batches between rebuilding the long axes' candidate pools
REBUILDS = 8  # at most this many rebuilds (more batches: REFRESH grows)


@dataclass
class Cubes:
    """Chosen cubes: ``corners`` (k, 2**d) flat indices into the table, corner 0 the
    cell protected; ``signs`` (k, 2**d) how each corner moves with it."""

    corners: np.ndarray
    signs: np.ndarray

    @classmethod
    def empty(cls, d: int) -> Cubes:
        return cls(np.zeros((0, 2**d), np.int64), np.zeros((0, 2**d), np.int8))


def met(
    up: np.ndarray,
    down: np.ndarray,
    need_up: np.ndarray,
    need_down: np.ndarray,
    need_width: np.ndarray,
) -> np.ndarray:
    """Whether moves of ``up`` and ``down`` give the protection needed."""
    tol = 1e-9
    return (
        (up >= need_up - tol)
        & (down >= need_down - tol)
        & (up + down >= need_width - tol)
    )


def covers(values: np.ndarray, cubes: Cubes) -> tuple[np.ndarray, np.ndarray]:
    """How far each cell is known to move up and down along the cubes (flat)."""
    up = np.zeros(values.size)
    down = np.zeros(values.size)
    add_covers(up, down, values.ravel(), cubes)
    return up, down


def add_covers(
    up: np.ndarray, down: np.ndarray, flat_v: np.ndarray, cubes: Cubes
) -> None:
    """Raise ``up``/``down`` (flat, in place) to the moves ``cubes`` give their
    corners: work in the cubes' size, never the table's (it runs once a batch)."""
    if len(cubes.corners) == 0:
        return
    v = flat_v[cubes.corners]
    s = cubes.signs
    rise = np.where(s < 0, v, np.inf).min(axis=1)  # t > 0: the falling corners
    fall = np.where(s > 0, v, np.inf).min(axis=1)  # t < 0: the rising corners fall
    c_up = np.where(s > 0, rise[:, None], fall[:, None])
    c_down = np.where(s > 0, fall[:, None], rise[:, None])
    np.maximum.at(up, cubes.corners.ravel(), c_up.ravel())
    np.maximum.at(down, cubes.corners.ravel(), c_down.ravel())


def protect(
    values: np.ndarray,
    suppressed: np.ndarray,
    need_up: np.ndarray,
    need_down: np.ndarray,
    need_width: np.ndarray,
    usable: np.ndarray,
) -> tuple[np.ndarray, Cubes]:
    """Suppress corners until every cell with a need is covered.

    ``suppressed`` (bool, updated in place) is the pattern so far; ``need_up`` and
    ``need_down`` the least each cell must be free to rise and fall, ``need_width``
    the least the two together (0 everywhere: no need); ``usable`` the cells
    that may be corners (not already public). Returns the cells that no
    cube could protect (only when the margins themselves are unusable) and the cubes.
    """
    shape = values.shape
    d = len(shape)
    flat_v = values.ravel()
    supp = suppressed.reshape(-1)  # a view: writes go to the caller's array
    use = usable.ravel()
    strides = np.array([int(np.prod(shape[j + 1 :])) for j in range(d)], np.int64)
    need_up, need_down = need_up.ravel(), need_down.ravel()
    need_width = need_width.ravel()
    todo = np.flatnonzero(supp & (need_width > 0))
    # Hardest first: their cubes are the likeliest to protect the others too.
    todo = todo[np.argsort(-need_width[todo], kind="stable")]
    bits = (np.arange(2**d)[:, None] >> np.arange(d)[None, :]) & 1  # (2**d, d)
    zero = 2.0 * (float(flat_v.max(initial=0.0)) + 1.0)
    cover_up = np.zeros(values.size)
    cover_down = np.zeros(values.size)
    chosen: list[Cubes] = []
    failed: list[np.ndarray] = []
    # Small tables: a few batches (cubes chosen later see earlier ones); large:
    # batches of up to BATCH, so the per-batch passes over the table stay few.
    batch = max(64, min(BATCH, len(todo) // 32 or 64))
    # Whole-table passes stay a fixed number however many batches there are (a
    # pool per REFRESH batches, at most REBUILDS of them; every other pass of a
    # batch is in the batch's size), so the cost grows with the table, not with
    # the table times the suppressed cells.
    turns = -(-len(todo) // batch)
    refresh = max(REFRESH, -(-turns // REBUILDS))
    level = float(max(need_up.max(initial=0), need_down.max(initial=0)))
    pools: dict[int, tuple[int, np.ndarray]] = {}  # axis: (turn made, per line)
    long_axes = [j for j in range(d) if shape[j] > POOL + 1]
    for turn, start in enumerate(range(0, len(todo), batch)):
        cells = todo[start : start + batch]
        open_ = ~met(
            cover_up[cells],
            cover_down[cells],
            need_up[cells],
            need_down[cells],
            need_width[cells],
        )
        cells = cells[open_]
        if len(cells) == 0:
            continue
        up, down, width = need_up[cells], need_down[cells], need_width[cells]
        p = np.stack(np.unravel_index(cells, shape), axis=1)  # (B, d)
        cell_pools: dict[int, np.ndarray] = {}
        for j in long_axes:
            other_shape = [n for i, n in enumerate(shape) if i != j]
            line = np.ravel_multi_index(
                [p[:, i] for i in range(d) if i != j], other_shape
            )
            lines, back = np.unique(line, return_inverse=True)
            if len(lines) * shape[j] * 8 <= values.size:  # few lines: fresh pools
                fresh = _line_pools(
                    flat_v, supp, use, shape, strides, j, level, zero, lines
                )
                cell_pools[j] = fresh[back]
                continue
            # Lines as long as the table: one partial sort of them all, kept for
            # REFRESH batches (candidates are re-scored per cell anyway).
            if j not in pools or turn - pools[j][0] >= refresh:
                pools[j] = (
                    turn,
                    _line_pools(flat_v, supp, use, shape, strides, j, level, zero),
                )
            cell_pools[j] = pools[j][1][line]
        cands = [
            _candidates(
                flat_v,
                supp,
                use,
                shape,
                strides,
                p,
                j,
                up,
                down,
                cell_pools.get(j),
                zero,
            )
            for j in range(d)
        ]
        combos = _combos(cands)  # (B, M, d), -1 where none
        alt = np.where(combos < 0, p[:, None, :], combos)
        # Corner k takes alt_j on the axes of its bits, p_j elsewhere (matmuls,
        # never a (cells, cubes, corners, axes) array).
        delta = (alt - p[:, None, :]) * strides  # (B, M, d)
        flat = cells[:, None, None] + delta @ bits.T  # (B, M, 2**d)
        total = np.array(shape) - 1
        c_p = np.where(p == total, -1, 1)[:, None, :]
        c_a = np.where(alt == total, -1, 1)
        flips = (c_p * c_a > 0).astype(np.int64)  # both categories: sign flips
        sign = 1 - 2 * ((flips @ bits.T) & 1)  # (B, M, 2**d)
        v = flat_v[flat]
        need = np.where(sign < 0, up[:, None, None], down[:, None, None])
        ok = (v >= need - 1e-9) & (use[flat] | (np.arange(2**d) == 0))
        rise = np.where(sign < 0, v, np.inf).min(axis=-1)
        fall = np.where(sign > 0, v, np.inf).min(axis=-1)
        valid = ok.all(axis=-1) & (combos >= 0).all(axis=-1)
        valid &= rise + fall >= width[:, None] - 1e-9
        fresh = ~supp[flat]
        cost = np.where(fresh, _price(v, zero), 0.0)[..., 1:].sum(axis=-1)
        cost = np.where(valid, cost, np.inf)
        best = np.argmin(cost, axis=1)
        good = np.isfinite(cost[np.arange(len(cells)), best])
        failed.append(cells[~good])
        rows = np.flatnonzero(good)
        pick_flat = flat[rows, best[rows]]
        pick_sign = sign[rows, best[rows]].astype(np.int8)
        supp[pick_flat.ravel()] = True
        new = Cubes(pick_flat, pick_sign)
        chosen.append(new)
        add_covers(cover_up, cover_down, flat_v, new)
    cubes = (
        Cubes(
            np.concatenate([c.corners for c in chosen]),
            np.concatenate([c.signs for c in chosen]),
        )
        if chosen
        else Cubes.empty(d)
    )
    return (np.concatenate(failed) if failed else np.zeros(0, np.int64)), cubes


def _price(v: np.ndarray, zero: float) -> np.ndarray:
    """The cost of suppressing a cell: its value (plus one, so fewer cells win ties),
    a true zero dearer than any value: hiding a zero hides nothing of use, and a
    hidden zero beside a published one reads as a group all in one category."""
    return np.where(v == 0, zero, v + 1.0)


def _candidates(
    flat_v: np.ndarray,
    supp: np.ndarray,
    use: np.ndarray,
    shape: tuple[int, ...],
    strides: np.ndarray,
    p: np.ndarray,
    j: int,
    up: np.ndarray,
    down: np.ndarray,
    pool: np.ndarray | None,
    zero: float,
) -> np.ndarray:
    """Alternative indices on axis ``j`` for each cell (B, k), best first, -1 padding.

    The neighbour of ``p`` along the axis is itself a corner; it must give the
    protection (``up`` when both indices are categories, ``down`` when one is the
    total), and costs nothing when already suppressed. The total is always kept (the
    fallback cube). Long axes take their pool from the best cells of each line.
    """
    n = shape[j]
    tot = n - 1
    if pool is None:  # a short axis: every index
        pool = np.broadcast_to(np.arange(n), (len(p), n))
    base = (p * strides).sum(axis=1) - p[:, j] * strides[j]
    nb = base[:, None] + pool * strides[j]
    v = flat_v[nb]
    both_cat = (pool != tot) & (p[:, j] != tot)[:, None]
    need = np.where(both_cat, up[:, None], down[:, None])
    good = use[nb] & (v >= need - 1e-9) & (pool != p[:, j][:, None])
    score = np.where(good, np.where(supp[nb], 0.0, _price(v, zero)), np.inf)
    score = np.where((pool == tot) & (p[:, j] != tot)[:, None], np.inf, score)
    order = np.argsort(score, axis=1, kind="stable")
    ranked = np.take_along_axis(pool, order, axis=1)
    ranked = np.where(np.take_along_axis(np.isfinite(score), order, axis=1), ranked, -1)
    total_col = np.where(p[:, j] != tot, tot, -1)[:, None]
    out = np.concatenate([total_col, ranked[:, :POOL]], axis=1)
    order = np.argsort(out < 0, axis=1, kind="stable")  # padding last
    return np.take_along_axis(out, order, axis=1)


def _line_pools(
    flat_v: np.ndarray,
    supp: np.ndarray,
    use: np.ndarray,
    shape: tuple[int, ...],
    strides: np.ndarray,
    j: int,
    level: float,
    dear: float,
    lines: np.ndarray | None = None,
) -> np.ndarray:
    """For a long axis, per line (``lines``: their ids over the other axes, in
    order; default all): the suppressed cells and smallest usable ones, and the
    smallest that meet the largest need (one partial sort)."""
    n = shape[j]
    if lines is None:
        v = np.moveaxis(flat_v.reshape(shape), j, -1).reshape(-1, n)
        s = np.moveaxis(supp.reshape(shape), j, -1).reshape(-1, n)
        u = np.moveaxis(use.reshape(shape), j, -1).reshape(-1, n)
    else:  # only these lines, gathered by their strides
        other = [i for i in range(len(shape)) if i != j]
        coords = np.unravel_index(lines, [shape[i] for i in other])
        base = sum(c * strides[i] for c, i in zip(coords, other, strict=True))
        at = np.asarray(base, np.int64)[:, None] + np.arange(n) * strides[j]
        v, s, u = flat_v[at], supp[at], use[at]
    score = np.where(u, np.where(s, 0.0, _price(v, dear)), np.inf)
    score[:, -1] = np.inf  # the total is added on its own
    half = POOL // 2
    small = np.argpartition(score, half, axis=1)[:, : half + 1]
    lifted = np.where(v >= level, score, np.inf)
    large = np.argpartition(lifted, half, axis=1)[:, : half + 1]
    return np.concatenate([small, large], axis=1)


def _combos(cands: list[np.ndarray]) -> np.ndarray:
    """Up to ``MAX_COMBOS`` alternative tuples per cell from the per-axis candidates,
    the first few of each axis crossed (the all-total tuple is always first)."""
    k = [c.shape[1] for c in cands]
    take = list(k)
    while int(np.prod(take)) > MAX_COMBOS:
        i = int(np.argmax(take))
        take[i] -= 1
    grids = np.meshgrid(*[np.arange(t) for t in take], indexing="ij")
    idx = [g.ravel() for g in grids]
    return np.stack([c[:, i] for c, i in zip(cands, idx, strict=True)], axis=-1)
