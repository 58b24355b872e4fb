"""The ground segment of orbitedge: reception, stitching, metrics and reports, from a run directory alone."""
