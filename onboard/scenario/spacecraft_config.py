"""The spacecraft of a scenario, shared by every satellite: the camera (its one description, with burst imaging),
the on-board computer, mass memory, electrical power and the payload downlink."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import ClassVar, Literal

from rundir.codec import BIT_DEPTHS, packed_size_bytes
from rundir.errors import ConfigIssue

from ..runtime import hardware
from ..sim.downlink import frame_error_rate
from ..sim.link_budget import DVB_S2_NAMES, qef_frame_error_rate
from .schema import issue_at, spec

BANDS = ("B", "G", "R", "NIR")


@dataclass(frozen=True, kw_only=True)
class BurstConfig:
    """Burst imaging for multi-frame super-resolution, used when the pipeline has a ``superres`` stage."""

    frames: int = spec(8, ge=2, le=64, doc="K low-res frames taken of each scene")
    jitter_px: float = spec(1.0, ge=0, le=10, doc="platform jitter: each frame's shift is uniform in +-jitter_px per axis")
    mtf_nyquist: float | None = spec(None, gt=0, lt=1, doc="optics MTF at Nyquist; null: the Gaussian psf_sigma_px")
    frame_cloud_cover: float = spec(0.05, ge=0, lt=1, doc="cover of a cloud layer that moves from frame to frame")
    cloud_drift_px: float = spec(2.0, ge=0, le=50, doc="how far that layer moves between frames")


@dataclass(frozen=True, kw_only=True)
class CameraConfig:
    """The imager: frame size, ground sample distance, bands, radiometry, pointing limits and burst imaging; the
    one description of the camera that the scenario, :mod:`onboard.sensing.camera` and :mod:`onboard.sensing.burst` share.

    Radiometric calibration is linear with no offset: ``DN = reflectance * dn_max / reflectance_max`` with
    ``dn_max = 2**bit_depth - 1``; TOA reflectance ``reflectance_max`` (1.2, above nearly all cloud and snow, which
    reach 1.0-1.3: the brightest saturate, as on real sensors) fills the full well. The key rules (``bit_depth``
    8..16 and the rest) are checked where a scenario is built.
    """

    reflectance_max: ClassVar[float] = 1.2  # TOA reflectance that reads dn_max; not a scenario key
    width_px: int = spec(gt=0, le=20000, doc="frame width")
    height_px: int = spec(gt=0, le=20000, doc="frame height (along track)")
    gsd_m: float = spec(gt=0, le=1000, doc="ground sample distance at nadir")
    bands: list[Literal["B", "G", "R", "NIR"]] = spec(min_items=1, doc="band order, a subset of B, G, R, NIR")
    bit_depth: int = spec(12, ge=BIT_DEPTHS[0], le=BIT_DEPTHS[1],
                          doc="bits per sample; raw bytes = W*H*bands*bit_depth/8")
    psf_sigma_px: float = spec(0.5, ge=0, le=5, doc="Gaussian PSF sigma (single frames: OpenCV's kernel sampled "
                               "on the frame grid, sharper than the continuous Gaussian below 1 px; see "
                               "onboard.sensing.camera.capture)")
    read_noise_dn: float = spec(2.0, ge=0, doc="read noise, DN rms (the default is a modelling choice)")
    full_well_e: float = spec(20000.0, gt=0, doc="electrons at full scale, sets shot noise (the default is a modelling "
                              "choice)")
    max_off_nadir_deg: float = spec(30.0, ge=0, le=60, doc="pointing limit for imaging a target")
    min_sun_elevation_deg: float = spec(10.0, ge=-10, le=90, doc="image only when the sun is this high at the target")
    forward_overlap_fraction: float = spec(0.1, ge=0, lt=0.9, doc="overlap between successive frames of a strip")
    power_w: float = spec(4.0, ge=0, doc="camera power while imaging (the default is a modelling choice)")
    burst: BurstConfig = spec(BurstConfig(), doc="burst imaging (with a superres stage)")

    def check(self) -> list[ConfigIssue]:
        if len(set(self.bands)) != len(self.bands):
            return [issue_at("bands", "each band once", repr(self.bands))]
        return []

    @property
    def raw_bytes(self) -> int:
        """Bytes of one bit-packed raw frame: ``ceil(W * H * B * bit_depth / 8)``, the bent-pipe cost."""
        return packed_size_bytes(self.width_px * self.height_px * len(self.bands), self.bit_depth)

    @property
    def dn_max(self) -> int:
        """Largest digital number, ``2**bit_depth - 1``."""
        return (1 << self.bit_depth) - 1

    @property
    def electrons_per_dn(self) -> float:
        """Conversion gain, electrons per DN."""
        return self.full_well_e / self.dn_max


X86_MACHINES = ("x86_64", "amd64", "i386", "i686")  # platform.machine() of an x86 host, lower case


@dataclass(frozen=True, kw_only=True)
class ComputeConfig:
    hardware: str = spec("host", doc="hardware profile name (orbitedge hardware list)")
    timing: Literal["projected", "measured"] = spec("projected", doc="stage times projected from the profile, or "
                                                    "measured: the wall time of each stage on the device running "
                                                    "the simulation (hardware in the loop)")

    def check(self) -> list[ConfigIssue]:
        names = hardware.profile_names()
        if self.hardware not in names:
            return [issue_at("hardware", "one of " + ", ".join(names), repr(self.hardware))]
        return []

    def measured_off_board(self, machine: str | None = None) -> list[ConfigIssue]:
        """A warning, at ``timing``, when stage times are to be measured (hardware in the loop) on a machine that
        cannot be the profile's device: an x86 ``machine`` (``platform.machine()`` by default) under any profile but
        ``host``, every other shipped profile being an ARM board (Coral, Jetson, Raspberry Pi, the flight CPU). The
        report would give this machine's stage times as the board's."""
        machine = machine or platform.machine()
        if self.timing != "measured" or self.hardware == "host" or machine.lower() not in X86_MACHINES:
            return []
        return [issue_at("timing", f"a run on the {self.hardware} device itself to measure its stage times",
                         f"measured on this {machine} machine, which no {self.hardware} is: the report would give "
                         f"its stage times as the {self.hardware}'s; use timing: projected here, or run on the board")]


@dataclass(frozen=True, kw_only=True)
class StorageConfig:
    capacity_mb: float = spec(gt=0, doc="mass memory for frames and products, 1 MB = 1e6 bytes; at least one "
                              "capture's raw frames")
    policy: Literal["drop_oldest", "drop_lowest_priority", "stop_imaging"] = spec("drop_oldest", doc="what to do when full")


@dataclass(frozen=True, kw_only=True)
class PowerConfig:
    battery_wh: float = spec(gt=0, doc="battery capacity")
    initial_soc_fraction: float = spec(1.0, ge=0, le=1, doc="state of charge at start")
    solar_w: float = spec(ge=0, doc="array output in sunlight (orbit-average attitude)")
    bus_idle_w: float = spec(ge=0, doc="platform load, always on")
    radio_tx_w: float = spec(ge=0, doc="transmitter load while downlinking")
    brownout_soc_fraction: float = spec(0.2, ge=0, lt=1, doc="below this, imaging and compute pause")


@dataclass(frozen=True, kw_only=True)
class LinkBudgetConfig:
    """The payload link budget (:mod:`onboard.sim.link_budget`): each pass's rate follows its slant range, with adaptive
    coding and modulation over the DVB-S2 MODCODs of ETSI EN 302 307-1 table 13."""

    eirp_dbw: float = spec(ge=-30, le=80, doc="spacecraft EIRP toward the station, dBW")
    g_t_db_k: float = spec(ge=-40, le=60, doc="ground station G/T, dB/K; a station's own g_t_db_k overrides it")
    frequency_ghz: float = spec(ge=0.1, le=100, doc="carrier frequency, GHz (X-band: 8.0 to 8.4)")
    symbol_rate_msps: float = spec(gt=0, le=2000, doc="symbol rate, Msym/s; the rate is this times the MODCOD's "
                                   "bits per symbol")
    implementation_loss_db: float = spec(1.0, ge=0, le=20, doc="modem loss against the ideal DVB-S2 thresholds, dB "
                                         "(the defaults of the losses and margin are modelling choices)")
    other_losses_db: float = spec(1.0, ge=0, le=50, doc="atmospheric, polarisation and pointing losses, dB")
    margin_db: float = spec(3.0, ge=0, le=30, doc="Es/N0 above a MODCOD's threshold before the modem uses it, dB")
    modcods: list[str] | None = spec(None, min_items=1, doc="DVB-S2 MODCODs the modem may use, e.g. [QPSK 1/2, "
                                     "8PSK 3/4] (ACM between them); one name: CCM; null: all 28")

    def check(self) -> list[ConfigIssue]:
        out = []
        for i, name in enumerate(self.modcods or ()):
            if name not in DVB_S2_NAMES:
                out.append(issue_at(f"modcods[{i}]", "a DVB-S2 MODCOD: " + ", ".join(DVB_S2_NAMES), repr(name)))
            elif self.modcods.index(name) != i:
                out.append(issue_at(f"modcods[{i}]", "each MODCOD once", f"duplicate {name!r}"))
        return out


@dataclass(frozen=True, kw_only=True)
class RadioConfig:
    rate_mbps: float | None = spec(None, gt=0, doc="constant downlink bit rate, 1 Mbps = 1e6 bit/s; required without "
                                   "link_budget, with one the constant-rate model the report compares it with")
    protocol_overhead_fraction: float = spec(0.1, ge=0, lt=1, doc="framing, coding and protocol share of the rate "
                                             "(with link_budget: framing and protocol; the MODCOD has the coding; "
                                             "the default is a modelling choice)")
    frame_bytes: int = spec(1024, ge=64, le=65536, doc="transfer frame size: the unit lost and retransmitted")
    frame_error_rate: float | None = spec(None, ge=0, lt=1, doc="share of frames lost (CRC fails) and sent again; "
                                          "excludes eb_n0_db; null: 0 unless eb_n0_db is set (with link_budget: the "
                                          "DVB-S2 quasi-error-free rate)")
    eb_n0_db: float | None = spec(None, ge=-5, le=30, doc="link budget Eb/N0 at the demodulator: the frame error "
                                  "rate of uncoded BPSK/QPSK frames of frame_bytes (a coded link's Eb/N0 is some "
                                  "5 dB below what this needs: give its frame_error_rate instead)")
    link_budget: LinkBudgetConfig | None = spec(None, doc="a rate that follows each pass (slant range, DVB-S2 ACM); "
                                                "null: rate_mbps throughout")

    @property
    def payload_bytes_per_s(self) -> float | None:
        """The constant rate's useful bytes per second; None without ``rate_mbps``."""
        if self.rate_mbps is None:
            return None
        return self.rate_mbps * 1e6 / 8 * (1 - self.protocol_overhead_fraction)

    @property
    def link_frame_error_rate(self) -> float:
        """The frame error rate set, or derived from ``eb_n0_db``, or under a link budget the quasi-error-free one."""
        if self.eb_n0_db is not None:
            return frame_error_rate(self.eb_n0_db, self.frame_bytes)
        if self.frame_error_rate is None and self.link_budget is not None:
            return qef_frame_error_rate(self.frame_bytes)
        return self.frame_error_rate or 0.0

    def check(self) -> list[ConfigIssue]:
        if self.rate_mbps is None and self.link_budget is None:
            return [issue_at("rate_mbps", "a constant rate in Mbps, or a link_budget", "neither")]
        if self.eb_n0_db is not None and self.link_budget is not None:
            return [issue_at("eb_n0_db", "either eb_n0_db or link_budget (which gives Es/N0 over each pass)", "both")]
        if self.frame_error_rate is not None and self.eb_n0_db is not None:
            return [issue_at("frame_error_rate", "either frame_error_rate or eb_n0_db", "both")]
        if self.eb_n0_db is not None and self.link_frame_error_rate > 0.9:
            return [issue_at("eb_n0_db", f"a link that delivers frames of {self.frame_bytes} bytes (frame error "
                             f"rate <= 0.9)", f"{self.eb_n0_db} dB: frame error rate {self.link_frame_error_rate:.3f}")]
        return []


@dataclass(frozen=True, kw_only=True)
class SpacecraftConfig:
    camera: CameraConfig = spec(doc="imager")
    compute: ComputeConfig = spec(ComputeConfig(), doc="on-board computer")
    storage: StorageConfig = spec(doc="mass memory")
    power: PowerConfig = spec(doc="electrical power system")
    radio: RadioConfig = spec(doc="payload downlink")

