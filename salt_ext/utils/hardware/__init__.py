"""
Hardware inventory, generation profiles and validation (pure functions).

- :mod:`.values`    value normalisation, placeholder serials, firmware version comparison
- :mod:`.dmi`       dmidecode parser
- :mod:`.tools`     lscpu / lsblk / nvme / ip / ethtool / ipmitool / meminfo parsers
- :mod:`.lldp`      lldpctl (keyvalue, json, json0) parser
- :mod:`.ifnames`   tolerant switch-port / host name comparison
- :mod:`.inventory` collection, simulation, overrides, normalised inventory
- :mod:`.profiles`  generation profile schema, validation and lookup
- :mod:`.validate`  expected-vs-actual report against a profile and NetBox
- :mod:`.render`    configuration files (udev, systemd-networkd, sysctl, kernel arguments)
"""
