"""The clear atmosphere over the synthetic world: Rayleigh and aerosol path reflectance and transmittance.

Single scattering for a nadir view, per band; the clouds above it are :mod:`onboard.sensing.cloud_layers`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANGSTROM_EXPONENT = 1.3  # continental aerosol (Holben et al. 2001, AERONET climatology)
AEROSOL_ASYMMETRY = 0.65  # Henyey-Greenstein g of continental aerosol (Dubovik et al. 2002)
AEROSOL_SSA = 0.93  # single-scattering albedo (Dubovik et al. 2002)
# Median aerosol optical depth at 550 nm over land; with AOD_LOG_SIGMA its mean is 0.14 exp(0.75^2 / 2) = 0.19, the
# MODIS global mean over land (Remer et al. 2008, J. Geophys. Res. 113).
AOD550_MEDIAN = 0.14
AOD_LOG_SIGMA = 0.75  # AOD is log-normal, sigma of ln(AOD) ~0.6-0.9 at AERONET sites (O'Neill et al. 2000)
SKY_DIFFUSE_SHARE = 0.25  # share of ground irradiance that is sky light, which still reaches a cloud's shadow: a
# modelling choice, one value for every band and sun (clear-sky diffuse fractions run ~0.1 in NIR to ~0.3 in blue)


def rayleigh_optical_depth(wavelength_um: np.ndarray) -> np.ndarray:
    """Sea-level Rayleigh optical depth at ``wavelength_um`` (any shape, micrometres), unitless.

    Hansen & Travis (1974), Space Sci. Rev. 16, eq. 2.31: 0.008569 L^-4 (1 + 0.0113 L^-2 + 0.00013 L^-4)."""
    w2 = np.asarray(wavelength_um, dtype=np.float32) ** -2
    return (np.float32(0.008569) * w2 * w2 * (1 + np.float32(0.0113) * w2 + np.float32(0.00013) * w2 * w2))


@dataclass
class ClearSky:
    """The cloud-free atmosphere over a footprint, per band (B bands): float32 arrays that broadcast to (B, H, W)."""

    rayleigh_path: np.ndarray  # (B, 1, 1) Rayleigh path reflectance
    aerosol_path: np.ndarray  # (B, H, W) aerosol path reflectance
    rayleigh_t: np.ndarray  # (B, 1, 1) two-way transmittance of the Rayleigh atmosphere alone
    transmittance: np.ndarray  # (B, H, W) two-way transmittance, Rayleigh and aerosol
    rayleigh_tau: np.ndarray  # (B,) Rayleigh optical depth


def clear_sky(aerosol: np.ndarray, mu_sun: float, band_centres_um: np.ndarray) -> ClearSky:
    """The atmosphere in bands centred at ``band_centres_um`` (B,) float32 micrometres for a nadir view with the
    sun's zenith cosine ``mu_sun``; ``aerosol`` (H, W) is a unit-variance field that sets the aerosol optical depth.

    AOD at 550 nm is log-normal around AOD550_MEDIAN (AOD_LOG_SIGMA), with ANGSTROM_EXPONENT across the
    bands. Path reflectance is single scattering (Gordon 1997, J. Geophys. Res. 102, eq. 3):
    ``(tau_R P_R + w tau_a P_HG) / (4 mu_s mu_v)`` at the backscatter angle 180 deg - sun zenith, Rayleigh phase
    0.75 (1 + cos^2), Henyey-Greenstein for aerosol. Diffuse transmittance keeps the forward-scattered light:
    ``exp(-(tau_R / 2 + (1 - w g) tau_a) (1/mu_s + 1/mu_v))`` (Gordon & Wang 1994, Appl. Opt. 33, 443)."""
    mu_sun = max(mu_sun, 0.1)
    cos_scatter = -mu_sun  # nadir view: scattering angle 180 deg minus the sun's zenith angle
    rayleigh_phase = 0.75 * (1.0 + cos_scatter**2)
    g = AEROSOL_ASYMMETRY
    aerosol_phase = (1 - g * g) / (1 + g * g - 2 * g * cos_scatter) ** 1.5
    aod550 = np.float32(AOD550_MEDIAN) * np.exp(np.float32(AOD_LOG_SIGMA) * aerosol)
    airmass = np.float32(1.0 / mu_sun + 1.0)
    rayleigh_tau = rayleigh_optical_depth(band_centres_um)
    tau_r = rayleigh_tau[:, None, None]
    tau_a = aod550[None] * ((band_centres_um / np.float32(0.55)) ** np.float32(-ANGSTROM_EXPONENT))[:, None, None]
    rayleigh_path = tau_r * np.float32(rayleigh_phase / (4.0 * mu_sun))
    aerosol_path = tau_a * np.float32(AEROSOL_SSA * aerosol_phase / (4.0 * mu_sun))
    rayleigh_t = np.exp(-tau_r / 2 * airmass)
    return ClearSky(rayleigh_path, aerosol_path, rayleigh_t,
                    rayleigh_t * np.exp(-np.float32(1 - AEROSOL_SSA * g) * tau_a * airmass), rayleigh_tau)
