"""One way to name a slice everywhere: ``SLICER:ID`` (``attribution:attribution-03``), or
just the id when the slicer is its prefix (``attribution-03``).

Examples
--------
>>> parse_slice_address("attribution:attribution-03")
('attribution', 'attribution-03')
>>> parse_slice_address("error-clustering-02")
('error-clustering', 'error-clustering-02')
>>> parse_slice_address("07", default_slicer="attribution")
('attribution', 'attribution-07')
"""

from __future__ import annotations

from slicelens.errors import SliceLensError


def parse_slice_address(address: str, default_slicer: str | None = None) -> tuple[str, str]:
    """``(slicer, slice_id)`` of a slice address.

    Parameters
    ----------
    address : str
        ``SLICER:ID``, an id whose prefix before its last ``-`` is the slicer, or (with
        ``default_slicer``) a bare number.
    default_slicer : str, optional
        The slicer when the address does not name one (a bare id or number).
    """
    text = str(address).strip()
    if ":" in text:
        slicer, sid = (part.strip() for part in text.split(":", 1))
        if not slicer or not sid:
            raise SliceLensError(f"slice address {address!r}: give SLICER:ID, e.g. "
                                 "attribution:attribution-03")
        return slicer, sid
    if text.isdigit() and default_slicer:
        return default_slicer, f"{default_slicer}-{int(text):02d}"
    if "-" in text:
        prefix = text.rsplit("-", 1)[0]
        if default_slicer and prefix != default_slicer and not text.startswith(default_slicer):
            return default_slicer, text
        return prefix, text
    if default_slicer:
        return default_slicer, text
    raise SliceLensError(f"slice address {address!r}: give SLICER:ID, e.g. "
                         "attribution:attribution-03")
