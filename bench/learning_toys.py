"""Does a model disentangle a small toy? MIG over training, and what each active latent encodes.

Trains one model with `fit` on one toy and prints dlib's MIG (`compute_mig`, 2,000 samples,
random state 0) every `--every` steps, then the KL of the three most used latents and each
one's correlation with each factor's class. docs/learning.md reports its runs.

Toys (32×32, 8 classes per factor unless stated):
  rectangles        `data.Rectangles()`: width 0.10–0.45, height 0.20–0.35 of the side (half-sides)
  rectangles_equal  the same with both half-sides 0.10–0.45 (factors of equal importance)
  blob              a Gaussian blob (σ 3 px) at (x, y) drawn uniformly inside each class's cell
  blob_grid         16×16 fixed blob positions, one image each (256 images, `ArrayGroundTruthData`)

Usage: python bench/learning_toys.py --toy rectangles --model beta_vae --beta 16 --seed 0
"""

import argparse
import time

import keras
import numpy as np

from dynvae_keras import data, models
from dynvae_keras.control import IncrementalPIController, setpoints
from dynvae_keras.evaluation.metrics import compute_mig
from dynvae_keras.export import representation_function_from_model

SIZE = 32


class Blob(data.GroundTruthData):
  """A Gaussian blob whose centre is drawn uniformly inside the cell of its (x, y) classes."""

  def __init__(self, num_values=8, sigma=3.0, extent=0.6):
    self.num_values, self.sigma, self.extent = num_values, sigma, extent

  num_factors = 2

  @property
  def factors_num_values(self):
    return [self.num_values] * 2

  observation_shape = [SIZE, SIZE, 1]

  def sample_factors(self, num, random_state):
    return random_state.randint(self.num_values, size=(num, 2))

  def sample_observations_from_factors(self, factors, random_state):
    fraction = (factors + random_state.random_sample(factors.shape)) / self.num_values
    return render_blobs((0.5 - self.extent / 2 + self.extent * fraction) * SIZE, self.sigma)


def render_blobs(centres, sigma):
  """(N, SIZE, SIZE, 1) Gaussian blobs (peak 1) at pixel coordinates centres (N, 2) = (x, y)."""
  grid = np.arange(SIZE) + 0.5
  dx = grid[None, None, :] - centres[:, 0, None, None]
  dy = grid[None, :, None] - centres[:, 1, None, None]
  return np.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2))[..., None].astype(np.float32)


def make_toy(name):
  if name == "rectangles":
    return data.Rectangles(SIZE, 8)
  if name == "rectangles_equal":
    return data.Rectangles(SIZE, 8, half_side_ranges=((0.10, 0.45), (0.10, 0.45)))
  if name == "blob":
    return Blob()
  if name == "blob_grid":
    positions = np.linspace(0.2 * SIZE, 0.8 * SIZE, 16)
    classes = np.array([(i, j) for i in range(16) for j in range(16)])
    return data.ArrayGroundTruthData(render_blobs(positions[classes], 3.0), classes)
  raise SystemExit(f"unknown toy {name!r}")


def make_model(args):
  kwargs = dict(num_latent=10, seed=args.seed, encoder_fn=f"{args.architecture}_encoder",
                decoder_fn=f"{args.architecture}_decoder")
  if args.model == "dynamic_vae":
    setpoint = setpoints.HybridAnnealingSetPoint(start=0.5, step=0.5, period=200, ramp=100, maximum=3.0)
    return models.DynamicVAE(controller=IncrementalPIController(
        setpoint=setpoint, beta_0=args.beta_0, ki=args.ki), **kwargs)
  return models.BetaVAE(beta=args.beta if args.model == "beta_vae" else 1.0, **kwargs)


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--toy", default="rectangles",
                      choices=["rectangles", "rectangles_equal", "blob", "blob_grid"])
  parser.add_argument("--model", default="beta_vae", choices=["vae", "beta_vae", "dynamic_vae"])
  parser.add_argument("--beta", type=float, default=16.0)
  parser.add_argument("--beta_0", type=float, default=50.0, help="DynamicVAE's initial β")
  parser.add_argument("--ki", type=float, default=0.1, help="DynamicVAE's integral gain")
  parser.add_argument("--architecture", default="mlp", choices=["mlp", "fc"])
  parser.add_argument("--steps", type=int, default=1500)
  parser.add_argument("--every", type=int, default=500)
  parser.add_argument("--batch_size", type=int, default=64)
  parser.add_argument("--learning_rate", type=float, default=5e-4)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()

  toy = make_toy(args.toy)
  keras.utils.set_random_seed(args.seed)
  model = make_model(args)
  model.build((None, *toy.observation_shape))
  model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), steps_per_execution=50)

  def mig():
    return compute_mig(toy, representation_function_from_model(model), np.random.RandomState(0),
                       num_train=2000, batch_size=256)["discrete_mig"]

  print(f"{vars(args)}\nstep 0: MIG {mig():.3f}", flush=True)
  start = time.time()
  stream = data.training_input(toy, args.batch_size, args.steps, seed=args.seed)

  def report(epoch, logs):
    beta = f", beta {logs['beta']:.2f}" if "beta" in logs else ""
    print(f"step {(epoch + 1) * args.every}: MIG {mig():.3f}, KL {logs['kl_loss']:.2f}{beta}, "
          f"reconstruction {logs['reconstruction_loss']:.1f}", flush=True)

  model.fit(stream, epochs=args.steps // args.every, steps_per_epoch=args.every, verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=report)])
  print(f"trained in {time.time() - start:.0f} s (MIG evaluations included)")
  factors = toy.sample_factors(2000, np.random.RandomState(1))
  z_mean, z_logvar = (np.asarray(keras.ops.convert_to_numpy(t))
                      for t in model.encode(toy.sample_observations_from_factors(factors, np.random.RandomState(2))))
  kl = 0.5 * (z_mean ** 2 + np.exp(z_logvar) - z_logvar - 1).mean(axis=0)
  for d in np.argsort(-kl)[:3]:
    corr = [np.corrcoef(z_mean[:, d], factors[:, k])[0, 1] for k in range(factors.shape[1])]
    print(f"latent {d}: KL {kl[d]:.2f} nats, corr with factor classes " +
          " ".join(f"{c:+.2f}" for c in corr))


if __name__ == "__main__":
  main()
