"""Ground-truth data sets with disentanglement_lib's protocol and names.

`get_named_ground_truth_data(name)` builds dlib's data sets; `ArrayGroundTruthData` wraps
a user's labelled arrays; `training_input` streams batches for `model.fit`.
"""

from dynvae_keras.data.array_data import ArrayGroundTruthData
from dynvae_keras.data.dsprites import (ColorDSprites, DSprites, NoisyDSprites, ScreamDSprites,
                                        write_procedural_npz)
from dynvae_keras.data.dummy import DummyData
from dynvae_keras.data.file_datasets import MPI3D, Cars3D, Shapes3D, SmallNORB
from dynvae_keras.data.files import (DATA_ROOT_ENV, DatasetFormatError, DatasetNotFoundError,
                                     UnknownDatasetError)
from dynvae_keras.data.ground_truth_data import GroundTruthData
from dynvae_keras.data.image_folders import CelebA, Falcor3D, Isaac3D
from dynvae_keras.data.input_pipeline import (ObservationBatches, make_tf_dataset, sample_batch,
                                              training_input)
from dynvae_keras.data.named_data import DATASET_NAMES, get_named_ground_truth_data
from dynvae_keras.data.rectangles import Rectangles
from dynvae_keras.data.state_space import SplitDiscreteStateSpace, StateSpaceAtomIndex

__all__ = [
    "ArrayGroundTruthData", "Cars3D", "CelebA", "ColorDSprites", "DATASET_NAMES", "DATA_ROOT_ENV",
    "DSprites", "DatasetFormatError", "DatasetNotFoundError", "DummyData", "Falcor3D",
    "GroundTruthData", "Isaac3D", "MPI3D", "NoisyDSprites", "ObservationBatches", "Rectangles", "ScreamDSprites", "Shapes3D", "SmallNORB",
    "SplitDiscreteStateSpace", "StateSpaceAtomIndex", "get_named_ground_truth_data",
    "UnknownDatasetError", "make_tf_dataset", "sample_batch", "training_input",
    "write_procedural_npz",
]
