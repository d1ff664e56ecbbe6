"""Pointwise physics shared by every layer: each block a frozen dataclass with a registry and a Numba code table."""

from . import schedules
from .schedules import Constant, PowerLaw, Schedule, get_schedule

__all__ = ["schedules", "Schedule", "Constant", "PowerLaw", "get_schedule"]
