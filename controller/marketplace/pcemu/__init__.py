"""The Partner Center ingestion API v1 emulator: `offerctl marketplace serve --api partnercenter`.

It serves the v1 surface offerctl's Partner Center client uses, under
`/v1.0/ingestion`, with v1's JSON names, casing and enums
(`schemas/partnercenter/`). Publishing runs on the simulated marketplace's
engine (`SimulatedMarketplace`: stages, durations, time scale, certification
rules), so the emulator decides nothing about timing or findings itself.

Modules: `views` (pure: engine submissions as v1 documents, v1 drafts as the
spec certification reads), `store` (the v1 resources of every product, with
ETags, behind one lock), `server` (HTTP, faults, the `/_emulator/` admin
surface).
"""

from .server import API_PREFIX, PartnerCenterEmulator, running_emulator

__all__ = ["API_PREFIX", "PartnerCenterEmulator", "running_emulator"]
