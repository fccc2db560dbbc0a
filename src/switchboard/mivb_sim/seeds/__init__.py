"""Seed files shipped with mivb-sim, and a generator of large ones (docs/mivb-sim.md).

`demo_pbx_users.json` is the PBX `make run` starts with: 40 users configured before
Switchboard existed, for the "adopt a PBX that already has users" flow. It replaces only the
users and the template list (the four built-in templates, unchanged, plus "Legacy Operator",
which no demo service category uses) and sets `legacy_group_limits`, because Support PRG holds
10 phones. It is built to fit the demo data of switchboard/demo.py: DN range 2000-2199, DID
range +15145550000-+15145550199 mapped 1:1 onto DNs 2000-2199, templates of the demo
categories. Seed DNs sit at 2150-2199 (or 3000-3099, outside every range), away from the DNs
the demo allocates first.

User keys per case (`demo_pbx_users.expected.json` has the case, the expected matching
Switchboard e-mail and the expected conflict codes of each user):

* U1001-U1012 `match`: the e-mail (mixed case on purpose) is that of a demo user the demo
  does not configure; DIDs are the mapped ones or null. U1005, U1007, U1008 are also in the
  over-full Support PRG (`group_full`).
* U1101-U1120 `new`: nobody in Switchboard has the e-mail; U1104, U1112, U1118 have none.
  U1105, U1106 are in Support PRG (`group_full`); U1118-U1120 use DNs 3010-3013
  (`dn_outside_ranges`).
* U1201 `dn_outside_ranges`: desk phone on DN 3050 (DID +15145551050).
* U1202, U1203 `did_mapping_mismatch`: DNs 2166 and 2167 carry each other's DID, and U1202's
  softphone on DN 2168 has +15145550999 (outside the DID range).
* U1204, U1205 `template_unmapped`: template "Legacy Operator".
* U1206, U1207 `email_duplicate`: both nadia.roussel@demo.example (different case).
* U1208 `group_full`: 3 of the 10 phones of Support PRG (limit 8).
"""

from importlib import resources
from pathlib import Path

from .generate import generate_seed

DEMO_SEED = "demo_pbx_users.json"
DEMO_EXPECTED = "demo_pbx_users.expected.json"

__all__ = ["DEMO_EXPECTED", "DEMO_SEED", "demo_expected_path", "demo_seed_path", "generate_seed"]


def _shipped(name: str) -> Path:
    resource = resources.files(__name__) / name
    if not isinstance(resource, Path):  # a zipped install: no file to hand to `mivb-sim --seed`
        raise FileNotFoundError(f"{name} is not a file on disk ({resource})")
    return resource


def demo_seed_path() -> Path:
    """The demo seed file: `mivb-sim --seed <this>` starts with the 40 legacy users."""
    return _shipped(DEMO_SEED)


def demo_expected_path() -> Path:
    """user_key -> {case, expected_match_email, expected_conflicts} for the demo seed."""
    return _shipped(DEMO_EXPECTED)
