# gen11: HPE ProLiant BL460c Gen9 blade (edge compute), modelled on a real BL460c Gen9:
# 2 x Xeon E5-2640 v4 (10 cores / 20 threads each), 6 x 8 GB DDR4-2400 RDIMM (16 slots),
# System ROM I36 v2.52, iLO 4 2.61, FlexibleLOM 2 x 10G at PCI 06:00.0/06:00.1.
hwgen_profiles:
  gen11:
    description: HPE ProLiant BL460c Gen9 blade, edge compute
    device_types:
      - proliant-bl460c-gen9
    match:
      vendor: '^HPE?$'
      product: 'BL460c Gen9'
    expected:
      cpu:
        model: 'Xeon.*E5-2640 v4'
        sockets: 2
        cores: 20
        threads: 40
      memory:
        total_gb: 48
        dimm_count: 6
        dimm_size_gb: 8
      disks:
        - class: ssd
          count: 2
          min_size_gb: 200
      nics:
        count: 2
        min_speed_mbps: 10000
        driver: '^(bnx2x|qede|be2net|ixgbe)$'
      firmware:
        bios: '2.40'
        bmc: '2.55'
        # minimums of these families only: a Gen10's U-ROM / iLO 5 versions do not compare
        bios_family: I36
        bmc_family: iLO 4
    config:
      # The FlexibleLOM ports sit at fixed PCI addresses on every BL460c Gen9 (SMBIOS type 209).
      nic_naming:
        by: pci
        names:
          eno1: '0000:06:00.0'
          eno2: '0000:06:00.1'
      bond:
        name: bond0
        members: [eno1, eno2]
        mode: 802.3ad
        lacp_rate: fast
        xmit_hash_policy: layer3+4
        miimon: 100
      mtu: 9000
      sysctl:
        net.ipv4.tcp_mtu_probing: 1
      kernel_args:
        - intel_iommu=on
        - iommu=pt
        - hpwdt.soft_margin=60
    # checked by the turn-up post-check (after the highstate): running and enabled
    services:
      systemd-networkd: {}                  # carries the bond and addresses hwgen writes
      lldpd: {}                             # cabling checks read LLDP
      chrony: {}                            # time
