"""graphsci.tabular: relational tables as graphs, graph propagation, and boosted smoothing
(GBDT + graph smoothing).

Installed from the top-level ``tabular/`` folder as ``graphsci.tabular``; it builds on the core
(:mod:`graphsci`) and on no other domain package.
"""
