"""Closed-loop weight controllers: ControlVAE's positional PI and DynamicVAE's incremental PI.

Both map the KL of a training step to a weight (β) and keep their state in non-trainable
variables, so they run inside a compiled step (jit, `steps_per_execution`) and are saved
with the model. Contract: `controller.update(kl)` is called once per training step with that
step's KL (a scalar: summed over latents, averaged over the global batch) and returns a dict
with the step's `beta`, `kl_setpoint`, `kl_feedback`, `p_term`, `i_term`; `controller(kl)`
returns only `beta`. Errors follow the official code: e = C(t) − y(t), f(e) = 1/(1 + exp(e)),
t counted from 1.
"""

from __future__ import annotations

import keras
from keras import ops

from dynvae_keras.control.moving_average import MovingAverage
from dynvae_keras.control.setpoints import SetPoint


def _f(error):
  """1 / (1 + exp(e)), computed stably as sigmoid(−e)."""
  return ops.sigmoid(-error)


class Controller(keras.layers.Layer):
  """Base of the β controllers: the step counter, the set point, β clamps, logs from the state.

  A controller subclasses this and implements two methods (docs/extending.md has a worked
  example):
  * `update(kl)`: one training step. Calls `t = self.advance_step()`, computes its unclamped
    output W(t) from `self.setpoint_at(t)` and the KL, assigns `self.previous_output` (a
    non-trainable variable the subclass creates, holding W) and returns
    `{"beta": self.clamp(W), "kl_setpoint", "kl_feedback", "p_term", "i_term"}` (float32).
  * `logged_state()`: the last update's kl_setpoint, kl_feedback, p_term and i_term, read back
    from the state (`self.last_t()` is the last update's t).

  The state is the minimum the update needs (plus what a log needs and the update cannot
  recompute); β and the logged values are functions of it, so a compiled step carries no
  copies of them. State and arithmetic are float32 whatever the global dtype policy: under
  `mixed_bfloat16` a layer's inputs and variables would otherwise be rounded to bfloat16
  (8 significant bits: a KL of 20.05 reads as 20.0).
  """

  def __init__(self, setpoint, beta_min, beta_max=None, **kwargs):
    super().__init__(**{**kwargs, "dtype": "float32"})  # float32 whatever the policy
    if not isinstance(setpoint, SetPoint):
      setpoint = keras.saving.deserialize_keras_object(setpoint)
    if beta_max is not None and float(beta_max) < float(beta_min):
      raise ValueError(f"beta_max ({beta_max}) must be >= beta_min ({beta_min}).")
    if float(beta_min) < 0:
      raise ValueError(f"beta_min must be >= 0; got {beta_min}.")
    self.setpoint = setpoint
    self.beta_min = float(beta_min)
    self.beta_max = None if beta_max is None else float(beta_max)
    #: updates done: after n training steps both this and the model's `step` are n (int32).
    #: The update in progress is t = step + 1 (counted from 1, the official code's convention).
    self.step = self.add_weight(name="step", shape=(), dtype="int32", initializer="zeros",
                                trainable=False)

  @property
  def beta(self):
    """The current β: the last unclamped output W clamped to [β_min, β_max] (a tensor)."""
    return self.clamp(ops.convert_to_tensor(self.previous_output))

  def last_logs(self):
    """The values logged by the last update (β's initial value and zeros before any update)."""
    started = ops.convert_to_tensor(self.step) > 0
    logs = {name: ops.where(started, ops.cast(value, "float32"), 0.0)
            for name, value in self.logged_state().items()}
    logs["beta"] = self.beta
    return logs

  def logged_state(self):
    """kl_setpoint, kl_feedback, p_term, i_term of the last update, from the state."""
    raise NotImplementedError

  def clamp(self, w):
    beta = ops.maximum(w, self.beta_min)
    return beta if self.beta_max is None else ops.minimum(beta, self.beta_max)

  def setpoint_at(self, t):
    """C(t) as a float32 tensor (t: the step, counted from 1)."""
    return ops.cast(self.setpoint(t), "float32")

  def advance_step(self):
    """Counts the update in progress and returns its t (float32, counted from 1)."""
    t = ops.convert_to_tensor(self.step) + 1
    self.step.assign(t)
    return ops.cast(t, "float32")

  def last_t(self):
    """t of the last update (float32; 0 before any)."""
    return ops.cast(ops.convert_to_tensor(self.step), "float32")

  def __call__(self, kl, **kwargs):
    return super().__call__(ops.convert_to_tensor(kl, "float32"), **kwargs)

  def call(self, kl):
    return self.update(kl)["beta"]

  def get_config(self):
    return {**super().get_config(), "setpoint": keras.saving.serialize_keras_object(self.setpoint),
            "beta_min": self.beta_min, "beta_max": self.beta_max}


@keras.saving.register_keras_serializable(package="dynvae_keras")
class PIController(Controller):
  """ControlVAE's positional PI controller on the raw batch KL.

  W(t) = Kp·f(e) + I(t) + β_min with I(t) = I(t−1) − Ki·e, except that the integral is frozen
  while the previous unclamped output W(t−1) is below β_min (anti-windup). W(0) = β_min, as the
  official `P_PID.py` starts with W_k1 = 1.0 (its offset and threshold, which β_min
  generalises), so the first step integrates. β = max(W, β_min) (and ≤ β_max when given).

  Args:
    setpoint: a :class:`SetPoint` (default: ControlVAE's staircase 0.5 + 0.15 / 5000 to 18).
    kp, ki: gains (dSprites: 0.01, 0.001).
    beta_min: lower clamp and offset (1).
    beta_max: optional upper clamp (the official disentangling code has none).
  """

  def __init__(self, setpoint=None, kp=0.01, ki=0.001, beta_min=1.0, beta_max=None, **kwargs):
    from dynvae_keras.control.setpoints import StaircaseSetPoint  # pylint: disable=g-import-not-at-top
    super().__init__(setpoint or StaircaseSetPoint(), beta_min, beta_max, **kwargs)
    if float(kp) < 0 or float(ki) < 0:
      raise ValueError(f"gains must be >= 0; got kp={kp}, ki={ki}.")
    self.kp, self.ki = float(kp), float(ki)
    self.integral = self.add_weight(name="integral", shape=(), initializer="zeros", trainable=False)
    self.previous_output = self.add_weight(
        name="previous_output", shape=(), initializer=keras.initializers.Constant(self.beta_min),
        trainable=False)
    self.feedback = self.add_weight(name="feedback", shape=(), initializer="zeros", trainable=False)

  def update(self, kl):
    kl = ops.cast(kl, "float32")
    t = self.advance_step()
    setpoint = self.setpoint_at(t)
    error = setpoint - kl
    p_term = self.kp * _f(error)
    integral_prev = ops.convert_to_tensor(self.integral)
    integral = ops.where(ops.convert_to_tensor(self.previous_output) < self.beta_min,
                         integral_prev, integral_prev - self.ki * error)
    output = p_term + integral + self.beta_min
    self.integral.assign(integral)
    self.previous_output.assign(output)
    self.feedback.assign(kl)
    return {"beta": self.clamp(output), "kl_setpoint": setpoint, "kl_feedback": kl,
            "p_term": p_term, "i_term": integral}

  def logged_state(self):
    setpoint = self.setpoint_at(self.last_t())
    feedback = ops.convert_to_tensor(self.feedback)
    return {"kl_setpoint": setpoint, "kl_feedback": feedback,
            "p_term": self.kp * _f(setpoint - feedback),  # the update's own expression
            "i_term": ops.convert_to_tensor(self.integral)}

  def get_config(self):
    return {**super().get_config(), "kp": self.kp, "ki": self.ki}


@keras.saving.register_keras_serializable(package="dynvae_keras")
class IncrementalPIController(Controller):
  """DynamicVAE's incremental PI controller on a moving average of the batch KL.

  W(t) = W(t−1) + Kp·[f(e(t)) − f(e(t−1))] − Ki·e(t), the Ki term skipped while W(t−1) < β_min;
  W(0) = β₀, e(−1) = 0; β = max(W, β_min) (and ≤ β_max when given); W is kept unclamped.
  The feedback y(t) is the mean of the last `window` batch KLs (:class:`MovingAverage`).
  Logged: `p_term` = Kp·(f(e(t)) − f(0)) (the P increments telescope) and `i_term` = the
  integrated −Ki·e, so that W = β₀ + p_term + i_term; `i_term` is computed as
  W − β₀ − p_term (exact up to float32 rounding of W) rather than accumulated in a variable of
  its own, which would cost a kernel and a copy per training step.

  Args:
    setpoint: a :class:`SetPoint` (default: DynamicVAE's hybrid annealing 0.5, +0.15 per 6000
      steps ramped over 1000, to 20).
    beta_0: initial β (dSprites 50).
    beta_min: lower clamp (0.1).
    kp, ki: gains (0.01, 0.005).
    window: moving-average length T (5).
    zero_init: initialise the FIFO with zeros as the official code.
    beta_max: optional upper clamp.
  """

  def __init__(self, setpoint=None, beta_0=50.0, beta_min=0.1, kp=0.01, ki=0.005, window=5,
               zero_init=True, beta_max=None, **kwargs):
    from dynvae_keras.control.setpoints import HybridAnnealingSetPoint  # pylint: disable=g-import-not-at-top
    super().__init__(setpoint or HybridAnnealingSetPoint(), beta_min, beta_max, **kwargs)
    if float(beta_0) < float(beta_min):
      raise ValueError(f"beta_0 ({beta_0}) must be >= beta_min ({beta_min}).")
    if float(kp) < 0 or float(ki) < 0:
      raise ValueError(f"gains must be >= 0; got kp={kp}, ki={ki}.")
    self.beta_0, self.kp, self.ki = float(beta_0), float(kp), float(ki)
    self.window, self.zero_init = int(window), bool(zero_init)
    self.average = MovingAverage(self.window, zero_init=self.zero_init, name="kl_average")
    self.previous_output = self.add_weight(
        name="previous_output", shape=(), initializer=keras.initializers.Constant(self.beta_0),
        trainable=False)
    self.previous_error = self.add_weight(name="previous_error", shape=(), initializer="zeros",
                                          trainable=False)

  @property
  def integral(self):
    """The integrated −Ki·e up to the last update (a tensor), from the state."""
    return self._i_term(ops.convert_to_tensor(self.previous_output),
                        self._p_term(ops.convert_to_tensor(self.previous_error)))

  def _p_term(self, error):
    return self.kp * (_f(error) - 0.5)

  def _i_term(self, output, p_term):
    return output - self.beta_0 - p_term

  def update(self, kl):
    kl = ops.cast(kl, "float32")
    t = self.advance_step()
    feedback = self.average(kl)
    setpoint = self.setpoint_at(t)
    error = setpoint - feedback
    previous_output = ops.convert_to_tensor(self.previous_output)
    d_p = self.kp * (_f(error) - _f(ops.convert_to_tensor(self.previous_error)))
    d_i = ops.where(previous_output < self.beta_min, 0.0, -self.ki * error)
    output = previous_output + d_p + d_i
    self.previous_output.assign(output)
    self.previous_error.assign(error)
    p_term = self._p_term(error)
    return {"beta": self.clamp(output), "kl_setpoint": setpoint, "kl_feedback": feedback,
            "p_term": p_term, "i_term": self._i_term(output, p_term)}

  def logged_state(self):
    p_term = self._p_term(ops.convert_to_tensor(self.previous_error))
    return {"kl_setpoint": self.setpoint_at(self.last_t()),
            "kl_feedback": self.average.value(), "p_term": p_term,
            "i_term": self._i_term(ops.convert_to_tensor(self.previous_output), p_term)}

  def get_config(self):
    return {**super().get_config(), "beta_0": self.beta_0, "kp": self.kp, "ki": self.ki,
            "window": self.window, "zero_init": self.zero_init}
