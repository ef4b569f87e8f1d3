{#- Applied on each box by orch.hwgen_rollout after its wave: the box still matches its generation
    profile and NetBox (serial, MACs, cabling by LLDP). #}
turnup-validated:
  hardware.validated: []
