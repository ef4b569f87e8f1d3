# gen10: Dell PowerEdge M630 blade (edge compute), modelled on a real M630:
# 2 x Xeon E5-2683 v3 (14 cores / 28 threads each), 8 x 8 GB DDR4-2133 RDIMM (24 slots),
# BIOS 1.2.5, 2 x 10/25G mezzanine ports, 2 x SSD.
hwgen_profiles:
  gen10:
    description: Dell PowerEdge M630 blade, edge compute
    device_types:
      - poweredge-m630
    match:
      vendor: '^Dell'
      product: '^PowerEdge M630$'
    expected:
      cpu:
        model: 'Xeon.*E5-2683 v3'
        sockets: 2
        cores: 28
        threads: 56
      memory:
        total_gb: 64
        dimm_count: 8
        dimm_size_gb: 8
      disks:
        - class: ssd
          count: 2
          min_size_gb: 200
      nics:
        count: 2
        min_speed_mbps: 10000
        driver: '^(bnx2x|bnxt_en|ixgbe|i40e)$'
      firmware:
        bios: '1.2.5'
        bmc: '2.40'
        bmc_family: iDRAC 8                 # 13G; an iDRAC 9 box's versions do not compare
    config:
      nic_naming:
        by: mac
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
        net.core.netdev_max_backlog: 250000
      kernel_args:
        - intel_iommu=on
        - iommu=pt
    # checked by the turn-up post-check (after the highstate): running and enabled
    services:
      systemd-networkd: {}                  # carries the bond and addresses hwgen writes
      lldpd: {}                             # cabling checks read LLDP
      chrony: {}                            # time
