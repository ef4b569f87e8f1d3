{#- Decommission devices: salt-run state.orchestrate orch.decommission
      pillar='{site: lab1, devices: [srv-r1-04], confirm: [srv-r1-04]}'
    Pillar: site; devices (names) or rack; confirm (the same names again, required);
    drain (an SLS applied on each box first, none by default); wipe (default true).
    Per device: drain -> NetBox decommissioning (journal) -> wipe the disks (turnup.wiped refuses
    unless NetBox says decommissioning and the device is confirmed) -> autosign entry removed ->
    minion key deleted -> NetBox offline (journal). A device failing a step stays where it is;
    the others go on. The plan (devices, minion ids, serials) comes from turnup.decommission_plan;
    devices already offline are left alone. test=True predicts every change and writes nothing. #}
{%- set site = pillar.get('site') %}
{%- set drain = pillar.get('drain') %}
{%- set wipe = pillar.get('wipe', True) %}
{%- set confirm = pillar.get('confirm') %}
{%- set plan = salt['saltutil.runner']('turnup.decommission_plan', site=site,
      devices=pillar.get('devices'), rack=pillar.get('rack'), confirm=confirm, drain=drain,
      wipe=wipe) %}

decommission-confirmed:
  turnup.decommission_confirmed:
    - site: {{ site | json }}
    - devices: {{ pillar.get('devices') | json }}
    - rack: {{ pillar.get('rack') | json }}
    - confirm: {{ confirm | json }}
    - drain: {{ drain | json }}
    - wipe: {{ wipe | json }}

{%- if plan is not mapping %}

decommission-plan:
  test.fail_without_changes:
    - comment: {{ ("turnup.decommission_plan did not return a plan: " ~ plan) | json }}
{%- elif plan.confirmed %}
{%- for dev in plan.devices if not dev.done %}
{%- set previous = 'decommission-confirmed' %}

{%- if drain %}
drain-{{ dev.name }}:
  salt.state:
    - tgt: {{ dev.minion | json }}
    - sls: {{ drain | json }}
    - timeout: {{ pillar.get('minion_timeout', 300) }}
    - require:
      - turnup: decommission-confirmed
{%- endif %}

decommissioning-{{ dev.name }}:
  netbox.device_status:
    - name: {{ dev.name | json }}
    - status: decommissioning
    - comment: {{ ("taken out of service by orch.decommission" ~ (", drained with " ~ drain if drain else "") ~ "; disks wiped next") | json }}
    - require:
      {%- if drain %}
      - salt: drain-{{ dev.name }}
      {%- else %}
      - turnup: decommission-confirmed
      {%- endif %}

{%- if wipe %}
wipe-{{ dev.name }}:
  salt.state:
    - tgt: {{ dev.minion | json }}
    - sls: turnup.wipe
    - pillar:
        turnup_wipe:
          device: {{ dev.name | json }}
          confirm: {{ confirm | json }}
    - timeout: {{ pillar.get('minion_timeout', 300) }}
    - require:
      - netbox: decommissioning-{{ dev.name }}
{%- endif %}

autosign-{{ dev.name }}:
  turnup.autosign_absent:
    - name: {{ dev.serial | json }}
    - minion: {{ dev.minion | json }}
    - require:
      {%- if wipe %}
      - salt: wipe-{{ dev.name }}
      {%- else %}
      - netbox: decommissioning-{{ dev.name }}
      {%- endif %}

key-{{ dev.name }}:
  turnup.minion_key_absent:
    - name: {{ dev.minion | json }}
    - require:
      - turnup: autosign-{{ dev.name }}

offline-{{ dev.name }}:
  netbox.device_status:
    - name: {{ dev.name | json }}
    - status: offline
    - comment: {{ ("decommissioned by orch.decommission: " ~ ("disks wiped" if wipe else "disks NOT wiped (pillar wipe: false)") ~ ", autosign entry and minion key " ~ dev.minion ~ " removed") | json }}
    - require:
      - turnup: key-{{ dev.name }}
{%- endfor %}
{%- endif %}
