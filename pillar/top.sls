# Pillar top file (owner: hardware generations).
# Every minion gets every hardware generation profile under `hwgen_profiles`; which one applies to
# a box is decided in Python (hardware.profile) from NetBox: device type -> custom field
# hw_generation -> hwgen_profiles[<gen>]. Adding a generation = add pillar/hwgen/<gen>.sls and a
# line here (docs/hardware-generations.md).
base:
  '*':
    - hwgen.gen10
    - hwgen.gen11
    - hwgen.gen12
