{#- Reactor on salt/minion/*/start: hand the minion id to boot verification (no logic here).
    The id only says WHICH minion to ask; turnup.on_boot asks that minion itself for its
    serial and MACs and checks them against NetBox (docs/security.md). -#}
{%- set minion = data.get('id', '') if data is mapping else '' %}
{%- if minion and tag == 'salt/minion/' ~ minion ~ '/start' %}
turnup_on_boot:
  runner.turnup.on_boot:
    - args:
      - minion: {{ minion | json }}
{%- endif %}
