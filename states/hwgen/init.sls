{#- Configure a server as its hardware generation wants (docs/hardware-generations.md).
    Everything is computed in Python by hardware.config (profile from pillar, interfaces and
    addresses from NetBox); this file only hands the result to Salt's own states.
    Settings (minion config or pillar `hardware:`): root, paths, apply_live, validate. #}
{%- set hw = salt['hardware.config']() %}
{%- set settings = salt['config.get']('hardware', {}) %}
{%- set validate = settings.get('validate', True) %}

{%- if validate %}
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
    {%- if validate %}
    - require:
      - hardware: hwgen-validated
    {%- endif %}
{%- endfor %}

{%- for path in hw.stale %}
hwgen-stale-{{ path }}:
  file.absent:
    - name: {{ path | yaml_encode }}
    {%- if validate %}
    - require:
      - hardware: hwgen-validated
    {%- endif %}
{%- endfor %}

{%- if hw.apply_live %}
{%- set p = hw.paths %}
{%- if p.udev_rules in hw.files %}
hwgen-udev-reload:
  cmd.run:
    - name: udevadm control --reload-rules
    - onchanges:
      - file: hwgen-file-{{ p.udev_rules }}
{%- endif %}
{%- if p.sysctl_file in hw.files %}
hwgen-sysctl-load:
  cmd.run:
    - name: sysctl --load={{ p.sysctl_file }}
    - onchanges:
      - file: hwgen-file-{{ p.sysctl_file }}
{%- endif %}
{%- if p.kernel_args_file in hw.files %}
hwgen-update-grub:
  cmd.run:
    - name: update-grub
    - onlyif: command -v update-grub
    - onchanges:
      - file: hwgen-file-{{ p.kernel_args_file }}
{%- endif %}
{%- if hw.network_files or hw.stale %}
hwgen-networkd-reload:
  cmd.run:
    - name: networkctl reload
    - onlyif: command -v networkctl
    - onchanges:
{%- for name in hw.network_files %}
      - file: hwgen-file-{{ p.network_dir }}/{{ name }}
{%- endfor %}
{%- for path in hw.stale %}
      - file: hwgen-stale-{{ path }}
{%- endfor %}
{%- endif %}
{%- endif %}
