"""CPU training throughput: our `fit` against hand-written loops of the same network, same run.

Every cell trains dlib's conv VAE (`conv_encoder` + `deconv_decoder`, 10 latents, Bernoulli loss,
β = 4, Adam 1e-4) at batch `--batch_size` on 64×64×1 dSprites and prints steps/s (median of
`--repeats` timed windows after a warm-up window), achieved GFLOP/s and the fraction of the
machine's peak. Each cell runs in its own process (the Keras backend and TensorFlow's thread pools
are fixed at start-up), so cells do not share caches or threads.

Cells:

* ``ours tf ...``: `BetaVAE.fit` on the TensorFlow backend, the way `dynvae train` runs it:
  `stream=render` draws every batch from procedural dSprites in the tf.data pipeline (the driver's
  stream); `stream=pool` feeds pre-rendered batches (isolates the step); `spe` is
  `steps_per_execution`, `xla` `jit_compile=True`, `policy` the model's dtype policy, `threads`
  TensorFlow's intra-op/inter-op pools (0 = TensorFlow's default: one per core).
* ``..._2x1thread``: two such processes at once with one thread each (what `dynvae study
  --workers 2` runs on 2 cores); steps/s is their sum (the windows column lists both processes').
* ``ours torch``: the same through Keras' torch backend (`steps_per_execution` must be 1).
* ``reference tf``: plain TensorFlow written here (`tf.nn.conv2d`/`conv2d_transpose`, a
  hand-written Adam, one `tf.function` step, batches sliced from a tensor in memory).
* ``reference torch``: plain PyTorch (`nn.Conv2d`/`ConvTranspose2d`, `torch.optim.Adam`).

FLOPs are counted from the layer shapes (2 per multiply-add; a training step is counted as 3× the
forward pass: forward, input gradients, weight gradients). Peak = cores × 32 fp32 FLOP/cycle
(two 256-bit FMA pipes, or one 512-bit) × the clock `lscpu` reports; bfloat16 dot products
(AVX512-BF16) double it, and bf16 cells are compared with that.

Usage: python bench/cpu_throughput.py [--quick] [--cells ours_tf,reference_tf,...]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

LEARNING_RATE = 1e-4
BETA = 4.0
NUM_LATENT = 10
POOL = 2048  # pre-rendered images for stream=pool and the reference loops
# TensorFlow enables its oneDNN kernels by default only on CPUs with AVX512-VNNI/BF16 or AMX.
# `import dynvae_keras` asks for oneDNN unless the variable is set, so the other TensorFlow cells set 0.
ONEDNN = {"TF_ENABLE_ONEDNN_OPTS": "1"}
OWN_KERNELS = {"TF_ENABLE_ONEDNN_OPTS": "0"}

# (name, kind, kernel, strides, out channels): dlib's conv VAE on 64×64×1.
ENCODER = [("e1", 32, 4), ("e2", 32, 4), ("e3", 64, 2), ("e4", 64, 2)]
DECODER = [("d3", 64), ("d4", 32), ("d5", 32), ("d6", 1)]


def forward_flops_per_image(channels=1):
  """Multiply-adds × 2 of one image's forward pass through dlib's conv VAE (64×64 input)."""
  flops, side, c_in = 0, 64, channels
  for _, c_out, k in ENCODER:  # stride-2 'same' convolutions
    side //= 2
    flops += 2 * side * side * k * k * c_in * c_out
    c_in = c_out
  flops += 2 * (1024 * 256 + 256 * NUM_LATENT * 2)  # e5, means, log_var
  flops += 2 * (NUM_LATENT * 256 + 256 * 1024)  # d1, d2
  side, c_in = 4, 64
  for _, c_out in DECODER:  # stride-2 k4 transposed convolutions: each input pixel × k²
    flops += 2 * side * side * 16 * c_in * c_out
    side *= 2
    c_in = c_out
  return flops


def machine_peak_gflops():
  """(cores, GHz, fp32 peak GFLOP/s, whether AVX512-BF16 is present) from lscpu / cpuinfo."""
  cores = os.cpu_count() or 1
  ghz = None
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"CPU max MHz:\s*([\d.]+)", out) or re.search(r"CPU MHz:\s*([\d.]+)", out)
    ghz = float(match.group(1)) / 1000 if match else None
  except OSError:
    out = ""
  cpuinfo = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
  if ghz is None:
    match = re.search(r"cpu MHz\s*:\s*([\d.]+)", cpuinfo)
    ghz = float(match.group(1)) / 1000 if match else float("nan")
  bf16 = "avx512_bf16" in cpuinfo
  return cores, ghz, cores * 32 * ghz, bf16


def _pool_images(n, seed=0):
  from dynvae_keras.data.dsprites import DSprites  # pylint: disable=g-import-not-at-top
  data = DSprites(source="procedural")
  return data, np.asarray(data.sample_observations(n, np.random.RandomState(seed)), np.float32)


def _timed(run_steps, steps, repeats):
  """run_steps(steps) after one warm-up window; median steps/s over `repeats` windows."""
  run_steps(steps)
  rates = []
  for _ in range(repeats):
    start = time.perf_counter()
    run_steps(steps)
    rates.append(steps / (time.perf_counter() - start))
  return statistics.median(rates), rates


# --- our fit ----------------------------------------------------------------------------------
def cell_ours(args):
  import keras  # pylint: disable=g-import-not-at-top
  if keras.backend.backend() == "tensorflow" and args.threads:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    intra, inter = args.threads
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
  from dynvae_keras import models  # pylint: disable=g-import-not-at-top
  from dynvae_keras.data import input_pipeline  # pylint: disable=g-import-not-at-top
  data, pool = _pool_images(POOL)
  keras.utils.set_random_seed(0)
  model = models.BetaVAE(beta=BETA, num_latent=NUM_LATENT, dtype=args.policy)
  model.build((None, 64, 64, 1))
  model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), steps_per_execution=args.spe,
                jit_compile=args.xla)
  batch = args.batch_size
  total = (args.repeats + 1) * args.steps
  if args.stream == "render":
    stream = input_pipeline.training_input(data, batch, total, seed=0)
  else:
    batches = np.stack([pool[i * batch:(i + 1) * batch] for i in range(POOL // batch)])
    if keras.backend.backend() == "tensorflow":
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      stream = tf.data.Dataset.from_tensor_slices(batches).repeat().prefetch(4)
    else:
      stream = _cycled(batches, total)
  # One fit over the whole stream, each window one Keras epoch, timed by a callback.
  times = []

  class Clock(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
      times.append(time.perf_counter())

  model.fit(stream, epochs=args.repeats + 1, steps_per_epoch=args.steps, verbose=0, shuffle=False,
            callbacks=[Clock()])
  rates = [args.steps / (b - a) for a, b in zip(times, times[1:])]
  return statistics.median(rates), rates


def _cycled(batches, total):
  """`total` pre-rendered batches, cycling through `batches`, as a backend-neutral PyDataset."""
  import keras  # pylint: disable=g-import-not-at-top

  class Cycled(keras.utils.PyDataset):
    def __len__(self):
      return total

    def __getitem__(self, index):
      return batches[index % len(batches)]

  return Cycled()


# --- plain TensorFlow ---------------------------------------------------------------------------
def cell_reference_tf(args):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if args.threads:
    tf.config.threading.set_intra_op_parallelism_threads(args.threads[0])
    tf.config.threading.set_inter_op_parallelism_threads(args.threads[1])
  _, pool = _pool_images(POOL)
  compute = tf.bfloat16 if args.policy == "mixed_bfloat16" else tf.float32
  rng = np.random.RandomState(0)

  def init(shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return tf.Variable(rng.uniform(-limit, limit, shape).astype(np.float32))

  params = {}
  c_in = 1
  for name, c_out, k in ENCODER:
    params[name] = (init((k, k, c_in, c_out), k * k * c_in, k * k * c_out), tf.Variable(tf.zeros(c_out)))
    c_in = c_out
  for name, n_in, n_out in (("e5", 1024, 256), ("means", 256, NUM_LATENT), ("log_var", 256, NUM_LATENT),
                            ("d1", NUM_LATENT, 256), ("d2", 256, 1024)):
    params[name] = (init((n_in, n_out), n_in, n_out), tf.Variable(tf.zeros(n_out)))
  c_in = 64
  for name, c_out in DECODER:  # conv2d_transpose kernels are (H, W, out, in)
    params[name] = (init((4, 4, c_out, c_in), 16 * c_in, 16 * c_out), tf.Variable(tf.zeros(c_out)))
    c_in = c_out
  variables = [v for pair in params.values() for v in pair]
  moments = [(tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v))) for v in variables]
  t = tf.Variable(0.0)
  images = tf.constant(pool)
  batch = args.batch_size

  def c(x):
    return tf.cast(x, compute)

  def loss_fn(x, eps):
    h = c(x)
    for name, _, _ in ENCODER:
      w, b = params[name]
      h = tf.nn.relu(tf.nn.conv2d(h, c(w), 2, "SAME") + c(b))
    h = tf.reshape(h, (batch, 1024))
    w, b = params["e5"]
    h = tf.nn.relu(h @ c(w) + c(b))
    mean = tf.cast(h @ c(params["means"][0]) + c(params["means"][1]), tf.float32)
    log_var = tf.cast(h @ c(params["log_var"][0]) + c(params["log_var"][1]), tf.float32)
    z = mean + tf.exp(0.5 * log_var) * eps
    h = tf.nn.relu(c(z) @ c(params["d1"][0]) + c(params["d1"][1]))
    h = tf.nn.relu(h @ c(params["d2"][0]) + c(params["d2"][1]))
    h = tf.reshape(h, (batch, 4, 4, 64))
    side = 4
    for i, (name, c_out) in enumerate(DECODER):
      side *= 2
      w, b = params[name]
      h = tf.nn.conv2d_transpose(h, c(w), (batch, side, side, c_out), 2, "SAME") + c(b)
      if i < len(DECODER) - 1:
        h = tf.nn.relu(h)
    logits = tf.cast(h, tf.float32)
    reconstruction = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits),
                                   axis=[1, 2, 3])
    kl = 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - log_var - 1, axis=1)
    return tf.reduce_mean(reconstruction + BETA * kl)

  @tf.function(jit_compile=args.xla)
  def step(index):
    start = (index * batch) % (POOL - batch)
    x = images[start:start + batch]
    eps = tf.random.normal((batch, NUM_LATENT))
    with tf.GradientTape() as tape:
      loss = loss_fn(x, eps)
    grads = tape.gradient(loss, variables)
    t.assign_add(1.0)
    lr = LEARNING_RATE * tf.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    for v, g, (m, s) in zip(variables, grads, moments):
      m.assign(0.9 * m + 0.1 * g)
      s.assign(0.999 * s + 0.001 * tf.square(g))
      v.assign_sub(lr * m / (tf.sqrt(s) + 1e-7))
    return loss

  counter = [0]

  def run_steps(steps):
    for _ in range(steps):
      loss = step(tf.constant(counter[0], tf.int32))
      counter[0] += 1
    float(loss)

  return _timed(run_steps, args.steps, args.repeats)


# --- plain PyTorch ------------------------------------------------------------------------------
def cell_reference_torch(args):
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top
  if args.threads:
    torch.set_num_threads(args.threads[0])
  torch.manual_seed(0)
  _, pool = _pool_images(POOL)
  images = torch.from_numpy(pool).permute(0, 3, 1, 2).contiguous()  # NCHW
  encoder = nn.Sequential(
      nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
      nn.Conv2d(32, 64, 2, 2), nn.ReLU(), nn.Conv2d(64, 64, 2, 2), nn.ReLU(), nn.Flatten(),
      nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 2 * NUM_LATENT))
  decoder = nn.Sequential(
      nn.Linear(NUM_LATENT, 256), nn.ReLU(), nn.Linear(256, 1024), nn.ReLU(), nn.Unflatten(1, (64, 4, 4)),
      nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
      nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))
  parameters = list(encoder.parameters()) + list(decoder.parameters())
  optimizer = torch.optim.Adam(parameters, lr=LEARNING_RATE, eps=1e-7)
  batch = args.batch_size
  bf16 = args.policy == "mixed_bfloat16"

  def step(index):
    start = (index * batch) % (POOL - batch)
    x = images[start:start + batch]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
      stats = encoder(x).float()
      mean, log_var = stats[:, :NUM_LATENT], stats[:, NUM_LATENT:]
      z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
      logits = decoder(z).float()
    reconstruction = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
    kl = 0.5 * (mean.square() + log_var.exp() - log_var - 1).sum(1)
    loss = (reconstruction + BETA * kl).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss

  counter = [0]

  def run_steps(steps):
    for _ in range(steps):
      loss = step(counter[0])
      counter[0] += 1
    float(loss)

  return _timed(run_steps, args.steps, args.repeats)


# --- driver -------------------------------------------------------------------------------------
CELLS = {
    # name: (backend, worker, options, environment)
    "ours_tf": ("tensorflow", "ours", {}, OWN_KERNELS),
    "ours_tf_spe20": ("tensorflow", "ours", {"spe": 20}, OWN_KERNELS),
    "ours_tf_onednn": ("tensorflow", "ours", {}, ONEDNN),
    "ours_tf_onednn_spe20": ("tensorflow", "ours", {"spe": 20}, ONEDNN),
    "ours_tf_onednn_spe20_pool": ("tensorflow", "ours", {"spe": 20, "stream": "pool"}, ONEDNN),
    "ours_tf_onednn_inter1": ("tensorflow", "ours", {"threads": "2,1"}, ONEDNN),
    "ours_tf_onednn_spe20_inter1": ("tensorflow", "ours", {"spe": 20, "threads": "2,1"}, ONEDNN),
    "ours_tf_onednn_spe20_xla": ("tensorflow", "ours", {"spe": 20, "xla": True}, ONEDNN),
    "ours_tf_onednn_spe20_bf16": ("tensorflow", "ours", {"spe": 20, "policy": "mixed_bfloat16"}, ONEDNN),
    "ours_tf_onednn_2x1thread": ("tensorflow", "ours", {"threads": "1,1", "processes": 2}, ONEDNN),
    "ours_tf_2x1thread": ("tensorflow", "ours", {"threads": "1,1", "processes": 2}, OWN_KERNELS),
    "ours_torch": ("torch", "ours", {"stream": "pool"}, {}),
    "reference_tf": ("tensorflow", "reference_tf", {}, OWN_KERNELS),
    "reference_tf_onednn": ("tensorflow", "reference_tf", {}, ONEDNN),
    "reference_tf_onednn_bf16": ("tensorflow", "reference_tf", {"policy": "mixed_bfloat16"}, ONEDNN),
    "reference_torch": ("torch", "reference_torch", {}, {}),
    "reference_torch_bf16": ("torch", "reference_torch", {"policy": "mixed_bfloat16"}, {}),
}


def describe(options, environment):
  return " ".join([f"{k}={v}" for k, v in sorted(options.items())] +
                  [f"{k}={v}" for k, v in sorted(environment.items())])


def run_cell(name, args):
  backend, worker, options, environment = CELLS[name]
  if backend == "torch":
    try:
      import importlib.util  # pylint: disable=g-import-not-at-top
      if importlib.util.find_spec("torch") is None:
        return None, "torch not installed"
    except ImportError:
      return None, "torch not installed"
  processes = options.get("processes", 1)
  command = [sys.executable, os.path.abspath(__file__), "--worker", worker,
             "--batch_size", str(args.batch_size), "--steps", str(args.steps),
             "--repeats", str(args.repeats)]
  for key, value in options.items():
    if key != "processes":
      command += [f"--{key}"] if value is True else [f"--{key}", str(value)]
  env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", **environment}
  # `processes` > 1: that many copies at once (as `dynvae study --workers`); steps/s is their sum.
  procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
           for _ in range(processes)]
  results = []
  for proc in procs:
    stdout, stderr = proc.communicate()
    lines = [l for l in stdout.splitlines() if l.startswith("RESULT ")]
    if proc.returncode or not lines:
      return None, (stderr.strip().splitlines() or ["failed"])[-1]
    results.append(json.loads(lines[-1][len("RESULT "):]))
    wanted = environment.get("TF_ENABLE_ONEDNN_OPTS")
    if backend == "tensorflow" and wanted and results[-1]["onednn"] is not None \
        and results[-1]["onednn"] != (wanted == "1"):
      return None, f"oneDNN is {'on' if results[-1]['onednn'] else 'off'} against TF_ENABLE_ONEDNN_OPTS={wanted}"
  return {"steps_per_s": sum(r["steps_per_s"] for r in results),
          "windows": [w for r in results for w in r["windows"]]}, None


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--cells", default=",".join(CELLS), help="comma-separated cells: " + ", ".join(CELLS))
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--steps", type=int, default=40, help="steps per timed window")
  parser.add_argument("--repeats", type=int, default=3, help="timed windows per cell")
  parser.add_argument("--quick", action="store_true", help="20-step windows, 2 repeats")
  # Worker options (one cell per process).
  parser.add_argument("--worker", choices=["ours", "reference_tf", "reference_torch"], help=argparse.SUPPRESS)
  parser.add_argument("--policy", default="float32", choices=["float32", "mixed_bfloat16"])
  parser.add_argument("--spe", type=int, default=1)
  parser.add_argument("--xla", action="store_true")
  parser.add_argument("--stream", default="render", choices=["render", "pool"])
  parser.add_argument("--threads", type=lambda s: tuple(int(v) for v in s.split(",")), default=None,
                      help="intra,inter op threads (TensorFlow; torch takes intra)")
  args = parser.parse_args()
  if args.quick:
    args.steps, args.repeats = 20, 2
  if args.steps % 20:
    parser.error("--steps must be a multiple of 20 (the fused cells run 20 steps per call)")
  if args.worker:
    cell = {"ours": cell_ours, "reference_tf": cell_reference_tf,
            "reference_torch": cell_reference_torch}[args.worker]
    rate, rates = cell(args)
    from dynvae_keras import cpu_runtime  # pylint: disable=g-import-not-at-top
    print("RESULT " + json.dumps({"steps_per_s": rate, "windows": rates,
                                  "onednn": cpu_runtime.onednn_enabled()
                                  if os.environ.get("KERAS_BACKEND") == "tensorflow" else None}),
          flush=True)
    return

  names = args.cells.split(",")
  unknown = [name for name in names if name not in CELLS]
  if unknown:
    parser.error(f"unknown cell(s) {', '.join(unknown)}; choose from {', '.join(CELLS)}")
  cores, ghz, peak, bf16 = machine_peak_gflops()
  train_gflop = 3 * forward_flops_per_image() * args.batch_size / 1e9
  print(f"CPU: {cores} cores at {ghz:.2f} GHz, fp32 peak {peak:.0f} GFLOP/s, "
        f"AVX512-BF16 {'yes' if bf16 else 'no'} (bf16 peak {2 * peak:.0f}); "
        f"one batch-{args.batch_size} step = {train_gflop:.2f} GFLOP", flush=True)
  print(f"{'cell':<28} {'options':<58} {'steps/s':>8} {'ms/step':>8} {'GFLOP/s':>8} {'% peak':>7} "
        f"{'× ours_tf':>9}  windows (steps/s)")
  anchor = None
  for name in names:
    result, error = run_cell(name, args)
    options = describe(*CELLS[name][2:])
    if result is None:
      print(f"{name:<28} {options:<58} {'-':>8}  ({error})", flush=True)
      continue
    rate = result["steps_per_s"]
    anchor = rate if name == "ours_tf" else anchor
    cell_peak = 2 * peak if CELLS[name][2].get("policy") == "mixed_bfloat16" else peak
    ratio = f"{rate / anchor:9.2f}" if anchor else f"{'-':>9}"
    print(f"{name:<28} {options:<58} {rate:8.2f} {1000 / rate:8.1f} {rate * train_gflop:8.1f} "
          f"{100 * rate * train_gflop / cell_peak:6.1f}% {ratio}  "
          f"{min(result['windows']):.2f}–{max(result['windows']):.2f}", flush=True)


if __name__ == "__main__":
  main()
