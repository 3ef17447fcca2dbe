"""A minimum s-t cut by max-flow (Edmonds-Karp): the exact layout choice is one.

The layout graphs are small (a node per layout-agnostic value, a few per transposable value),
so a plain implementation is enough; no graph library is a dependency.
"""

from __future__ import annotations

from collections import deque

INF = 1 << 40  # a constraint: larger than any count of transposes


class FlowGraph:
    """Directed edges with integer capacities between nodes ``0..n-1``."""

    def __init__(self, n: int) -> None:
        self.adj: list[list[int]] = [[] for _ in range(n)]
        self.to: list[int] = []
        self.cap: list[int] = []

    def add_node(self) -> int:
        self.adj.append([])
        return len(self.adj) - 1

    def add_edge(self, u: int, v: int, cap: int) -> None:
        """Edge ``u -> v`` (and its residual twin ``v -> u`` at index ``e ^ 1``)."""
        for a, b, c in ((u, v, cap), (v, u, 0)):
            self.adj[a].append(len(self.to))
            self.to.append(b)
            self.cap.append(c)

    def min_cut(self, s: int, t: int) -> tuple[int, set[int]]:
        """The cut's capacity and its source side (the nodes still reachable from ``s``).
        Edmonds-Karp: each shortest augmenting path carries at least one transpose's worth,
        so the work is bounded by the (small) count of transposes times the edges."""
        flow = 0
        while t in (parent := self._reach(s)):
            path, v = [], t
            while v != s:
                e = parent[v]
                path.append(e)
                v = self.to[e ^ 1]
            pushed = min(self.cap[e] for e in path)
            for e in path:
                self.cap[e] -= pushed
                self.cap[e ^ 1] += pushed
            flow += pushed
        return flow, set(parent)

    def _reach(self, s: int) -> dict[int, int]:
        """Breadth-first over edges with capacity left: each reached node's entering edge."""
        parent = {s: -1}
        queue = deque([s])
        while queue:
            u = queue.popleft()
            for e in self.adj[u]:
                v = self.to[e]
                if self.cap[e] > 0 and v not in parent:
                    parent[v] = e
                    queue.append(v)
        return parent
