"""β control: set-point schedules, feedback filters, PI controllers, learnable loss weights.

`control/` knows nothing of models: a controller maps a KL to a weight.
"""

from dynvae_keras.control.callbacks import BetaControllerCallback, ControllerTensorBoard
from dynvae_keras.control.controllers import Controller, IncrementalPIController, PIController
from dynvae_keras.control.loss_weights import LearnableLossWeights
from dynvae_keras.control.moving_average import MovingAverage
from dynvae_keras.control.setpoints import (ConstantSetPoint, HybridAnnealingSetPoint, LinearSetPoint,
                                            SetPoint, StaircaseSetPoint)

__all__ = ["BetaControllerCallback", "ConstantSetPoint", "Controller", "ControllerTensorBoard",
           "HybridAnnealingSetPoint", "IncrementalPIController", "LearnableLossWeights",
           "LinearSetPoint", "MovingAverage", "PIController", "SetPoint", "StaircaseSetPoint"]
