"""llmbench: benchmark LLM inference backends and report honestly."""

__version__ = "0.1.0"
