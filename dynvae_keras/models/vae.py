"""`VAE`: the base of every model, trained with plain `model.fit` on any backend.

Subclasses override one hook, as in dlib and disent:

* `regularizer(kl_loss, z_mean, z_logvar, z_sampled, training)` → (regularizer, extra terms);
  the loss is `reconstruction_loss + regularizer`;
* optionally `reconstruction(images, logits)`, `combine(terms)`, and
  `loss_key_for(variable)` for parameters trained on another loss.

Conventions: images float32 NHWC in [0, 1]; the reconstruction loss is summed over pixels and
averaged over the batch; the KL is summed over latent dimensions and averaged over the batch.
`step` counts training steps taken (dlib's global step: 0 during the first step).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from dynvae_keras.models import architectures, losses, precision
from dynvae_keras.models.trainer import MultiLossTrainer


@keras.saving.register_keras_serializable(package="dynvae_keras")
class VAE(MultiLossTrainer, keras.Model):
  """VAE with a diagonal-Gaussian encoder, sampled with z = mean + exp(logvar / 2)·ε.

  Args:
    num_latent: latent dimensions (dlib `encoder.num_latent`).
    encoder_fn: architecture name or builder (dlib `encoder.encoder_fn`).
    decoder_fn: architecture name or builder (dlib `decoder.decoder_fn`).
    reconstruction_loss: 'bernoulli_loss' (default), 'l2_loss' or 'gaussian_loss'
      (dlib `reconstruction_loss.loss_fn`).
    activation: decoder output activation, 'logits' (default) or 'tanh'.
    seed: seed of the sampling noise (its state is saved with the model).

  Calling the model on images returns a dict with `z_mean`, `z_logvar`, `z_sampled` and
  `reconstructions` (decoder logits of the sampled code).

  Example:
    >>> model = BetaVAE(beta=4.0)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-4))
    >>> model.fit(batches, epochs=1, steps_per_epoch=100)
  """

  tracked_terms = ("loss", "reconstruction_loss", "kl_loss", "elbo", "regularizer")
  #: dlib global steps one training iteration counts for (2 where dlib's step advances once per
  #: optimizer, as FactorVAE's); `model.training_steps` is in these steps.
  global_steps_per_iteration = 1

  def __init__(self, num_latent=10, encoder_fn="conv_encoder", decoder_fn="deconv_decoder",
               reconstruction_loss="bernoulli_loss", activation="logits", seed=0, **kwargs):
    super().__init__(**kwargs)
    if int(num_latent) < 1:
      raise ValueError(f"num_latent must be >= 1; got {num_latent}.")
    if activation not in ("logits", "tanh"):
      raise ValueError(f"activation must be 'logits' or 'tanh'; got '{activation}'.")
    self.num_latent = int(num_latent)
    self.encoder_fn = architectures.architecture_name(encoder_fn)
    self.decoder_fn = architectures.architecture_name(decoder_fn)
    if reconstruction_loss is None and type(self).reconstruction is VAE.reconstruction:
      raise ValueError(f"{type(self).__name__} needs a reconstruction_loss "
                       f"({sorted(losses.RECONSTRUCTION_LOSSES)}).")
    # None: the model defines its own reconstruction term (σ-VAE).
    self.reconstruction_loss = None if reconstruction_loss is None else losses.loss_name(reconstruction_loss)
    self.activation = activation
    self.seed = int(seed)
    self.seed_generator = keras.random.SeedGenerator(self.seed, name="sampling_seed")
    self.step = self.add_weight(name="step", shape=(), dtype="int32", initializer="zeros",
                                trainable=False)
    self._create_trackers()

  # Construction --------------------------------------------------------------------
  def build(self, input_shape):
    image_shape = tuple(int(d) for d in input_shape[1:])
    if len(image_shape) != 3:
      raise ValueError(f"VAE expects NHWC images; got input shape {input_shape}.")
    self.image_shape = image_shape
    with precision.dtype_policy_scope(self.dtype_policy):  # the networks take the model's policy
      self.encoder = architectures.ARCHITECTURES[self.encoder_fn](image_shape, self.num_latent)
      self.decoder = architectures.ARCHITECTURES[self.decoder_fn](self.num_latent, image_shape)
      self.build_extra(image_shape)
    self.built = True

  def build_extra(self, image_shape):
    """Hook: create model-specific sub-models (e.g. a discriminator)."""

  # Optimizers -----------------------------------------------------------------------
  #: Extra keyword arguments of `compile` naming optimizers for groups of variables.
  extra_optimizer_args: tuple = ()

  def optimizer_routes(self, **extra_optimizers):
    """Hook: {variable-path regex: optimizer} for variables not trained by the main optimizer."""
    del extra_optimizers
    return {}

  def compile(self, optimizer="adam", **kwargs):
    """`keras.Model.compile`; models with `optimizer_routes` get a `keras.optimizers.MultiOptimizer`."""
    extra = {k: kwargs.pop(k) for k in self.extra_optimizer_args if k in kwargs}
    optimizer = keras.optimizers.get(optimizer)
    if not isinstance(optimizer, keras.optimizers.MultiOptimizer):
      routes = self.optimizer_routes(**extra)
      if routes:
        optimizer = keras.optimizers.MultiOptimizer(keras.optimizers.OptimizerMap(optimizer, routes))
    super().compile(optimizer=optimizer, **kwargs)

  def compile_from_config(self, config):
    self.compile(**keras.saving.deserialize_keras_object(config))
    if self.built:
      self.optimizer.build(self.trainable_variables)

  def get_config(self):
    config = super().get_config()
    config.update(num_latent=self.num_latent, encoder_fn=self.encoder_fn,
                  decoder_fn=self.decoder_fn, reconstruction_loss=self.reconstruction_loss,
                  activation=self.activation, seed=self.seed)
    return config

  def _seed_generators_in_order(self):
    """The model's own `keras.random.SeedGenerator`s, in the order they were created."""
    return [value for value in vars(self).values() if isinstance(value, keras.random.SeedGenerator)]

  # Keras saves a layer's own variables but not its seed generators' states; saving them after
  # the variables (keys "n", "n+1", ...) makes a reloaded model draw the same sampling noise as
  # the original would have (exact resume).
  def save_own_variables(self, store):
    super().save_own_variables(store)
    first = len(store.keys())
    for i, generator in enumerate(self._seed_generators_in_order()):
      store[f"{first + i}"] = generator.state

  def load_own_variables(self, store):
    generators = self._seed_generators_in_order()
    own = len(store.keys()) - len(generators)
    if own < 0:
      raise ValueError(
          f"{type(self).__name__} '{self.name}' expects its variables and {len(generators)} seed "
          f"states but the file holds {len(store.keys())} entries; it was saved by a different "
          "model or version.")
    super().load_own_variables({f"{i}": store[f"{i}"] for i in range(own)})
    for i, generator in enumerate(generators):
      generator.state.assign(store[f"{own + i}"])

  # Output bias ---------------------------------------------------------------------
  @property
  def squared_error_decoder(self):
    """Whether the reconstruction term is a squared error on sigmoid(logits) (`l2_loss`,
    `gaussian_loss`, σ-VAE): such decoders start from the data's mean pixel (see
    `initialize_output_bias`)."""
    return self.reconstruction_loss in losses.SQUARED_ERROR_LOSSES

  def initialize_output_bias(self, mean_pixel):
    """Sets the decoder's output bias to the logit of the data's mean pixel value, per channel.

    A squared error through a sigmoid learns nothing once the logits saturate. Started at
    sigmoid(0) = 0.5 on sparse images (dSprites: mean pixel 0.042), a Gaussian decoder is
    pushed towards black within tens of Adam steps, every logit goes far below zero, the
    gradient through the sigmoid vanishes and the KL collapses. Starting at the mean pixel
    makes the initial decoder the best constant image, from which the gradient stays alive.
    The training driver calls this on a fresh squared-error model with the mean over
    `OUTPUT_BIAS_SAMPLES` training images; a Bernoulli decoder (dlib's) is left as dlib builds it.

    Args:
      mean_pixel: the mean pixel value per channel, (C,) in (0, 1) (or a scalar).
    """
    if not self.built:
      raise ValueError("initialize_output_bias needs a built model: call model.build(shape) first.")
    if self.activation != "logits":
      raise ValueError("initialize_output_bias applies to sigmoid ('logits') decoders only.")
    mean = np.clip(np.asarray(mean_pixel, dtype=np.float64).reshape(-1), 1e-4, 1 - 1e-4)
    output = [layer for layer in self.decoder.layers if getattr(layer, "bias", None) is not None][-1]
    channels = int(self.image_shape[-1])
    if mean.size not in (1, channels):
      raise ValueError(f"mean_pixel must have 1 or {channels} values; got {mean.size}.")
    logit = np.log(mean) - np.log1p(-mean)
    bias_shape = tuple(output.bias.shape)
    # deconv: one bias per channel; fc: one per output unit, channels fastest (H, W, C order).
    output.bias.assign(np.resize(np.broadcast_to(logit, (channels,)), bias_shape).astype("float32"))

  # Forward -------------------------------------------------------------------------
  def encode(self, images, training=False):
    """(z_mean, z_logvar) for images (B, H, W, C) in [0, 1]."""
    z_mean, z_logvar = self.encoder(images, training=training)
    return z_mean, z_logvar

  def sample_latent(self, z_mean, z_logvar):
    """z = mean + exp(logvar / 2)·ε with ε ~ N(0, I) from the model's seed generator."""
    eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator, dtype=z_mean.dtype)
    return z_mean + ops.exp(z_logvar / 2) * eps

  def decode(self, z, training=False):
    """Decoder logits (B, H, W, C) for latents (B, num_latent)."""
    return self.decoder(z, training=training)

  def call(self, images, training=False):
    z_mean, z_logvar = self.encode(images, training=training)
    z_sampled = self.sample_latent(z_mean, z_logvar)
    return {"z_mean": z_mean, "z_logvar": z_logvar, "z_sampled": z_sampled,
            "reconstructions": self.decode(z_sampled, training=training)}

  # Loss ----------------------------------------------------------------------------
  def reconstruction(self, images, logits):
    """Hook: (reconstruction loss per example (B,) summed over pixels, dict of extra logged terms)."""
    return losses.RECONSTRUCTION_LOSSES[self.reconstruction_loss](images, logits, self.activation), {}

  def regularizer(self, kl_loss, z_mean, z_logvar, z_sampled, training):
    """Hook: returns (regularizer, dict of extra logged terms). Plain VAE: the KL."""
    del z_mean, z_logvar, z_sampled, training
    return kl_loss, {}

  def combine(self, terms):
    """Hook: the minimised loss from the terms. Default: reconstruction + regularizer."""
    return terms["reconstruction_loss"] + terms["regularizer"]

  def compute_loss_terms(self, images, training=False):
    """All loss terms of one batch as float32 scalars; advances `step` when training."""
    # The targets stay float32 (under mixed_bfloat16 only the networks' input is rounded).
    targets = ops.cast(images, "float32")
    out = self(ops.cast(images, self.compute_dtype), training=training)
    # Losses in float32 whatever the compute dtype (mixed precision): sums over 4096 pixels.
    per_example, recon_extra = self.reconstruction(targets, ops.cast(out["reconstructions"], "float32"))
    recon = ops.mean(ops.cast(per_example, "float32"))
    z_mean, z_logvar, z_sampled = (ops.cast(out[k], "float32") for k in ("z_mean", "z_logvar", "z_sampled"))
    kl = ops.mean(losses.gaussian_kl(z_mean, z_logvar))
    reg, extra = self.regularizer(kl, z_mean, z_logvar, z_sampled, training)
    # dlib's sign: `elbo` is the evidence lower bound −(reconstruction + KL), a negative number.
    terms = {"reconstruction_loss": recon, "kl_loss": kl, "elbo": -(recon + kl), "regularizer": reg,
             **recon_extra, **extra}
    terms["loss"] = self.combine(terms)
    if training:
      self.step.assign(self.step + 1)
    return terms

  def loss_key_for(self, variable):
    """Which term a trainable variable descends; all of them minimise 'loss' by default."""
    del variable
    return "loss"

  def training_step_index(self):
    """The current step as float32: 0 during the first training step (dlib's global step)."""
    return ops.cast(ops.convert_to_tensor(self.step), "float32")
