"""Mixed precision: the dtype policies our models train under, and building under a policy.

A model's dtype policy (Keras' `dtype` argument; by default the global policy when the model is
constructed) applies to all the networks it builds: encoder, decoder, discriminator. Under
`mixed_bfloat16` they compute in bfloat16 with float32 variables; the losses are reduced in
float32 and the β controllers keep float32 state and arithmetic whatever the policy.
"""

from __future__ import annotations

import contextlib

import keras

#: Policies the training steps support. float16 would need loss scaling, which they don't do.
SUPPORTED_POLICIES = ("float32", "mixed_bfloat16")


@contextlib.contextmanager
def dtype_policy_scope(policy):
  """Keras' global dtype policy set to `policy` (a name or `keras.DTypePolicy`) in the block,
  so that layers created there take it; the previous global policy is restored after."""
  previous = keras.mixed_precision.dtype_policy()
  keras.mixed_precision.set_dtype_policy(policy)
  try:
    yield
  finally:
    keras.mixed_precision.set_dtype_policy(previous)
