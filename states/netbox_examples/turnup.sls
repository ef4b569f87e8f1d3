{#- Example: declare a server's NetBox record with the netbox states.
    The device is this minion (override with pillar netbox_example:device). Applying it twice
    makes no change the second time. The device's custom field minion_id is the minion that will
    run on it: its own name unless pillar netbox_example:minion_id says otherwise -- never the id
    of the minion applying this SLS for another device (NetBox would then map this minion to two
    devices, and netbox.device/sync_inventory would pick the wrong one). -#}
{%- set cfg = salt['pillar.get']('netbox_example', {}) %}
{%- set device = cfg.get('device', grains['id']) %}
{%- set minion_id = cfg.get('minion_id', device) %}
{%- set site = cfg.get('site', 'lab1') %}
{%- set address = cfg.get('address', '10.10.2.21/24') %}
{%- set uplink = cfg.get('uplink', 'tor1-r2:Ethernet21') %}

netbox-example-device:
  netbox.device_present:
    - name: {{ device }}
    - site: {{ site }}
    - role: edge-server
    - device_type: PowerEdge M630
    - rack: R2
    - tags:
      - turnup-lab
    - custom_fields:
        minion_id: {{ minion_id }}

netbox-example-oob:
  netbox.interface_present:
    - name: ens3f0
    - device: {{ device }}
    - type: 25gbase-x-sfp28
    - description: spare uplink, added by netbox_examples.turnup
    - mtu: 9000
    - require:
      - netbox: netbox-example-device

netbox-example-mac:
  netbox.mac_address_present:
    - name: {{ cfg.get('mac', '02:00:5e:10:02:21') }}
    - device: {{ device }}
    - interface: ens3f0
    - require:
      - netbox: netbox-example-oob

netbox-example-address:
  netbox.ip_address_present:
    - name: {{ address }}
    - device: {{ device }}
    - interface: ens3f0
    - status: reserved
    - dns_name: {{ device }}-spare.{{ site }}.example.net
    - require:
      - netbox: netbox-example-oob

netbox-example-cable:
  netbox.cable_present:
    - a: {{ device }}:ens3f0
    - b: {{ uplink }}
    - type: dac-passive
    - status: planned
    - require:
      - netbox: netbox-example-oob

netbox-example-site-note:
  netbox.object_present:
    - endpoint: extras.tags
    - lookup:
        slug: turnup-example
    - fields:
        name: turnup-example
        slug: turnup-example
        color: 3f51b5
        description: created by netbox_examples.turnup

netbox-example-journal:
  netbox.journal_entry:
    - obj: {{ device }}
    - comments: spare uplink ens3f0 declared by netbox_examples.turnup
    - kind: info
    - require:
      - netbox: netbox-example-cable
      - netbox: netbox-example-address
