"""The on-board pipeline: its stages (cloud filter, super-resolution, encode), tiling, fusion, registration and the
spectral baseline."""
