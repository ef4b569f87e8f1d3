"""
Hardware generation profiles: schema validation, matching an inventory to a generation, and the
lookup of the profile that applies to a box.

A profile (one per generation, pillar ``hwgen_profiles:<name>``)::

    description: Dell PowerEdge M630 blade, edge compute
    device_types: [poweredge-m630]          # NetBox device type slugs (or models) it covers
    match:                                  # recognise the generation from an inventory
      vendor: '^Dell'                       # regular expressions, searched case-insensitively
      product: 'PowerEdge M630'
    expected:
      cpu: {model: 'E5-2683 v3', sockets: 2, cores: 28, threads: 56,
            socket_type: 'LGA2011-3', stepping: {min: 2}, signature: 'Family 6, Model 63'}
      memory: {total_gb: 64, dimm_count: 8, dimm_size_gb: 8, type: DDR4, module: '^RDIMM$',
               ecc: true, rank: 2, max_capacity_gb: {min: 768}}
      disks: [{class: ssd, count: 2, min_size_gb: 400, model: 'INTEL'}]
      nics: {count: 2, min_speed_mbps: 10000, driver: '^bnxt_en$'}
      pcie: {slots_in_use: 1}               # PCI/PCIe slots (SMBIOS type 9) in use
      lldp: {min_mfs: 9216, link_type: '^10G'}  # the switch ports, as LLDP reports them
      psus: {count: 2}
      firmware: {bios: '1.2.5', bmc: '2.40', nic: '20.6', bmc_family: 'iDRAC 8'}
    config:
      nic_naming: {by: mac}                 # or {by: pci, names: {eno1: '0000:01:00.0'}}
      bond: {name: bond0, members: [eno1, eno2], mode: 802.3ad, lacp_rate: fast,
             xmit_hash_policy: layer3+4, miimon: 100}
      mtu: 9000
      disk_layout: {...}                    # free-form, passed to the storage states
      sysctl: {vm.swappiness: 1}
      kernel_args: [intel_iommu=on]
    services:                               # checked after the highstate (turn-up post-check)
      lldpd: {}                             # running and enabled (the default)
      rasdaemon: {enabled: false}           # running; enabled at boot not checked

Every integer expectation may also be ``{min: N, max: M}``.
"""

import re

from salt.exceptions import SaltInvocationError

BOND_MODES = (
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
)
XMIT_HASH_POLICIES = ("layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac")
DISK_CLASSES = ("any", "hdd", "ssd", "nvme")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_PCI = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
#: a service name: a systemd unit without ``.service`` (templates such as ``getty@tty1`` too)
SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@_.:-]{0,255}$")
SERVICE_STATES = ("running", "enabled")


_SYSCTL_KEY = re.compile(r"^[a-z0-9_]+(\.[A-Za-z0-9_*-]+)+$")
# The GRUB drop-in is shell, sourced by update-grub: no quotes, spaces, $, backticks, ; ...
_KERNEL_ARG = re.compile(r"^[A-Za-z0-9_.,:=/+@%-]+$")


def sysctl_problem(key, value):
    """Why ``key = value`` cannot go into a sysctl.d file, or ``None``."""
    if not _SYSCTL_KEY.match(str(key)):
        return "is not a sysctl key (e.g. net.core.somaxconn)"
    if isinstance(value, (dict, list)) or value is None or "\n" in str(value):
        return f"value must be a one-line scalar (got {value!r})"
    return None


def kernel_arg_problem(arg):
    """Why ``arg`` cannot go on the kernel command line of the GRUB drop-in, or ``None``."""
    if not isinstance(arg, str) or not _KERNEL_ARG.match(arg):
        return (
            f"argument {arg!r} must not contain spaces, quotes or shell characters (one word "
            "of letters, digits and _ . , : = / + @ % -: the GRUB file is a shell script)"
        )
    return None


class ProfileError(SaltInvocationError):
    """A generation profile does not follow the schema; ``.errors`` lists every problem."""

    def __init__(self, name, errors):
        self.name = name
        self.errors = list(errors)
        joined = "; ".join(self.errors)
        super().__init__(
            f"hardware generation profile '{name}' is invalid: {joined} "
            "(see docs/hardware-generations.md, 'Profile schema')"
        )


class _Checker:
    def __init__(self, name):
        self.prefix = f"hwgen_profiles:{name}"
        self.errors = []

    def err(self, path, message):
        self.errors.append(f"{self.prefix}:{path}: {message}")

    def mapping(self, value, path, allowed):
        if not isinstance(value, dict):
            self.err(path, f"must be a mapping (got {type(value).__name__})")
            return {}
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            self.err(path, f"unknown key(s) {unknown}; allowed: {sorted(allowed)}")
        return value

    def regex(self, value, path):
        if not isinstance(value, str) or not value:
            self.err(path, "must be a non-empty regular expression string")
            return
        try:
            re.compile(value)
        except re.error as err:
            self.err(path, f"is not a valid regular expression ({err})")

    def number(self, value, path, integer=True):
        kinds = (int,) if integer else (int, float)
        what = "integer" if integer else "number"
        if isinstance(value, dict):
            self.mapping(value, path, ("min", "max"))
            if not value:
                self.err(path, "range needs 'min' and/or 'max'")
            for key in ("min", "max"):
                if key in value:
                    self.number(value[key], f"{path}:{key}", integer)
            if isinstance(value.get("min"), kinds) and isinstance(value.get("max"), kinds):
                if value["min"] > value["max"]:
                    self.err(path, f"min {value['min']} is above max {value['max']}")
            return
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            self.err(path, f"must be a non-negative {what} or {{min: N, max: M}} (got {value!r})")

    def string(self, value, path):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or value == "":
            self.err(path, f"must be a non-empty string (got {value!r})")

    def str_list(self, value, path):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.err(path, f"must be a list of non-empty strings (got {value!r})")
            return False
        return True


CPU_REGEX_KEYS = ("model", "socket_type", "signature")
CPU_NUMBER_KEYS = ("sockets", "cores", "threads", "stepping")
MEMORY_REGEX_KEYS = ("type", "module")
MEMORY_NUMBER_KEYS = ("total_gb", "dimm_size_gb", "max_capacity_gb")
FIRMWARE_KEYS = ("bios", "bmc", "nic", "bios_family", "bmc_family")


def _check_expected(c, expected):
    expected = c.mapping(
        expected,
        "expected",
        ("cpu", "memory", "disks", "nics", "pcie", "lldp", "psus", "firmware"),
    )
    if "cpu" in expected:
        cpu = c.mapping(expected["cpu"], "expected:cpu", CPU_REGEX_KEYS + CPU_NUMBER_KEYS)
        for key in CPU_REGEX_KEYS:
            if key in cpu:
                c.regex(cpu[key], f"expected:cpu:{key}")
        for key in CPU_NUMBER_KEYS:
            if key in cpu:
                c.number(cpu[key], f"expected:cpu:{key}")
    if "memory" in expected:
        mem = c.mapping(
            expected["memory"],
            "expected:memory",
            ("dimm_count", "ecc", "rank") + MEMORY_REGEX_KEYS + MEMORY_NUMBER_KEYS,
        )
        for key in MEMORY_NUMBER_KEYS:
            if key in mem:
                c.number(mem[key], f"expected:memory:{key}", integer=False)
        for key in ("dimm_count", "rank"):
            if key in mem:
                c.number(mem[key], f"expected:memory:{key}")
        for key in MEMORY_REGEX_KEYS:
            if key in mem:
                c.regex(mem[key], f"expected:memory:{key}")
        if "ecc" in mem and not isinstance(mem["ecc"], bool):
            c.err("expected:memory:ecc", f"must be true or false (got {mem['ecc']!r})")
    if "pcie" in expected:
        pcie = c.mapping(expected["pcie"], "expected:pcie", ("slots_in_use",))
        if "slots_in_use" in pcie:
            c.number(pcie["slots_in_use"], "expected:pcie:slots_in_use")
    if "lldp" in expected:
        lldp = c.mapping(expected["lldp"], "expected:lldp", ("min_mfs", "link_type"))
        if "min_mfs" in lldp:
            mfs = lldp["min_mfs"]
            if isinstance(mfs, bool) or not isinstance(mfs, int) or not 64 <= mfs <= 65535:
                c.err("expected:lldp:min_mfs", f"must be a frame size in bytes (got {mfs!r})")
        if "link_type" in lldp:
            c.regex(lldp["link_type"], "expected:lldp:link_type")
    if "disks" in expected:
        groups = expected["disks"]
        if not isinstance(groups, list) or not groups:
            c.err("expected:disks", "must be a non-empty list of disk groups")
            groups = []
        for pos, raw_group in enumerate(groups):
            path = f"expected:disks:{pos}"
            group = c.mapping(
                raw_group, path, ("class", "count", "min_size_gb", "max_size_gb", "model")
            )
            if group.get("class", "any") not in DISK_CLASSES:
                c.err(
                    f"{path}:class",
                    f"must be one of {list(DISK_CLASSES)} (got {group.get('class')!r})",
                )
            if "count" not in group:
                c.err(f"{path}:count", "is required")
            else:
                c.number(group["count"], f"{path}:count")
            for key in ("min_size_gb", "max_size_gb"):
                if key in group:
                    c.number(group[key], f"{path}:{key}", integer=False)
            if "model" in group:
                c.regex(group["model"], f"{path}:model")
    if "nics" in expected:
        nics = c.mapping(expected["nics"], "expected:nics", ("count", "min_speed_mbps", "driver"))
        if "count" in nics:
            c.number(nics["count"], "expected:nics:count")
        if "min_speed_mbps" in nics:
            c.number(nics["min_speed_mbps"], "expected:nics:min_speed_mbps")
        if "driver" in nics:
            c.regex(nics["driver"], "expected:nics:driver")
    if "psus" in expected:
        psus = c.mapping(expected["psus"], "expected:psus", ("count",))
        if "count" in psus:
            c.number(psus["count"], "expected:psus:count")
    if "firmware" in expected:
        fw = c.mapping(expected["firmware"], "expected:firmware", FIRMWARE_KEYS)
        for key, value in fw.items():
            c.string(value, f"expected:firmware:{key}")


def _check_config(c, config):
    config = c.mapping(
        config, "config", ("nic_naming", "bond", "mtu", "disk_layout", "sysctl", "kernel_args")
    )
    if "nic_naming" in config:
        naming = c.mapping(config["nic_naming"], "config:nic_naming", ("by", "names"))
        by = naming.get("by")
        if by not in ("mac", "pci"):
            c.err("config:nic_naming:by", f"must be 'mac' or 'pci' (got {by!r})")
        names = naming.get("names")
        if by == "pci":
            if not isinstance(names, dict) or not names:
                c.err(
                    "config:nic_naming:names", "is required with by: pci (NIC name -> PCI address)"
                )
            else:
                for nic, pci in names.items():
                    if not IFNAME.match(str(nic)):
                        c.err(f"config:nic_naming:names:{nic}", "is not a valid interface name")
                    if not isinstance(pci, str) or not _PCI.match(pci.lower()):
                        c.err(
                            f"config:nic_naming:names:{nic}",
                            f"must be a PCI address like 0000:01:00.0 (got {pci!r})",
                        )
        elif names is not None:
            c.err(
                "config:nic_naming:names",
                "only applies to by: pci (by: mac takes MACs from NetBox)",
            )
    if "bond" in config:
        bond = c.mapping(
            config["bond"],
            "config:bond",
            ("name", "members", "mode", "lacp_rate", "xmit_hash_policy", "miimon"),
        )
        if not IFNAME.match(str(bond.get("name", ""))):
            c.err("config:bond:name", "is required and must be an interface name (e.g. bond0)")
        if "members" not in bond:
            c.err("config:bond:members", "is required (list of NIC names)")
        elif c.str_list(bond["members"], "config:bond:members"):
            if not bond["members"]:
                c.err("config:bond:members", "must name at least one NIC")
            for member in bond["members"]:
                if not IFNAME.match(member):
                    c.err("config:bond:members", f"{member!r} is not a valid interface name")
            naming = config.get("nic_naming") if isinstance(config.get("nic_naming"), dict) else {}
            if naming.get("by") == "pci" and isinstance(naming.get("names"), dict):
                unnamed = [m for m in bond["members"] if m not in naming["names"]]
                if unnamed:
                    c.err(
                        "config:bond:members",
                        f"{unnamed} are not named by config:nic_naming:names (by: pci): the "
                        "bond would wait for NICs that never get these names",
                    )
        if bond.get("mode", "802.3ad") not in BOND_MODES:
            c.err(
                "config:bond:mode", f"must be one of {list(BOND_MODES)} (got {bond.get('mode')!r})"
            )
        if bond.get("lacp_rate", "slow") not in ("slow", "fast"):
            c.err(
                "config:bond:lacp_rate", f"must be 'slow' or 'fast' (got {bond.get('lacp_rate')!r})"
            )
        if "miimon" in bond:
            c.number(bond["miimon"], "config:bond:miimon")
        if bond.get("xmit_hash_policy", "layer2") not in XMIT_HASH_POLICIES:
            c.err(
                "config:bond:xmit_hash_policy",
                f"must be one of {list(XMIT_HASH_POLICIES)} (got {bond.get('xmit_hash_policy')!r})",
            )
    if "mtu" in config:
        mtu = config["mtu"]
        if isinstance(mtu, bool) or not isinstance(mtu, int) or not 576 <= mtu <= 9216:
            c.err("config:mtu", f"must be an integer between 576 and 9216 (got {mtu!r})")
    if "sysctl" in config:
        sysctl = config["sysctl"]
        if not isinstance(sysctl, dict):
            c.err("config:sysctl", "must be a mapping of sysctl key -> value")
        else:
            for key, value in sysctl.items():
                problem = sysctl_problem(key, value)
                if problem:
                    c.err(f"config:sysctl:{key}", problem)
    if "kernel_args" in config:
        if c.str_list(config["kernel_args"], "config:kernel_args"):
            for arg in config["kernel_args"]:
                problem = kernel_arg_problem(arg)
                if problem:
                    c.err("config:kernel_args", problem)
    if "disk_layout" in config and not isinstance(config["disk_layout"], dict):
        c.err("config:disk_layout", "must be a mapping")


def _check_services(c, services):
    if not isinstance(services, dict):
        c.err("services", "must be a mapping of service name -> {running: bool, enabled: bool}")
        return
    for name, want in services.items():
        path = f"services:{name}"
        if not isinstance(name, str) or not SERVICE.match(name) or name.endswith(".service"):
            c.err(path, "is not a service name (a systemd unit without .service, e.g. lldpd)")
        if want is None:
            continue
        states = c.mapping(want, path, SERVICE_STATES)
        for key, value in states.items():
            if key in SERVICE_STATES and not isinstance(value, bool):
                c.err(f"{path}:{key}", f"must be true or false (got {value!r})")
        if states.get("running") is False and states.get("enabled") is False:
            c.err(path, "requires neither running nor enabled: drop it from services")


def check_profile(name, profile):
    """
    Validate one profile against the schema. Returns the list of error messages (empty when
    valid); each names the exact key path, e.g.
    ``hwgen_profiles:gen10:expected:cpu:sockets: must be a non-negative integer (got 'two')``.
    """
    c = _Checker(name)
    if not isinstance(name, str) or not _NAME.match(name):
        c.err("", "generation names are lowercase identifiers like gen10")
    profile = c.mapping(
        profile,
        "",
        (
            "description",
            "device_types",
            "match",
            "expected",
            "config",
            "services",
            "name",
            "generation",
        ),
    )
    if not profile:
        return c.errors
    if "description" in profile and not isinstance(profile["description"], str):
        c.err("description", "must be a string")
    if "device_types" not in profile:
        c.err("device_types", "is required (NetBox device type slugs this generation covers)")
    elif c.str_list(profile["device_types"], "device_types") and not profile["device_types"]:
        c.err("device_types", "must list at least one NetBox device type")
    if "match" in profile:
        match = c.mapping(profile["match"], "match", ("vendor", "product"))
        if isinstance(profile["match"], dict) and not match:
            c.err("match", "needs 'vendor' and/or 'product' (an empty match recognises nothing)")
        for key, value in match.items():
            c.regex(value, f"match:{key}")
    else:
        c.err("match", "is required (vendor/product patterns recognising the hardware)")
    if "expected" in profile:
        _check_expected(c, profile["expected"])
    if "config" in profile:
        _check_config(c, profile["config"])
    if "services" in profile:
        _check_services(c, profile["services"])
    return c.errors


def validate_profile(name, profile):
    """Raise :class:`ProfileError` listing every schema problem; return the profile otherwise."""
    errors = check_profile(name, profile)
    if errors:
        raise ProfileError(name, errors)
    return profile


def validate_profiles(profiles):
    """Validate all profiles of ``hwgen_profiles``; device types must not be claimed twice."""
    if not isinstance(profiles, dict):
        raise SaltInvocationError(
            f"pillar 'hwgen_profiles' must be a mapping of generation -> profile (got {type(profiles).__name__})"
        )
    errors = []
    owners = {}
    for name, profile in sorted(profiles.items()):
        errors.extend(check_profile(name, profile))
        for dtype in (profile or {}).get("device_types") or [] if isinstance(profile, dict) else []:
            if dtype in owners:
                errors.append(
                    f"hwgen_profiles:{name}:device_types: '{dtype}' is already covered by {owners[dtype]}"
                )
            owners.setdefault(dtype, name)
    if errors:
        raise ProfileError("/".join(sorted(profiles)) or "hwgen_profiles", errors)
    return profiles


def conflicts(name, profile, profiles, inventory=None):
    """
    Where a (draft) profile collides with the other generations of ``profiles``: a NetBox device
    type another generation already covers, or a ``match`` that recognises the same hardware
    (``inventory``) as another generation's (validation could then not tell them apart)::

        [{"generation": "gen11", "reason": "device_types", "comment": "..."}, ...]
    """
    found = []
    mine = {str(d).lower() for d in (profile or {}).get("device_types") or []}
    for other, theirs in sorted((profiles or {}).items()):
        if other == name or not isinstance(theirs, dict):
            continue
        shared = sorted(mine & {str(d).lower() for d in theirs.get("device_types") or []})
        if shared:
            found.append(
                {
                    "generation": other,
                    "reason": "device_types",
                    "comment": f"{other} already covers NetBox device type(s) {shared}",
                }
            )
        if inventory is not None and matches(profile, inventory) and matches(theirs, inventory):
            system = inventory.get("system") or {}
            found.append(
                {
                    "generation": other,
                    "reason": "match",
                    "comment": f"{other}'s match also recognises {system.get('vendor')} "
                    f"{system.get('product')}: make the patterns exclusive",
                }
            )
    return found


def matches(profile, inventory):
    """True when the inventory's system vendor/product match the profile's ``match`` patterns."""
    rules = (profile or {}).get("match") or {}
    if not rules:
        return False
    system = (inventory or {}).get("system") or {}
    for key, pattern in rules.items():
        value = system.get(key) or ""
        if not re.search(pattern, value, re.I):
            return False
    return True


def detect_generation(profiles, inventory):
    """Names of the generations whose ``match`` fits the inventory (normally exactly one)."""
    return sorted(name for name, prof in (profiles or {}).items() if matches(prof, inventory))


def generation_for_device_type(profiles, device_type):
    """The generation whose ``device_types`` lists this NetBox device type (slug or model)."""
    if not device_type:
        return None
    keys = {str(device_type.get(k)).lower() for k in ("slug", "model") if device_type.get(k)}
    for name, prof in sorted((profiles or {}).items()):
        if keys & {str(d).lower() for d in (prof or {}).get("device_types") or []}:
            return name
    return None


def netbox_tagging(name, profile, device_type):
    """
    Whether NetBox already ties a sample box's device type (REST or NetBox pillar shape) to
    generation ``name`` - the "tag a NetBox device type" step of onboarding::

        {"device_type": "proliant-bl460c-gen9", "hw_generation": "gen11", "listed": True,
         "tagged": True, "done": True, "todo": []}
    """
    if not device_type:
        return {
            "device_type": None,
            "hw_generation": None,
            "listed": False,
            "tagged": False,
            "done": False,
            "todo": [
                "the sample box has no NetBox device type in its pillar: configure the NetBox "
                "ext_pillar (docs/pillar.md) or check the device in NetBox"
            ],
        }
    slug = device_type.get("slug") or device_type.get("model")
    listed = generation_for_device_type({name: profile}, device_type) == name
    current = device_type.get("hw_generation") or hw_generation(device_type)
    todo = []
    if current != name:
        todo.append(
            f"set custom field hw_generation: {name} on NetBox device type '{slug}' "
            f"(now {current!r})"
        )
    if not listed:
        todo.append(f"list '{slug}' in hwgen_profiles:{name}:device_types")
    return {
        "device_type": slug,
        "hw_generation": current,
        "listed": listed,
        "tagged": current == name,
        "done": not todo,
        "todo": todo,
    }


def hw_generation(device_type):
    """NetBox device type custom field ``hw_generation`` (``None`` when unset/absent)."""
    return ((device_type or {}).get("custom_fields") or {}).get("hw_generation") or None


def pillar_generation(pillar):
    """The box's generation as the NetBox pillar tells it (``netbox:device_type:hw_generation``)."""
    netbox = (pillar or {}).get("netbox") or {}
    dtype = netbox.get("device_type") or {}
    return (
        dtype.get("hw_generation")
        or hw_generation(dtype)
        or (netbox.get("hwgen") or {}).get("generation")
    )


def _named(profile):
    return profile.get("name") or profile.get("generation")


def select_profile(pillar, generation=None):
    """
    The profile that applies to this box, looked up in pillar (first match wins):

    1. ``hwgen`` (top-level, for boxes whose profile is assigned directly);
    2. ``netbox:hwgen`` (the NetBox pillar: the device type's profile merged with config
       context overrides);
    3. ``hwgen_profiles[<generation>]`` where the generation is ``generation`` if given, else
       ``netbox:device_type:hw_generation``.

    Entries 1-2 are skipped when ``generation`` names another generation. The result is
    validated against the schema and carries its generation in ``name``.

    Raises ``SaltInvocationError`` naming the missing pillar key and the fix.
    """
    pillar = pillar or {}
    for candidate in (pillar.get("hwgen"), (pillar.get("netbox") or {}).get("hwgen")):
        if not isinstance(candidate, dict) or not candidate:
            continue
        name = _named(candidate) or generation
        if generation is not None and name not in (None, generation):
            continue
        if name is None:
            continue
        profile = {k: v for k, v in candidate.items() if k not in ("name", "generation")}
        validate_profile(name, profile)
        return dict(profile, name=name)
    generation = generation or pillar_generation(pillar)
    if generation is None:
        raise SaltInvocationError(
            "no hardware generation known for this box: pillar 'hwgen' and 'netbox:hwgen' are "
            "absent and the NetBox device type has no custom field 'hw_generation'; set it in "
            "NetBox or pass generation=<name>"
        )
    profiles = pillar.get("hwgen_profiles")
    if not isinstance(profiles, dict) or generation not in profiles:
        known = sorted(profiles) if isinstance(profiles, dict) else []
        raise SaltInvocationError(
            f"hardware generation '{generation}' has no profile: pillar 'hwgen_profiles:{generation}' "
            f"is missing (known: {known}); add pillar/hwgen/{generation}.sls and list it in pillar/top.sls"
        )
    profile = profiles[generation]
    validate_profile(generation, profile)
    return dict(
        {k: v for k, v in profile.items() if k not in ("name", "generation")}, name=generation
    )
