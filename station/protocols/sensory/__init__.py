"""The sensory protocols: vibration threshold, amplitude discrimination, texture
discrimination and localisation, in training and assessment modes, on one engine
(:mod:`station.protocols.sensory.engine`; design choices in docs/sensory.md).

``frequency_discrimination`` is in the catalogue so that a plan naming it is refused on
arrival with the reason: no actuator the station supports varies frequency at a matched
intensity (an ERM couples frequency to amplitude, an LRA runs at its resonance).
"""

from __future__ import annotations

from station.protocols.sensory.engine import SensoryProtocol
from station.protocols.sensory.texture import TextureDiscrimination
from station.protocols.sensory.vibration import (
    AmplitudeDiscrimination,
    Localisation,
    VibrationThreshold,
)

SENSORY = (VibrationThreshold, AmplitudeDiscrimination, TextureDiscrimination, Localisation)

__all__ = [
    "SENSORY",
    "AmplitudeDiscrimination",
    "Localisation",
    "SensoryProtocol",
    "TextureDiscrimination",
    "VibrationThreshold",
]
