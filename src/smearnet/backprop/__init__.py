"""The assignment's backpropagation math (parts 1 and 2) as executable, checked code.

- :mod:`smearnet.backprop.part1`: one layer ``h = Wx + b, t = relu(h), L = 1/2 ||y - t||^2``;
  its gradients in closed form, checked against the autodiff engine and finite differences.
- :mod:`smearnet.backprop.part2`: an L-layer chain; the gradient by forward accumulation
  (matrix-matrix Jacobian products) and by reverse accumulation (vector-Jacobian products),
  their FLOP counts, and a benchmark that measures how each grows with width and depth.
"""

from .part1 import (Part1Check, Part1Gradients, closed_form_gradients, engine_gradients,
                    example_problem, finite_difference_gradients, layer_forward, three_way_check)
from .part2 import (Chain, ChainGradients, FlopCounter, engine_chain_gradients, flop_counts,
                    forward_accumulation, forward_input_jacobian, random_chain,
                    reverse_accumulation)

__all__ = [
    "Part1Check", "Part1Gradients", "closed_form_gradients", "engine_gradients",
    "example_problem", "finite_difference_gradients", "layer_forward", "three_way_check",
    "Chain", "ChainGradients", "FlopCounter", "engine_chain_gradients", "flop_counts",
    "forward_accumulation", "forward_input_jacobian", "random_chain", "reverse_accumulation",
]
