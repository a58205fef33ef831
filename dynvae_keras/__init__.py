"""dynvae-keras: controlled-β VAEs on Keras 3, scored exactly as disentanglement_lib does."""

from dynvae_keras import cpu_runtime as _cpu_runtime

_cpu_runtime.prefer_onednn()  # before anything imports TensorFlow (see dynvae_keras.cpu_runtime)

__version__ = "0.1.0"
