"""The SimPy model of a mission: the satellite processes, imaging, power, storage, the downlink and its link budget,
and the recorder that writes the run directory."""
