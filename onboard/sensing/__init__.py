"""What the camera sees: the synthetic world or real imagery, in map projections, and the imager and burst camera that
turn it into digital numbers."""
