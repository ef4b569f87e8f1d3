{#- Applied on a box by orch.decommission (pillar turnup_wipe: {device, confirm}): zero its disks.
    turnup.wiped refuses unless NetBox says the device is decommissioning and it is confirmed. #}
{%- set wipe = pillar.get('turnup_wipe', {}) %}
turnup-wiped:
  turnup.wiped:
    - name: {{ wipe.get('device') | json }}
    - confirm: {{ wipe.get('confirm') | json }}
