"""From trained models to representation functions (and, with the pipeline issue, TF SavedModels).

Evaluation reads models only through this package.
"""

from dynvae_keras.export.representation import representation_function_from_model

__all__ = ["representation_function_from_model"]
