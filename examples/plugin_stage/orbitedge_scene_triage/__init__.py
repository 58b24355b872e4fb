"""orbitedge-scene-triage: an example stage plugin for orbitedge, a SmartCam-style scene triage classifier
(:mod:`orbitedge_scene_triage.triage`), registered through the entry-point group ``orbitedge.stages``."""
