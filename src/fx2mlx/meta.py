"""The ``node.meta`` keys fx2mlx writes: each computed once, by the stage named, and read after.

The frontends' own keys (``val``, ``nn_module_stack``, ``stack_trace``) are torch's and keep
their names. Everything fx2mlx adds is namespaced ``fx2mlx.*`` and named here, and only here.
"""

from __future__ import annotations

SCOPE = "fx2mlx.scope"
"""capture: tuple of ``(call_key, module_path)`` frames, outermost first, root excluded."""

UNSCOPED = "fx2mlx.unscoped"
"""capture: True when the frontend recorded no module stack for the node."""

LAYER = "fx2mlx.layer"
"""collapse_layers: on a collapsed ``call_module`` node, its ``LayerCall``."""

BAKED = "fx2mlx.baked"
"""analyze_dynamic: a note naming the input dimensions a shape argument was traced from."""

COMMENT = "fx2mlx.comment"
"""Rewriting passes: a one-line comment for the emitted statement (why it differs from torch)."""

LAYOUT = "fx2mlx.layout"
"""assign_layout: the storage permutation of the node's tensor value (None: not a tensor)."""

LAYOUT_FROM = "fx2mlx.layout_from"
"""assign_layout: on an inserted transpose, the permutation it converts from."""

ORIGIN = "fx2mlx.origin"
"""capture: ``(op, user line, occurrence)``, the key that finds the node's counterpart in the
probe capture (``capture/probe.py``)."""

UNGUARDED = "fx2mlx.unguarded"
"""fuse_attention, unguard_attention: on an sdpa node, True when its output needs no zeroing
of queries that may attend to no key (a written-out softmax gives NaN there, as MLX does; or
no query can be fully masked)."""

FOLDED = "fx2mlx.folded"
"""fold_batchnorm: on a convolution op (not a layer: ``LayerCall.folded``), ``(its module's
path, the BatchNorm's path)``: that BatchNorm is folded into its weight and bias tensors."""
