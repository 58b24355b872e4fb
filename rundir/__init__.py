"""The run directory: the one contract between the spacecraft (onboard, which writes it) and the ground (which
reads it): the manifest line, product codecs, atomic file writes and the errors both sides raise. Imports neither
side."""
