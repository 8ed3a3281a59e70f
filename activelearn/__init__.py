"""graphsci.activelearn: pool-based active learning with diversified query strategies
(ScatterSample and baselines).

Installed from the top-level ``activelearn/`` folder as ``graphsci.activelearn``; it builds on
the core (:mod:`graphsci`); the molecule pool uses :mod:`graphsci.chem` when it is used.
"""
from graphsci.activelearn.loop import ActiveLearner, GCNClassifier, MoleculeEnsemble, MoleculePool, NodePool
from graphsci.activelearn.strategies import (STRATEGIES, AGESampling, CentralitySampling, CoreSetSampling,
                                            FeatPropSampling, PoolState, RandomSampling, ScatterSample,
                                            Strategy, UncertaintySampling, make_strategy)

__all__ = ["ActiveLearner", "NodePool", "GCNClassifier", "MoleculePool", "MoleculeEnsemble", "PoolState",
           "Strategy", "RandomSampling", "UncertaintySampling", "CentralitySampling", "CoreSetSampling",
           "FeatPropSampling", "AGESampling", "ScatterSample", "STRATEGIES", "make_strategy"]
