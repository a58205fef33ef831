"""`LearnableLossWeights`: L-VAE's trainable weights of the reconstruction and KL terms.

The L-VAE paper (arXiv 2507.02619) learns the relative weights of the reconstruction and KL
terms jointly with the network, with a regulariser that stops the weights collapsing onto
either term. **Its exact equations were not available to us**; public reviews describe it as
multi-task uncertainty weighting. This layer is our reconstruction from the abstract and
offers two documented parameterisations:

* ``uncertainty`` (Kendall et al. style): L = exp(−s_R)·L_R + exp(−s_K)·KL + s_R + s_K;
  the `+ s` terms are the anti-bias regulariser; effective β = exp(s_R − s_K).
* ``softmax``: (w_R, w_K) = softmax(a); L = w_R·L_R + w_K·KL + λ·Reg(w) with
  Reg = −Σ log w_i (``log_barrier``, default) or (w_R − w_K)² (``squared_difference``);
  effective β = w_K / w_R.
"""

from __future__ import annotations

import keras
from keras import ops

PARAMETERISATIONS = ("uncertainty", "softmax")
REGULARIZERS = ("log_barrier", "squared_difference")


@keras.saving.register_keras_serializable(package="dynvae_keras")
class LearnableLossWeights(keras.layers.Layer):
  """Combines a reconstruction loss and a KL with two trainable weights (see module docstring).

  Args:
    parameterisation: 'uncertainty' or 'softmax'.
    regularizer: for 'softmax': 'log_barrier' or 'squared_difference'.
    regularizer_weight: λ for 'softmax' (the 'uncertainty' form has its own log-variance terms).
    initial_beta: initial effective β (weights initialised accordingly; 1 = equal weights).

  Call `combine(reconstruction_loss, kl_loss)` → (loss, logs) with logs `beta` (effective β),
  `weight_reconstruction`, `weight_kl` and `weights_regularizer`.
  """

  def __init__(self, parameterisation="uncertainty", regularizer="log_barrier",
               regularizer_weight=1.0, initial_beta=1.0, **kwargs):
    super().__init__(**kwargs)
    if parameterisation not in PARAMETERISATIONS:
      raise ValueError(f"parameterisation must be one of {PARAMETERISATIONS}; got '{parameterisation}'.")
    if regularizer not in REGULARIZERS:
      raise ValueError(f"regularizer must be one of {REGULARIZERS}; got '{regularizer}'.")
    if float(regularizer_weight) < 0 or float(initial_beta) <= 0:
      raise ValueError("regularizer_weight must be >= 0 and initial_beta > 0.")
    self.parameterisation, self.regularizer = parameterisation, regularizer
    self.regularizer_weight, self.initial_beta = float(regularizer_weight), float(initial_beta)
    import math  # pylint: disable=g-import-not-at-top
    # uncertainty: β = exp(s_R − s_K) → s_K = −log β; softmax: β = exp(a_K − a_R) → a_K = log β.
    init = [0.0, -math.log(self.initial_beta)] if parameterisation == "uncertainty" else [0.0, math.log(self.initial_beta)]
    self.logits = self.add_weight(name="logits", shape=(2,), trainable=True,
                                  initializer=keras.initializers.Constant(init))

  def combine(self, reconstruction_loss, kl_loss):
    logits = ops.cast(ops.convert_to_tensor(self.logits), "float32")
    if self.parameterisation == "uncertainty":
      weights = ops.exp(-logits)
      regularizer = ops.sum(logits)
    else:
      weights = ops.softmax(logits)
      if self.regularizer == "log_barrier":
        regularizer = -ops.sum(ops.log(weights))
      else:
        regularizer = ops.square(weights[0] - weights[1])
      regularizer = self.regularizer_weight * regularizer
    loss = weights[0] * reconstruction_loss + weights[1] * kl_loss + regularizer
    logs = {"beta": weights[1] / weights[0], "weight_reconstruction": weights[0],
            "weight_kl": weights[1], "weights_regularizer": regularizer}
    return loss, logs

  def get_config(self):
    return {**super().get_config(), "parameterisation": self.parameterisation,
            "regularizer": self.regularizer, "regularizer_weight": self.regularizer_weight,
            "initial_beta": self.initial_beta}
