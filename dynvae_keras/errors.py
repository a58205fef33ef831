"""`DynvaeError`: the base of every error the library raises on purpose.

Each error class also derives from the built-in exception it refines (`ValueError`,
`FileNotFoundError`, ...), so `except ValueError` keeps working. The command-line tool prints
any `DynvaeError` as one line, `dynvae <command>: error: <message>`, and exits with status 2.
"""


class DynvaeError(Exception):
  """An anticipated failure whose message names the problem and the fix."""


class TrainingDataError(DynvaeError, ValueError):
  """Training images are not float NHWC in [0, 1] without NaN (the message says what to change)."""
