{#- Orchestrate example: the netbox states run on the master (no minion involved); the journal
    entry names the orchestration's job. -#}
{%- set device = salt['pillar.get']('netbox_example:device', 'srv-r2-04') %}

netbox-orch-staged:
  netbox.device_status:
    - name: {{ device }}
    - status: staged
    - comment: staged by orchestrate netbox_examples.orch_note

netbox-orch-note:
  netbox.journal_entry:
    - obj: {{ device }}
    - comments: turn-up orchestrated from the master
    - kind: success
    - require:
      - netbox: netbox-orch-staged
