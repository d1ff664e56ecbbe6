"""Pointwise physics shared by every layer: each block a frozen dataclass with a registry and a Numba code table."""

from . import schedules  # noqa: F401  (registers the schedule blocks and their warm-up)
from .schedules import Constant, PowerLaw, Schedule, get_schedule
