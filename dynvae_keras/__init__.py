"""dynvae-keras: controlled-β VAEs on Keras 3, scored exactly as disentanglement_lib does."""

__version__ = "0.1.0"
