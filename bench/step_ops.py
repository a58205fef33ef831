"""Operations per training step in the compiled fused loop: ours against the plain-JAX reference.

Once a step takes about a millisecond (GPU, bfloat16), what separates two implementations of the
same math is the number of kernels each step launches. This compiles `--fuse` steps as one
`lax.scan` for the dlib conv VAE (batch `--batch_size`, Adam) three ways and counts the
instructions of the loop body in XLA's optimized HLO for the default JAX device:

* ``reference``: the plain-JAX step of `bench/train_throughput.py` (β = 4; it also draws its
  batch inside the loop: a gather and two RNG splits that ours does outside);
* ``ours+beta``: `BetaVAE(beta=4)` through the model's fused loop (`_jax_scan_steps`, what
  `model.fit(..., steps_per_execution=k)` runs);
* ``ours+dyn``: `DynamicVAE` (incremental PI controller inside the step) the same way.

"kernel-like" counts the body's instructions that do work on the device (fusions, library calls
such as convolutions and GEMMs, copies, loops, reductions, ...), leaving out tuple plumbing,
parameters, constants and bitcasts. On a GPU each is roughly one kernel launch per step; on a
CPU the count is a proxy (XLA's CPU and GPU fusion passes differ). Deterministic: no timing.

Usage: KERAS_BACKEND=jax python bench/step_ops.py [--batch_size 64] [--policy mixed_bfloat16]
"""

import argparse
import collections
import os
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_throughput  # pylint: disable=g-import-not-at-top,wrong-import-position

PLUMBING = {"get-tuple-element", "tuple", "parameter", "constant", "bitcast"}


def _computations(hlo_text):
  """{computation name: its text} of an HLO module dump."""
  computations = {}
  for block in hlo_text.split("\n\n"):
    head = block.strip().split("\n", 1)[0]
    match = re.match(r"(?:ENTRY )?%?([\w.\-]+) ", head)
    if match and head.rstrip().endswith("{"):
      computations[match.group(1)] = block.strip()
  return computations


def loop_body_opcodes(hlo_text):
  """Counter of opcodes in the body of the entry computation's (first) while loop."""
  computations = _computations(hlo_text)
  entry = next(text for text in computations.values() if text.startswith("ENTRY"))
  match = re.search(r"while\(.*?body=%?([\w.\-]+)", entry)
  if match is None:
    raise RuntimeError("no while loop in the compiled entry computation")
  counts = collections.Counter()
  for line in computations[match.group(1)].split("\n")[1:]:
    op = re.search(r"=\s*(?:\([^=]*?\)|\S+)\s+([a-z][\w\-]*)\(", line)
    if op:
      counts[op.group(1)] += 1
  return counts


def kernel_like(counts):
  return sum(n for op, n in counts.items() if op not in PLUMBING)


def compile_only_device(target_config):
  """A compile-only CUDA device described by the `GpuTargetConfig` text proto file
  `target_config` (deviceless ahead-of-time compilation: needs the `jax-cuda12-plugin` of the
  installed jax, no GPU and no CUDA driver)."""
  from jax.experimental import topologies  # pylint: disable=g-import-not-at-top
  with open(target_config) as f:
    text = f.read()
  try:
    topology = topologies.get_topology_desc("step_ops", "cuda", target_config=text,
                                            topology="1x1x1")
  except Exception as e:  # pylint: disable=broad-except
    raise SystemExit(
        f"Cannot compile for the GPU described in {target_config}: {e}\nDeviceless GPU "
        "compilation needs the CUDA plugin of the installed jax: pip install "
        "'jax-cuda12-plugin==<jax version>' 'jax-cuda12-pjrt==<jax version>'.") from e
  return topology.devices[0]


def compiled_text(fn, args, device=None):
  """Optimized HLO of `jax.jit(fn)` for `args` (arrays or ShapeDtypeStructs), on `device` if
  given (a compile-only device: the arguments are lowered as abstract values placed on it)."""
  import jax  # pylint: disable=g-import-not-at-top
  if device is not None:
    sharding = jax.sharding.SingleDeviceSharding(device)
    args = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding), args)
  return jax.jit(fn).lower(*args).compile().as_text()


def ours_hlo(make_model, pool, batch_size, fuse, policy, device=None):
  """Optimized HLO text of the model's fused `fuse`-step loop on stacked device batches."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  keras.mixed_precision.set_dtype_policy(policy)
  keras.utils.set_random_seed(0)
  model = make_model()
  model.compile(optimizer=keras.optimizers.Adam(1e-4), steps_per_execution=fuse)
  state = train_throughput.jax_training_state(model, pool.shape[1:])
  dtype = jnp.bfloat16 if policy == "mixed_bfloat16" else jnp.float32
  batch = jax.ShapeDtypeStruct((batch_size,) + pool.shape[1:], dtype)
  return compiled_text(model._jax_scan_steps, (state, [(batch,)] * fuse), device)  # pylint: disable=protected-access


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--policy", default="float32", choices=["float32", "mixed_bfloat16"])
  parser.add_argument("--fuse", type=int, default=4, help="steps per compiled loop")
  parser.add_argument("--target_config", default=None,
                      help="compile for the GPU this GpuTargetConfig text proto describes "
                      "instead of the default device, without needing one (e.g. "
                      "bench/h100_target_config.txtpb; needs jax-cuda12-plugin)")
  args = parser.parse_args(argv)
  if args.target_config:
    # Compile-only: the local backend only hosts the trace (the CUDA plugin then skips its
    # check for a CUDA runtime this machine need not have).
    os.environ["JAX_PLATFORMS"] = "cpu"

  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  if keras.backend.backend() != "jax":
    raise SystemExit("Run with KERAS_BACKEND=jax.")
  from dynvae_keras.models import BetaVAE, DynamicVAE  # pylint: disable=g-import-not-at-top

  pool = np.zeros((256, 64, 64, 1), np.uint8)
  device = compile_only_device(args.target_config) if args.target_config else None
  target = (f"{device.device_kind} (compile-only, {args.target_config})" if device is not None
            else f"{jax.devices()[0].device_kind} ({jax.default_backend()})")
  print(f"target: {target}; jax {jax.__version__}, "
        f"keras {keras.__version__}; batch {args.batch_size}, {args.policy}, loop of {args.fuse} "
        f"steps; {time.strftime('%Y-%m-%d')}")
  dtype = jnp.bfloat16 if args.policy == "mixed_bfloat16" else jnp.float32
  fused, state = train_throughput.reference_scan(pool, args.batch_size, args.fuse, dtype)
  texts = {"reference": compiled_text(fused, (state,), device)}
  for name, make_model in (("ours+beta", lambda: BetaVAE(beta=4.0)), ("ours+dyn", DynamicVAE)):
    texts[name] = ours_hlo(make_model, pool, args.batch_size, args.fuse, args.policy, device)

  counts = {name: loop_body_opcodes(text) for name, text in texts.items()}
  anchor = kernel_like(counts["reference"])
  print(f"{'loop body':>10} | {'kernel-like':>11} {'/reference':>10} | top opcodes")
  for name, count in counts.items():
    top = ", ".join(f"{op} {n}" for op, n in count.most_common() if op not in PLUMBING)
    print(f"{name:>10} | {kernel_like(count):>11} {kernel_like(count) / anchor:>10.2f} | {top}")
  extra = kernel_like(counts["ours+dyn"]) - kernel_like(counts["ours+beta"])
  print(f"controller: {extra:+d} kernel-like instructions per step (ours+dyn − ours+beta)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
