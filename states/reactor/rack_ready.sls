{#- Reactor on turnup/rack/ready: hand the rack to turnup.auto_turnup, which reads NetBox again
    (any accepted minion can fire this tag) and starts orch.rack_turnup once. -#}
{%- set site = data.get('site', '') if data is mapping else '' %}
{%- set rack = data.get('rack', '') if data is mapping else '' %}
{%- if site is string and rack is string and site and rack %}
turnup_auto_turnup:
  runner.turnup.auto_turnup:
    - args:
      - site: {{ site | json }}
      - rack: {{ rack | json }}
{%- endif %}
