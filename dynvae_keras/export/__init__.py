"""From trained models to representation functions and TF SavedModels with dlib's signatures.

Evaluation reads models only through this package. TensorFlow is imported only by the
SavedModel functions, when called.
"""

from dynvae_keras.export.representation import representation_function_from_model
from dynvae_keras.export.saved_model import (export_model_dir, export_tfhub,
                                             load_representation_function)

__all__ = ["export_model_dir", "export_tfhub", "load_representation_function",
           "representation_function_from_model"]
