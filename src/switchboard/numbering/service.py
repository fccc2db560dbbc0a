"""The numbering capability's service interface: ranges (numbering.ranges), allocation
(numbering.allocation, on the generic allocator of numbering.pool) and the span
arithmetic (numbering.spans)."""

from switchboard.numbering.allocation import (  # noqa: F401
    UNSET,
    allocate_did,
    allocate_dn,
    refresh_reserved_dns,
    release_did,
    release_dn,
)
from switchboard.numbering.sweep import SWEEP_BATCH  # noqa: F401
from switchboard.numbering.ranges import (  # noqa: F401
    MAX_AVAILABLE,
    RangeInfo,
    available_dns,
    create_did_range,
    create_dn_range,
    delete_did_range,
    delete_dn_range,
    get_did_range,
    get_dn_range,
    list_did_ranges,
    list_dn_ranges,
    next_free_dns,
)
from switchboard.numbering.spans import Mapping, Span, check_did_range, check_dn_range, dn_ranges_overlap, split_dn  # noqa: F401,E501
