"""VAE models for Keras 3 (any backend), with dlib's architectures, losses and gin names."""

from dynvae_keras.models import architectures, losses
from dynvae_keras.models.annealed_vae import AnnealedVAE
from dynvae_keras.models.beta_tc_vae import BetaTCVAE
from dynvae_keras.models.beta_vae import BetaVAE, ControlVAE, DynamicVAE
from dynvae_keras.models.dip_vae import DIPVAE
from dynvae_keras.models.factor_vae import FactorVAE
from dynvae_keras.models.factories import (annealed_vae, beta_tc_vae, compile_model, dip_vae,
                                           factor_vae, vae)
from dynvae_keras.models.learnable_vae import LVAE
from dynvae_keras.models.sigma_vae import SigmaVAE
from dynvae_keras.models.vae import VAE

__all__ = ["AnnealedVAE", "BetaTCVAE", "BetaVAE", "ControlVAE", "DIPVAE", "DynamicVAE", "FactorVAE",
           "LVAE", "SigmaVAE", "VAE", "annealed_vae", "architectures", "beta_tc_vae",
           "compile_model", "dip_vae", "factor_vae", "losses", "vae"]
