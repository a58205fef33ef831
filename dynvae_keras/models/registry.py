"""Name lookup for registered builders (architectures, reconstruction losses).

Models store builders by name so that their configs serialise; users may pass the name or the
builder itself (including gin's wrapped version of it).
"""

from __future__ import annotations


def registered_name(fn, registry: dict, kind: str) -> str:
  """The key of `fn` in `registry`, given as a key or as one of the registered callables."""
  if isinstance(fn, str):
    if fn not in registry:
      raise ValueError(f"Unknown {kind} '{fn}'; known: {sorted(registry)}.")
    return fn
  for name, builder in registry.items():
    if fn is builder or getattr(fn, "__name__", None) == name:
      return name
  raise ValueError(f"{fn!r} is not a registered {kind}; known: {sorted(registry)}.")
