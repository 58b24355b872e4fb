"""The spacecraft side of orbitedge: orbit, world, camera, compute, pipeline, storage, power and downlink."""

__version__ = "0.1.0"
