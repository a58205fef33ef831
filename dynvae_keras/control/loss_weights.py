"""`LearnableLossWeights`: L-VAE's trainable weights of the reconstruction and KL terms.

The L-VAE paper (arXiv 2507.02619) learns the relative weights of the reconstruction and KL
terms jointly with the network, with a regulariser that prevents a bias towards either term;
it builds on multi-task uncertainty weighting. Its exact equations are not public as code;
this layer is a reading of that description, with two parameterisations:

* ``uncertainty`` (default): log-variances s = (s_R, s_K), weights w = exp(−s),

      L = w_R·L_R + w_K·KL + s_R + s_K + λ·(s_R − s_K)²,      β = w_K / w_R = exp(s_R − s_K).

  Without the last term (``regularizer='none'``, plain uncertainty weighting) the weights'
  optimum is w = 1/L, so the network sees β = L_R / KL and the loss becomes
  2 + log L_R + log KL: unbounded below as KL → 0. It rewards posterior collapse, and the
  smaller the KL, the larger β (a runaway). The anti-bias term λ·(s_R − s_K)² = λ·(log β)²
  penalises weighting either term over the other. At the weights' optimum,

      w_R·L_R = 1 + 2λ·log β,   w_K·KL = 1 − 2λ·log β,
      so  β·(1 + 2λ·log β) / (1 − 2λ·log β) = L_R / KL,

  which has one solution with |log β| < 1/(2λ): β still rises with L_R / KL (the paper's
  dynamic trade-off: large while the reconstruction term dominates, smaller as it improves),
  but stays within [exp(−1/(2λ)), exp(1/(2λ))], so a vanishing KL can no longer drive it to
  infinity (``regularizer='log_ratio'``, the default).
* ``softmax``: (w_R, w_K) = softmax(a); L = w_R·L_R + w_K·KL + λ·Reg(w) with
  Reg = −Σ log w_i (``log_barrier``, default) or (w_R − w_K)² (``squared_difference``);
  effective β = w_K / w_R. With dlib's summed reconstruction loss (L_R ≫ KL) the log barrier
  settles at w_R ≈ λ / (L_R − KL), i.e. β ≈ (L_R − KL) / λ: large, and growing as the KL shrinks.
"""

from __future__ import annotations

import math

import keras
from keras import ops

PARAMETERISATIONS = ("uncertainty", "softmax")
#: Regularisers per parameterisation; the first is the default.
REGULARIZERS = {"uncertainty": ("log_ratio", "none"), "softmax": ("log_barrier", "squared_difference")}
#: Default λ per parameterisation (uncertainty: β within [e^−2.5, e^2.5] ≈ [0.08, 12]).
DEFAULT_REGULARIZER_WEIGHT = {"uncertainty": 0.2, "softmax": 1.0}


@keras.saving.register_keras_serializable(package="dynvae_keras")
class LearnableLossWeights(keras.layers.Layer):
  """Combines a reconstruction loss and a KL with two trainable weights (see module docstring).

  Args:
    parameterisation: 'uncertainty' (default) or 'softmax'.
    regularizer: 'uncertainty': 'log_ratio' (default) or 'none'; 'softmax': 'log_barrier'
      (default) or 'squared_difference'.
    regularizer_weight: λ; default 0.2 for 'uncertainty' (β bounded by e^±2.5), 1 for 'softmax'.
    initial_beta: initial effective β (weights initialised accordingly; 1 = equal weights).

  Call `combine(reconstruction_loss, kl_loss)` → (loss, logs) with logs `beta` (effective β),
  `weight_reconstruction`, `weight_kl` and `weights_regularizer`.
  """

  def __init__(self, parameterisation="uncertainty", regularizer=None, regularizer_weight=None,
               initial_beta=1.0, **kwargs):
    super().__init__(**kwargs)
    if parameterisation not in PARAMETERISATIONS:
      raise ValueError(f"parameterisation must be one of {PARAMETERISATIONS}; got '{parameterisation}'.")
    choices = REGULARIZERS[parameterisation]
    regularizer = choices[0] if regularizer is None else regularizer
    if regularizer not in choices:
      raise ValueError(f"regularizer for the '{parameterisation}' parameterisation must be one of "
                       f"{choices}; got '{regularizer}'.")
    if regularizer_weight is None:
      regularizer_weight = DEFAULT_REGULARIZER_WEIGHT[parameterisation]
    if float(regularizer_weight) < 0 or float(initial_beta) <= 0:
      raise ValueError("regularizer_weight must be >= 0 and initial_beta > 0.")
    self.parameterisation, self.regularizer = parameterisation, regularizer
    self.regularizer_weight, self.initial_beta = float(regularizer_weight), float(initial_beta)
    if regularizer == "log_ratio" and abs(math.log(self.initial_beta)) * 2 * self.regularizer_weight >= 1:
      raise ValueError(f"initial_beta {initial_beta} lies outside the β range "
                       f"exp(±1/(2λ)) that λ = {self.regularizer_weight} allows.")
    # uncertainty: β = exp(s_R − s_K) → s_K = −log β; softmax: β = exp(a_K − a_R) → a_K = log β.
    log_beta = math.log(self.initial_beta)
    init = [0.0, -log_beta] if parameterisation == "uncertainty" else [0.0, log_beta]
    self.logits = self.add_weight(name="logits", shape=(2,), trainable=True,
                                  initializer=keras.initializers.Constant(init))

  def combine(self, reconstruction_loss, kl_loss):
    logits = ops.cast(ops.convert_to_tensor(self.logits), "float32")
    if self.parameterisation == "uncertainty":
      weights = ops.exp(-logits)
      regularizer = ops.sum(logits)
      if self.regularizer == "log_ratio":
        regularizer = regularizer + self.regularizer_weight * ops.square(logits[0] - logits[1])
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
