"""The command line, above both sides: ``orbitedge run`` simulates the spacecraft (onboard) and reports from the
run directory (ground); validate, report, hardware and bench."""
