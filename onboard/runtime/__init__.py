"""Models on board: the LiteRT and ONNX Runtime wrappers, model cards, static checks, hardware profiles, benchmarks and
the hardware-in-the-loop pytest plugin."""
