{#- Roll a changed hardware generation profile out to a site:
      salt-run state.orchestrate orch.hwgen_rollout pillar='{site: lab1, generation: gen10}'
    Pillar: site, generation; batch (a count or a percentage, default 25%); canary (boxes in the
    first wave, default 1); minion_timeout (seconds, default 300).
    Every active box of the generation (turnup.rollout_plan: device types whose hw_generation is
    it), wave by wave: apply the hwgen SLS, then validate (hardware.validated). A wave runs only
    when the previous one applied and validated on every box: the rollout stops at the first
    failed wave. test=True applies nothing and predicts each box's changes. #}
{%- set plan = salt['saltutil.runner']('turnup.rollout_plan', site=pillar.get('site'),
      generation=pillar.get('generation'), batch=pillar.get('batch', '25%'),
      canary=pillar.get('canary', 1)) %}
{%- set timeout = pillar.get('minion_timeout', 300) %}

rollout-planned:
  turnup.rollout_planned:
    - site: {{ pillar.get('site') | json }}
    - generation: {{ pillar.get('generation') | json }}
    - batch: {{ pillar.get('batch', '25%') | json }}
    - canary: {{ pillar.get('canary', 1) | json }}

{%- if plan is mapping and 'waves' in plan %}
{%- for wave in plan.waves %}
apply-{{ wave.name }}:
  salt.state:
    - tgt: {{ wave.minions | join(',') | json }}
    - tgt_type: list
    - sls: hwgen
    - expect_minions: True
    - timeout: {{ timeout }}
    - require:
      {%- if loop.first %}
      - turnup: rollout-planned
      {%- else %}
      - salt: validate-{{ loop.previtem.name }}
      {%- endif %}

validate-{{ wave.name }}:
  salt.state:
    - tgt: {{ wave.minions | join(',') | json }}
    - tgt_type: list
    - sls: turnup.validate
    - expect_minions: True
    - timeout: {{ timeout }}
    - require:
      - salt: apply-{{ wave.name }}
{%- endfor %}
{%- endif %}
