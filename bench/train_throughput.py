"""Training throughput of our `model.fit` against a hand-written JAX reference, same run.

For each cell (batch 64 / 256 × float32 / mixed bfloat16) this trains the dlib conv VAE
(`conv_encoder` + `deconv_decoder`, Bernoulli loss, Adam 1e-4) three ways on the same
device-resident pool of procedural dSprites:

* ``reference``: plain JAX written in this file — `lax.conv_general_dilated`/`conv_transpose`,
  a hand-written Adam, `jax.lax.scan` over `--fuse` steps per call, batches gathered on the
  device inside the scan, constant β = 4;
* ``ours+dynamic``: `DynamicVAE` (incremental PI controller in the step) through plain
  `model.fit(DeviceBatches(...))` compiled with `steps_per_execution=--fuse`;
* ``ours+beta``: `BetaVAE(beta=4)` the same way (controller overhead = 1 − dynamic/beta).

``step-only`` is our BetaVAE `train_step` scanned by a loop written here (isolates the step's math
from `fit` and the input stream); ``fused+dyn`` / ``fused+beta`` call the models' fused loop (the
compiled function `fit` runs, batches from `DeviceBatches`) from a loop written here (isolates
`fit`'s own per-call work). It prints steps/s and images/s of each and the ratio ours/reference; then the
representation-function encoding rate (images/s) and, with `--tf_cpu`, our TF-backend `fit`
on the host CPU from the tf.data pipeline. Every number is the median of `--repeats` timed
windows after a compile/warm-up window.

Usage (GPU): KERAS_BACKEND=jax python bench/train_throughput.py
Usage (CPU smoke run): KERAS_BACKEND=jax python bench/train_throughput.py --quick
TF on CPU: KERAS_BACKEND=tensorflow python bench/train_throughput.py --tf_cpu
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LEARNING_RATE = 1e-4


# --- the plain-JAX reference -----------------------------------------------------------------
def reference_init(rng, channels, num_latent):
  """Glorot-uniform kernels and zero biases, shapes as dlib's conv VAE (HWIO kernels)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  shapes = {
      "e1": (4, 4, channels, 32), "e2": (4, 4, 32, 32), "e3": (2, 2, 32, 64), "e4": (2, 2, 64, 64),
      "e5": (1024, 256), "means": (256, num_latent), "log_var": (256, num_latent),
      "d1": (num_latent, 256), "d2": (256, 1024),
      # conv_transpose kernels (H, W, in, out) with transpose_kernel=True semantics.
      "d3": (4, 4, 64, 64), "d4": (4, 4, 32, 64), "d5": (4, 4, 32, 32), "d6": (4, 4, channels, 32),
  }
  params = {}
  for name, shape in shapes.items():
    rng, key = jax.random.split(rng)
    fan_in = int(np.prod(shape[:-1])) if len(shape) == 4 else shape[0]
    fan_out = int(np.prod(shape[:-2])) * shape[-1] if len(shape) == 4 else shape[1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    bias = shape[-2] if name in ("d3", "d4", "d5", "d6") else shape[-1]
    params[name] = (jax.random.uniform(key, shape, jnp.float32, -limit, limit),
                    jnp.zeros((bias,), jnp.float32))
  return params


def reference_loss(params, images, eps, beta, compute_dtype):
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  p = jax.tree.map(lambda a: a.astype(compute_dtype), params)
  dn = ("NHWC", "HWIO", "NHWC")
  h = images.astype(compute_dtype)
  for name in ("e1", "e2", "e3", "e4"):
    w, b = p[name]
    h = jax.nn.relu(jax.lax.conv_general_dilated(h, w, (2, 2), "SAME", dimension_numbers=dn) + b)
  h = h.reshape(h.shape[0], -1)
  h = jax.nn.relu(h @ p["e5"][0] + p["e5"][1])
  mean = (h @ p["means"][0] + p["means"][1]).astype(jnp.float32)
  logvar = (h @ p["log_var"][0] + p["log_var"][1]).astype(jnp.float32)
  z = (mean + jnp.exp(logvar / 2) * eps).astype(compute_dtype)
  h = jax.nn.relu(z @ p["d1"][0] + p["d1"][1])
  h = jax.nn.relu(h @ p["d2"][0] + p["d2"][1]).reshape(-1, 4, 4, 64)
  for name in ("d3", "d4", "d5", "d6"):
    w, b = p[name]
    h = jax.lax.conv_transpose(h, w, (2, 2), "SAME", dimension_numbers=dn, transpose_kernel=True) + b
    if name != "d6":
      h = jax.nn.relu(h)
  logits = h.astype(jnp.float32)
  x = images.astype(jnp.float32)
  recon = jnp.sum(jnp.maximum(logits, 0) - logits * x + jnp.log1p(jnp.exp(-jnp.abs(logits))),
                  axis=(1, 2, 3))
  kl = 0.5 * jnp.sum(jnp.square(mean) + jnp.exp(logvar) - logvar - 1, axis=1)
  return jnp.mean(recon) + beta * jnp.mean(kl)


def reference_scan(pool, batch_size, fuse, compute_dtype, seed=0):
  """(fused, state): `fused(state)` runs `fuse` reference steps in one `lax.scan` (not jitted)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  pool = jax.device_put(pool)
  params = reference_init(jax.random.PRNGKey(seed), pool.shape[-1], 10)
  zeros = jax.tree.map(jnp.zeros_like, params)
  state = (params, zeros, jax.tree.map(jnp.zeros_like, params), jnp.zeros((), jnp.int32),
           jax.random.PRNGKey(seed + 1))
  grad_fn = jax.value_and_grad(reference_loss)

  def step(state, _):
    params, m, v, t, key = state
    key, k_idx, k_eps = jax.random.split(key, 3)
    idx = jax.random.randint(k_idx, (batch_size,), 0, pool.shape[0])
    images = jnp.take(pool, idx, axis=0).astype(jnp.float32) / 255.0
    eps = jax.random.normal(k_eps, (batch_size, 10), jnp.float32)
    loss, grads = grad_fn(params, images, eps, 4.0, compute_dtype)
    t = t + 1
    m = jax.tree.map(lambda a, g: 0.9 * a + 0.1 * g, m, grads)
    v = jax.tree.map(lambda a, g: 0.999 * a + 0.001 * g * g, v, grads)
    tf = t.astype(jnp.float32)
    scale = LEARNING_RATE * jnp.sqrt(1 - 0.999 ** tf) / (1 - 0.9 ** tf)
    params = jax.tree.map(lambda p, a, b: p - scale * a / (jnp.sqrt(b) + 1e-7), params, m, v)
    return (params, m, v, t, key), loss

  return (lambda carry: jax.lax.scan(step, carry, None, length=fuse)), state


def make_reference_runner(pool, batch_size, fuse, compute_dtype, seed=0):
  """Returns run(num_calls) → blocks until done, returns the last loss."""
  import jax  # pylint: disable=g-import-not-at-top
  fused, state = reference_scan(pool, batch_size, fuse, compute_dtype, seed)
  return scan_runner(jax.jit(fused), state)


def scan_runner(fused, state):
  """run(num_calls): calls `fused(carry) → (carry, per-step losses)` that many times, waits for
  the device, returns the last loss."""
  holder = [state]

  def run(num_calls):
    for _ in range(num_calls):
      holder[0], losses = fused(holder[0])
    losses.block_until_ready()
    return float(losses[-1])

  return run


# --- ours --------------------------------------------------------------------------------------
def epoch_clock():
  """A Keras callback recording `time.perf_counter()` at each epoch end, after reading the
  epoch's loss (which waits for the device to finish the epoch); `.losses` is the last loss."""
  import keras  # pylint: disable=g-import-not-at-top

  class EpochClock(keras.callbacks.Callback):
    def __init__(self):
      super().__init__()
      self.times = []
      self.losses = None

    def on_epoch_end(self, epoch, logs=None):
      self.losses = float(logs["loss"])
      self.times.append(time.perf_counter())

  return EpochClock()


def make_ours_runner(pool, batch_size, fuse, policy, controlled, seed=0):
  """Returns (run(num_calls, windows) → steps/s of each window after the first, model).

  One `model.fit` call with `windows` epochs of `num_calls * fuse` steps; the time of each
  epoch is read at its end after forcing the logs (a sync), so per-epoch overhead of `fit`
  (iterator reset, callbacks) is included, and compilation falls in the first epoch.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data.device_batches import DeviceBatches  # pylint: disable=g-import-not-at-top
  from dynvae_keras.models import BetaVAE, DynamicVAE  # pylint: disable=g-import-not-at-top
  keras.mixed_precision.set_dtype_policy(policy)
  keras.utils.set_random_seed(seed)
  model = DynamicVAE(seed=seed) if controlled else BetaVAE(beta=4.0, seed=seed)
  model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), steps_per_execution=fuse)
  batch_dtype = "bfloat16" if policy == "mixed_bfloat16" else "float32"
  device_pool = jax.device_put(pool)

  def run(num_calls, windows):
    steps = num_calls * fuse
    clock = epoch_clock()
    batches = DeviceBatches(device_pool, batch_size, steps, seed=seed, dtype=batch_dtype)
    start = time.perf_counter()
    model.fit(batches, epochs=windows, verbose=0, shuffle=False, callbacks=[clock])
    if not np.isfinite(clock.losses):
      raise RuntimeError(f"non-finite loss {clock.losses} while benchmarking")
    times = [start] + clock.times
    return [steps / (t1 - t0) for t0, t1 in zip(times[:-1], times[1:])]

  return run, model


def jax_training_state(model, image_shape):
  """Builds a compiled `model` and its optimizer for `image_shape` images; returns the state
  tuple (trainable, non-trainable, optimizer, metrics variables) of Keras' JAX trainer."""
  model.build((None,) + tuple(image_shape))
  model.optimizer.build(model.trainable_variables)
  return tuple(model._get_jax_state(trainable_variables=True, non_trainable_variables=True,  # pylint: disable=protected-access
                                    optimizer_variables=True, metrics_variables=True))


def fused_loop_runner(model, stream, fuse):
  """run(num_calls) → last loss: the compiled loop `fit` runs for `steps_per_execution = fuse`
  (`_jax_scan_steps`), called from a loop written here on consecutive groups of `fuse` batches
  of the `DeviceBatches` `stream`, as `fit` reads them; waits for the device."""
  import jax  # pylint: disable=g-import-not-at-top
  holder = [jax_training_state(model, stream.pool.shape[1:])]
  fused = jax.jit(model._jax_scan_steps, donate_argnums=0)  # pylint: disable=protected-access
  position = [0]

  def run(num_calls):
    for _ in range(num_calls):
      batches = [stream[position[0] + j] for j in range(fuse)]
      position[0] += fuse
      logs, holder[0] = fused(holder[0], batches)
    return float(logs["loss"])

  return run


def make_ours_fused_runner(pool, batch_size, fuse, policy, controlled, seed=0):
  """The model's fused loop (what `fit` compiles for `steps_per_execution`) called directly.

  Each call draws `fuse` batches with `DeviceBatches` and runs them as one compiled
  `_jax_scan_steps`, as `fit` does, but from a loop written here: ours (fit) vs this is the cost
  of `model.fit`'s Python loop and callbacks; this vs step-only is the cost of the input stream
  and the loop's structure.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data.device_batches import DeviceBatches  # pylint: disable=g-import-not-at-top
  from dynvae_keras.models import BetaVAE, DynamicVAE  # pylint: disable=g-import-not-at-top
  keras.mixed_precision.set_dtype_policy(policy)
  keras.utils.set_random_seed(seed)
  model = DynamicVAE(seed=seed) if controlled else BetaVAE(beta=4.0, seed=seed)
  model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), steps_per_execution=fuse)
  batch_dtype = "bfloat16" if policy == "mixed_bfloat16" else "float32"
  stream = DeviceBatches(jax.device_put(pool), batch_size, 10**9, seed=seed, dtype=batch_dtype,
                         chunk=fuse)
  return fused_loop_runner(model, stream, fuse)


def make_ours_step_runner(pool, batch_size, fuse, policy, seed=0):
  """Our `BetaVAE.train_step` scanned in a loop written here, batches gathered inside the scan.

  The same loop as the reference but with our Keras step: separates the cost of the step's
  math (this vs reference) from the cost of `model.fit` and the input stream (ours vs this).
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  from dynvae_keras.models import BetaVAE  # pylint: disable=g-import-not-at-top
  keras.mixed_precision.set_dtype_policy(policy)
  keras.utils.set_random_seed(seed)
  model = BetaVAE(beta=4.0, seed=seed)
  model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
  state = jax_training_state(model, pool.shape[1:])
  device_pool = jax.device_put(pool)
  dtype = jnp.bfloat16 if policy == "mixed_bfloat16" else jnp.float32

  def body(carry, _):
    state, key = carry
    key, sub = jax.random.split(key)
    idx = jax.random.randint(sub, (batch_size,), 0, device_pool.shape[0])
    images = (jnp.take(device_pool, idx, axis=0).astype(jnp.float32) / 255.0).astype(dtype)
    logs, state = model.train_step(state, (images,))
    return (state, key), logs["loss"]

  fused = jax.jit(lambda carry: jax.lax.scan(body, carry, None, length=fuse), donate_argnums=0)
  return scan_runner(fused, (state, jax.random.PRNGKey(seed)))


def timed(run, fuse, seconds, repeats):
  """Median steps/s over `repeats` windows of about `seconds` each, after a warm-up."""
  t0 = time.perf_counter()
  run(2)  # compile + warm-up
  t1 = time.perf_counter()
  run(2)
  per_call = max((time.perf_counter() - t1) / 2, 1e-6)
  calls = max(2, int(seconds / per_call))
  rates = []
  for _ in range(repeats):
    t = time.perf_counter()
    loss = run(calls)
    rates.append(calls * fuse / (time.perf_counter() - t))
  if not np.isfinite(loss):
    raise RuntimeError(f"non-finite loss {loss} while benchmarking")
  return statistics.median(rates), t1 - t0


def timed_fit(run, fuse, seconds, repeats):
  """Median steps/s of `repeats` epochs of about `seconds`, after a compile epoch."""
  first, second = run(2, 2)
  calls = max(2, int(seconds * second / fuse))
  return statistics.median(run(calls, repeats + 1)[1:])


def encoding_rate(model, pool, seconds):
  from dynvae_keras.export import representation_function_from_model  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  keras.mixed_precision.set_dtype_policy("float32")
  represent = representation_function_from_model(model, "mean", batch_size=4096)
  images = pool[:16384].astype(np.float32) / 255.0
  represent(images)
  count, t = 0, time.perf_counter()
  while time.perf_counter() - t < seconds:
    count += len(represent(images))
  return count / (time.perf_counter() - t)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch_sizes", default="64,256")
  parser.add_argument("--policies", default="float32,mixed_bfloat16")
  parser.add_argument("--fuse", type=int, default=100, help="steps per compiled call")
  parser.add_argument("--pool", type=int, default=16384, help="procedural dSprites images on device")
  parser.add_argument("--seconds", type=float, default=3.0)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--quick", action="store_true", help="CPU smoke run: batch 8, fuse 4, short windows")
  parser.add_argument("--tf_cpu", action="store_true", help="time our TF-backend fit on the CPU instead")
  args = parser.parse_args(argv)
  if args.quick:
    args.batch_sizes, args.fuse, args.pool, args.seconds, args.repeats = "8", 4, 512, 0.5, 1

  import keras  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data import get_named_ground_truth_data  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data.device_batches import observation_pool  # pylint: disable=g-import-not-at-top
  t = time.perf_counter()
  pool = observation_pool(get_named_ground_truth_data("dsprites_full"), args.pool, seed=0)
  print(f"pool: {pool.shape} uint8 procedural dSprites rendered in {time.perf_counter() - t:.1f}s")
  if args.tf_cpu:
    return tf_cpu(pool, args)
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  if keras.backend.backend() != "jax":
    raise SystemExit("Run with KERAS_BACKEND=jax (or pass --tf_cpu).")
  print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}); jax {jax.__version__}, "
        f"keras {keras.__version__}; fuse {args.fuse} steps per call; "
        f"{time.strftime('%Y-%m-%d')}")
  header = (f"{'batch':>5} {'precision':>14} | {'reference':>10} {'step-only':>10} {'fused+dyn':>10} "
            f"{'fused+beta':>10} {'ours+dyn':>10} {'ours+beta':>10} "
            f"| {'dyn/ref':>7} {'beta/ref':>8} {'ctrl cost':>9} | {'img/s ours+dyn':>14}")
  print(header)
  print("-" * len(header))
  last_model = None
  for batch_size in (int(b) for b in args.batch_sizes.split(",")):
    for policy in args.policies.split(","):
      dtype = jnp.bfloat16 if policy == "mixed_bfloat16" else jnp.float32
      ref, _ = timed(make_reference_runner(pool, batch_size, args.fuse, dtype), args.fuse,
                     args.seconds, args.repeats)
      own, _ = timed(make_ours_step_runner(pool, batch_size, args.fuse, policy), args.fuse,
                     args.seconds, args.repeats)
      fused_dyn, _ = timed(make_ours_fused_runner(pool, batch_size, args.fuse, policy, True),
                           args.fuse, args.seconds, args.repeats)
      fused_beta, _ = timed(make_ours_fused_runner(pool, batch_size, args.fuse, policy, False),
                            args.fuse, args.seconds, args.repeats)
      run_dyn, last_model = make_ours_runner(pool, batch_size, args.fuse, policy, True)
      dyn = timed_fit(run_dyn, args.fuse, args.seconds, args.repeats)
      run_beta, _ = make_ours_runner(pool, batch_size, args.fuse, policy, False)
      beta = timed_fit(run_beta, args.fuse, args.seconds, args.repeats)
      print(f"{batch_size:>5} {policy:>14} | {ref:>10.1f} {own:>10.1f} {fused_dyn:>10.1f} "
            f"{fused_beta:>10.1f} {dyn:>10.1f} {beta:>10.1f} "
            f"| {dyn / ref:>7.2f} {beta / ref:>8.2f} {1 - dyn / beta:>8.1%} | {dyn * batch_size:>14.0f}",
            flush=True)
  keras.mixed_precision.set_dtype_policy("float32")
  rate = encoding_rate(last_model, pool, args.seconds)
  print(f"representation function (mean, batch 4096, float32): {rate:,.0f} images/s")
  return 0


def tf_cpu(pool, args):
  """Our TF-backend `fit` on the host CPU from the tf.data pipeline: DynamicVAE vs constant β."""
  import keras  # pylint: disable=g-import-not-at-top
  if keras.backend.backend() != "tensorflow":
    raise SystemExit("--tf_cpu needs KERAS_BACKEND=tensorflow.")
  from dynvae_keras.data.array_data import ArrayGroundTruthData  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data.input_pipeline import make_tf_dataset  # pylint: disable=g-import-not-at-top
  from dynvae_keras.models import BetaVAE, DynamicVAE  # pylint: disable=g-import-not-at-top
  data = ArrayGroundTruthData(pool.astype(np.float32) / 255.0, np.arange(len(pool))[:, None])
  print(f"TensorFlow backend on CPU ({os.cpu_count()} cores), tf.data input, one fit per "
        f"measurement (epochs timed after a warm-up epoch); {time.strftime('%Y-%m-%d')}")

  for batch_size in (int(b) for b in args.batch_sizes.split(",")):
    rates = {}
    for name, make in (("dynamic", lambda: DynamicVAE(seed=0)), ("beta", lambda: BetaVAE(beta=4.0))):
      keras.utils.set_random_seed(0)
      model = make()
      model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
      steps = max(20, int(args.seconds * 15))
      clock = epoch_clock()
      start = time.perf_counter()
      model.fit(make_tf_dataset(data, batch_size, steps * (args.repeats + 1), seed=0), epochs=args.repeats + 1,
                steps_per_epoch=steps, verbose=0, callbacks=[clock])
      times = [start] + clock.times
      rates[name] = statistics.median(steps / (t1 - t0) for t0, t1 in zip(times[1:-1], times[2:]))
    print(f"batch {batch_size}: ours+dyn {rates['dynamic']:.1f} steps/s, ours+beta {rates['beta']:.1f} "
          f"steps/s, controller cost {1 - rates['dynamic'] / rates['beta']:.1%}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
