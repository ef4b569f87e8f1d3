"""
Tolerant comparison of switch port and host names as NetBox and LLDP print them:
``Ethernet7`` = ``Et7`` = ``eth7``; ``GigabitEthernet1/0/1`` = ``Gi1/0/1``;
``TenGigabitEthernet1/1`` = ``Te1/1``; ``xe-0/0/1`` only equals ``xe-0/0/1``;
``tor1-r1.lab1.example.net`` = ``TOR1-R1``.
"""

import re

# Canonical token for each spelling of an interface type prefix (lowercase).
_PREFIX_ALIASES = {
    "ethernet": "ethernet",
    "eth": "ethernet",
    "et": "ethernet",
    "e": "ethernet",
    "gigabitethernet": "gigabitethernet",
    "gige": "gigabitethernet",
    "gi": "gigabitethernet",
    "ge": "ge",  # Juniper ge-0/0/0 is its own name
    "tengigabitethernet": "tengigabitethernet",
    "tengige": "tengigabitethernet",
    "te": "tengigabitethernet",
    "twentyfivegige": "twentyfivegige",
    "twe": "twentyfivegige",
    "fortygigabitethernet": "fortygigabitethernet",
    "fortygige": "fortygigabitethernet",
    "fo": "fortygigabitethernet",
    "hundredgige": "hundredgige",
    "hundredgigabitethernet": "hundredgige",
    "hu": "hundredgige",
    "fastethernet": "fastethernet",
    "fa": "fastethernet",
    "port-channel": "port-channel",
    "portchannel": "port-channel",
    "po": "port-channel",
    "management": "management",
    "mgmt": "management",
    "ma": "management",
}

_SPLIT = re.compile(r"^([a-z][a-z-]*?)-?(\d.*)$")


def canonical_port(name):
    """
    Canonical form of a port name: ``("ethernet", "7")`` for ``Ethernet7``/``Et7``/``eth 7``.
    Names without a known prefix come back whole and lowercased (``("", "swp46")``).
    """
    if name is None:
        return None
    text = re.sub(r"\s+", "", str(name)).lower()
    match = _SPLIT.match(text)
    if match:
        prefix, rest = match.groups()
        if prefix in _PREFIX_ALIASES:
            return (_PREFIX_ALIASES[prefix], rest)
    return ("", text)


def same_port(left, right):
    """True when two port names denote the same port (see module docstring)."""
    if not left or not right:
        return False
    return canonical_port(left) == canonical_port(right)


def short_host(name):
    """``'tor1-r1.lab1.example.net'`` -> ``'tor1-r1'`` (lowercase); ``None`` stays ``None``."""
    if not name:
        return None
    return str(name).strip().lower().split(".")[0] or None


def same_host(left, right):
    """True when two device names denote the same device (case and domain insensitive)."""
    return bool(left and right) and short_host(left) == short_host(right)
