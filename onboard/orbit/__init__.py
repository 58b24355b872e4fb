"""Orbital mechanics: element sets, SGP4 ephemerides, Earth-fixed frames, the sun, and passes over stations and targets."""
