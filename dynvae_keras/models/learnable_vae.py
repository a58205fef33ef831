"""L-VAE: the reconstruction and KL weights are learned with the network (see `LearnableLossWeights`).

The paper's exact equations are not public as code; this implements the readings documented
in :mod:`dynvae_keras.control.loss_weights` (default: uncertainty weighting with the anti-bias
regulariser λ·(log β)², which bounds β; softmax weights with a log barrier for comparison).
"""

from __future__ import annotations

import keras

from dynvae_keras.control.loss_weights import LearnableLossWeights
from dynvae_keras.models.vae import VAE

WEIGHTS_VARIABLE_PATTERN = r"(.*/)?loss_weights/.*"


@keras.saving.register_keras_serializable(package="dynvae_keras")
class LVAE(VAE):
  """VAE whose loss is `LearnableLossWeights.combine(reconstruction, KL)`.

  Args:
    parameterisation, regularizer, regularizer_weight, initial_beta: see `LearnableLossWeights`.
    weights_learning_rate: learning rate of the two weights' own Adam (routed by `compile`
      through a `keras.optimizers.MultiOptimizer`), default 1e-2: at the network's learning rate
      they barely move in a few thousand steps. None: the main optimizer trains them.
  """

  tracked_terms = VAE.tracked_terms
  state_terms = ("beta", "weight_reconstruction", "weight_kl", "weights_regularizer")
  extra_optimizer_args = ("weights_optimizer",)

  def __init__(self, parameterisation="uncertainty", regularizer=None, regularizer_weight=None,
               initial_beta=1.0, weights_learning_rate=1e-2, **kwargs):
    super().__init__(**kwargs)
    self.loss_weights = LearnableLossWeights(parameterisation, regularizer, regularizer_weight,
                                             initial_beta, name="loss_weights")
    self.weights_learning_rate = None if weights_learning_rate is None else float(weights_learning_rate)

  def optimizer_routes(self, weights_optimizer=None):
    if weights_optimizer is None and self.weights_learning_rate is None:
      return {}
    optimizer = keras.optimizers.get(weights_optimizer or keras.optimizers.Adam(
        self.weights_learning_rate, name="loss_weights_adam"))
    return {WEIGHTS_VARIABLE_PATTERN: optimizer}

  def get_config(self):
    weights = self.loss_weights
    return {**super().get_config(), "parameterisation": weights.parameterisation,
            "regularizer": weights.regularizer, "regularizer_weight": weights.regularizer_weight,
            "initial_beta": weights.initial_beta, "weights_learning_rate": self.weights_learning_rate}

  def regularizer(self, kl_loss, z_mean, z_logvar, z_sampled, training):
    return kl_loss, {}

  def combine(self, terms):
    loss, logs = self.loss_weights.combine(terms["reconstruction_loss"], terms["kl_loss"])
    terms.update(logs)
    return loss
