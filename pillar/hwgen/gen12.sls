# gen12: Supermicro SSG-6028R-OSD072P storage server, modelled on a real SSG-6028R:
# 1 x Xeon E5-2620 v4 (8 cores / 16 threads; second socket empty), 4 x 16 GB DDR4-2133 (16 slots),
# BIOS 2.0b, X10DRH-iT board (2 x 10GBase-T X540), 2 x PWS-920P-SQ PSUs,
# 12 x 8 TB HDD data disks, 2 x SSD for the OS, 1 x NVMe journal.
hwgen_profiles:
  gen12:
    description: Supermicro SSG-6028R-OSD072P storage server
    device_types:
      - ssg-6028r-osd072p
    match:
      vendor: '^Supermicro'
      product: '^SSG-6028R'
    expected:
      cpu:
        model: 'Xeon.*E5-2620 v4'
        sockets: 1
        cores: 8
        threads: 16
      memory:
        total_gb: 64
        dimm_count: 4
        dimm_size_gb: 16
      disks:
        - class: hdd
          count: 12
          min_size_gb: 7000
        - class: ssd
          count: 2
          min_size_gb: 200
        - class: nvme
          count: 1
          min_size_gb: 800
      nics:
        count: 2
        min_speed_mbps: 10000
        driver: '^(ixgbe|i40e)$'
      psus:
        count: 2
      firmware:
        bios: '2.0b'
        bmc: '3.40'
    config:
      nic_naming:
        by: mac
      bond:
        name: bond0
        members: [eno1, eno2]
        mode: 802.3ad
        lacp_rate: slow
        xmit_hash_policy: layer3+4
        miimon: 100
      mtu: 9000
      disk_layout:
        os: {devices: [/dev/sda, /dev/sdb], raid: raid1, fs: ext4}
        data: {count: 12, size_gb: 8000, fs: xfs, mount_prefix: /srv/osd}
        journal: {devices: [/dev/nvme0n1], partitions: 12}
      sysctl:
        vm.dirty_ratio: 10
        vm.dirty_background_ratio: 5
      kernel_args:
        - intel_iommu=on
        - iommu=pt
    # checked by the turn-up post-check (after the highstate): running and enabled
    services:
      systemd-networkd: {}                  # carries the bond and addresses hwgen writes
      lldpd: {}                             # cabling checks read LLDP
      chrony: {}                            # time
