"""graphsci.activelearn: pool-based active learning with diversified query strategies
(ScatterSample and baselines).

Installed from the top-level ``activelearn/`` folder as ``graphsci.activelearn``; it builds on
the core (:mod:`graphsci`) and on no other domain package.
"""
