"""Per-call cost of `model.fit` around our fused loop, against the same loop called directly.

Once the math of a step is cheap (GPU, bfloat16), what `fit` does between two compiled calls
of `steps_per_execution` steps (reading the stream, callbacks, logs) decides whether the device
waits. This times, with a model so small that the host's work dominates (DynamicVAE on `--image`²
binary images, one dense layer of 8 units each way, batch `--batch_size`):

* ``direct`` (the anchor): the compiled loop `fit` runs (`_jax_scan_steps`) called from a loop
  written here on `--fuse` batches drawn from a `DeviceBatches` stream, as `fit` draws them;
* ``fit, shuffle=False``: `model.fit(DeviceBatches(...), steps_per_execution=--fuse)`;
* ``fit, defaults``: the same with Keras' default `shuffle=True`, as a user would first write it;
* ``fit+keras TB`` / ``fit+our TB`` (when TensorFlow is installed): `shuffle=False` with Keras'
  `TensorBoard(update_freq="epoch")`, which works on every batch, or with the driver's
  `IntervalTensorBoard`, which writes only at epoch ends (what `dynvae train` uses).

One `fit` per timed run, so its per-`fit` set-up is spread over the run's calls.

Prints milliseconds per call (median of `--repeats` runs of `--calls` calls, after a warm-up)
and the ratio to the anchor. JAX backend, any device.

Usage: KERAS_BACKEND=jax python bench/fit_overhead.py [--fuse 100] [--calls 40]
"""

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_throughput  # pylint: disable=g-import-not-at-top,wrong-import-position


def tiny_architectures():
  """Registers a dense-8 encoder and a dense decoder (names `bench_tiny_*`); returns the names."""
  import keras  # pylint: disable=g-import-not-at-top
  from keras import layers  # pylint: disable=g-import-not-at-top
  from dynvae_keras.models import architectures  # pylint: disable=g-import-not-at-top

  def encoder(input_shape, num_latent, name="encoder"):
    images = keras.Input(shape=tuple(input_shape))
    h = layers.Dense(8, activation="relu")(layers.Flatten()(images))
    return architectures._gaussian_encoder_model(images, h, num_latent, name)  # pylint: disable=protected-access

  def decoder(num_latent, output_shape, name="decoder"):
    latents = keras.Input(shape=(num_latent,))
    logits = layers.Reshape(tuple(output_shape))(layers.Dense(int(np.prod(output_shape)))(latents))
    return keras.Model(latents, logits, name=name)

  architectures.ARCHITECTURES["bench_tiny_encoder"] = encoder
  architectures.ARCHITECTURES["bench_tiny_decoder"] = decoder
  return "bench_tiny_encoder", "bench_tiny_decoder"


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--fuse", type=int, default=100, help="steps per compiled call")
  parser.add_argument("--calls", type=int, default=40, help="calls per timed run")
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--image", type=int, default=8, help="image side")
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args(argv)

  import jax  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  if keras.backend.backend() != "jax":
    raise SystemExit("Run with KERAS_BACKEND=jax.")
  from dynvae_keras.data.device_batches import DeviceBatches  # pylint: disable=g-import-not-at-top
  from dynvae_keras.models import DynamicVAE  # pylint: disable=g-import-not-at-top
  encoder_fn, decoder_fn = tiny_architectures()
  pool = ((np.random.RandomState(0).rand(1024, args.image, args.image, 1) > 0.5) * 255).astype(np.uint8)
  device_pool = jax.device_put(pool)
  fuse, calls = args.fuse, args.calls
  print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}); jax {jax.__version__}, "
        f"keras {keras.__version__}; {fuse} steps per call, {calls} calls per run, batch "
        f"{args.batch_size} of {args.image}x{args.image}; {time.strftime('%Y-%m-%d')}")

  def make_model():
    keras.utils.set_random_seed(0)
    model = DynamicVAE(num_latent=2, encoder_fn=encoder_fn, decoder_fn=decoder_fn, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=fuse)
    return model

  def stream(num_batches):
    return DeviceBatches(device_pool, args.batch_size, num_batches, chunk=fuse)

  def direct_run():
    loop = train_throughput.fused_loop_runner(
        make_model(), stream(fuse * calls * (args.repeats + 1)), fuse)

    def run():
      start = time.perf_counter()
      loop(calls)  # returns the last loss: waits for the device
      return (time.perf_counter() - start) / calls
    return run

  def fit_run(**fit_kwargs):
    model = make_model()

    def run():
      batches = stream(fuse * calls)
      start = time.perf_counter()
      model.fit(batches, epochs=1, verbose=0, **fit_kwargs)
      return (time.perf_counter() - start) / calls
    return run

  rows = [("direct (anchor)", direct_run()), ("fit, shuffle=False", fit_run(shuffle=False)),
          ("fit, defaults", fit_run())]
  if importlib.util.find_spec("tensorflow") is not None:
    from dynvae_keras.pipeline.callbacks import IntervalTensorBoard  # pylint: disable=g-import-not-at-top
    log_dir = tempfile.mkdtemp(prefix="fit_overhead_tb")
    rows += [("fit+keras TB", fit_run(shuffle=False, callbacks=[keras.callbacks.TensorBoard(
                 os.path.join(log_dir, "keras"), update_freq="epoch", write_graph=False)])),
             ("fit+our TB", fit_run(shuffle=False, callbacks=[
                 IntervalTensorBoard(os.path.join(log_dir, "ours"))]))]
  results = {}
  for name, run in rows:
    run()  # compile + warm-up
    results[name] = statistics.median(run() for _ in range(args.repeats))
  anchor = results["direct (anchor)"]
  print(f"{'':>20} | {'ms per call':>11} | {'/direct':>7}")
  for name, seconds in results.items():
    print(f"{name:>20} | {seconds * 1e3:>11.2f} | {seconds / anchor:>7.2f}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
