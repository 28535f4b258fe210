"""Home-base planning: the capacitated p-median on OR-Tools.

``solve_bases`` chooses where `count` reps should be based and which points (accounts) each base
serves, within each base's capacity, minimising the sum of weight x distance.

- ``problem``: the model, its pre-check, and a validator that shares no code with the solver.
- ``relaxation`` and ``lagrangian``: lower bounds (LP with pricing, or Lagrangian for large problems).
- ``search``: the CP-SAT start, large-neighbourhood rounds and proof.
- ``sites`` and ``product``: candidate sites and the `territory bases` job over an account list.
"""

from optimizer.bases.problem import (BasePlan, BaseProblem, DistanceFunction, DistanceMatrix, check_base_plan,
                                     check_feasibility, euclidean, plan_objective)
from optimizer.bases.search import solve_bases

__all__ = ["BasePlan", "BaseProblem", "DistanceFunction", "DistanceMatrix", "check_base_plan", "check_feasibility",
           "euclidean", "plan_objective", "solve_bases"]
