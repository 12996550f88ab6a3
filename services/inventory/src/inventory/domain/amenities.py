"""Amenities: the short tokens (``ac``, ``wifi``, ``pool``) that buses, hotels and room types advertise."""

from __future__ import annotations

import re
from collections.abc import Sequence

from inventory.domain.violations import Violation, item_violations
from tripline.contracts.inventory import AMENITY_PATTERN

MAX_AMENITIES = 30
AMENITY = re.compile(AMENITY_PATTERN)


def amenity_violations(amenities: Sequence[str]) -> list[Violation]:
    """At most 30 distinct lowercase tokens of letters, digits and underscores."""
    if len(amenities) > MAX_AMENITIES:
        return [Violation("amenities", f"At most {MAX_AMENITIES} amenities")]
    return item_violations("amenities", amenities, AMENITY, "Amenity must be 1 to 32 of a-z, 0-9 and _")
