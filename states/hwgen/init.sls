{#- Configure a server as its hardware generation wants (docs/hardware-generations.md).
    Everything is computed in Python by hardware.config (profile from pillar, interfaces and
    addresses from NetBox, stale files, reload commands); this file only hands the result to
    Salt's own states. Settings (minion config or pillar `hardware:`): root, paths, apply_live,
    validate, postcheck (also pillar turnup:postcheck, which a rack turn-up's highstate passes:
    the box's links by LLDP and required services checked after everything else). #}
{%- set hw = salt['hardware.config']() %}

{%- if hw.validate %}
hwgen-validated:
  hardware.validated: []
{%- endif %}

{%- for path, content in hw.files | dictsort %}
hwgen-file-{{ path }}:
  file.managed:
    - name: {{ path | yaml_encode }}
    - contents: {{ content | yaml_encode }}
    - makedirs: True
    - mode: '0644'
    {%- if hw.validate %}
    - require:
      - hardware: hwgen-validated
    {%- endif %}
{%- endfor %}

{%- for path in hw.stale %}
hwgen-stale-{{ path }}:
  file.absent:
    - name: {{ path | yaml_encode }}
    {%- if hw.validate %}
    - require:
      - hardware: hwgen-validated
    {%- endif %}
{%- endfor %}

{%- for command in hw.reload %}
{{ command.id }}:
  cmd.run:
    - name: {{ command.name | yaml_encode }}
    {%- if command.onlyif %}
    - onlyif: {{ command.onlyif | yaml_encode }}
    {%- endif %}
    - onchanges: {{ command.onchanges | json }}
{%- endfor %}

{%- if hw.postcheck %}
hwgen-postcheck:
  hardware.postchecked:
    - order: last
{%- endif %}
