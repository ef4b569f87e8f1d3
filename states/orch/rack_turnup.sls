{#- Rack turn-up: salt-run state.orchestrate orch.rack_turnup pillar='{site: lab1, rack: R2}'
    Pillar: site, rack (required); batch (servers per batch after the canary: count or %, 25%);
    max_failures (count or %, default: stop when more than 10 % of the servers and at least 2
    failed); minion_timeout (seconds to wait for the rack's minions, 300); devices (only these
    servers); new (true: a new run even when the rack's last run finished).
    Every step runs in Python (runner turnup.step, through the turnup.step state so that
    test=True predicts instead of skipping); a failing device is set failed in NetBox with a
    journal entry and left out of later steps. The run record is in salt.cache (bank
    turnup/runs): turnup.status / turnup.watch follow it, turnup.resume goes on after a master
    restart, re-running this orchestration goes on from the record too. docs/turnup.md. #}
{%- set site = pillar.get('site') %}
{%- set rack = pillar.get('rack') %}

# turnup.preflight: blocking NetBox problems stop the run before anything is written
turnup-preflight:
  turnup.step:
    - name: preflight
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - devices: {{ pillar.get('devices') | json }}

turnup-start:
  turnup.step:
    - name: start
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - batch: {{ pillar.get('batch', '25%') | json }}
    - max_failures: {{ pillar.get('max_failures') | json }}
    - minion_timeout: {{ pillar.get('minion_timeout', 300) | json }}
    - devices: {{ pillar.get('devices') | json }}
    - new: {{ pillar.get('new', False) | json }}
    - require:
      - turnup: turnup-preflight

# planned -> staged in NetBox, journal entry naming this job
turnup-stage:
  turnup.step:
    - name: stage
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - require:
      - turnup: turnup-start

# the network waves (OOB, then ToR): managed switches staged -> minion -> highstate ->
# post-check -> active; unmanaged ones checked from NetBox, left alone
turnup-network:
  turnup.step:
    - name: network
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - require:
      - turnup: turnup-stage

# every server's minion answers (bounded by minion_timeout); it is asked with the sync_all
# job (turnup.sync_all), whose returns the next step judges (test=True: test.ping)
turnup-wait_minions:
  turnup.step:
    - name: wait_minions
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - require:
      - turnup: turnup-network

# saltutil.sync_all on the minions, of the custom module types the master or the minion holds
# (the returns of the job wait_minions asked with; a job of its own for servers without one)
turnup-sync_all:
  turnup.step:
    - name: sync_all
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - require:
      - turnup: turnup-wait_minions

# hardware.validate: generation profile and NetBox (serial, MACs, cabling by LLDP); the
# inventory each box was checked with is kept for sync_inventory
turnup-validate:
  turnup.step:
    - name: validate
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - require:
      - turnup: turnup-sync_all

# netbox.sync_inventory: serial, MACs, inventory items into NetBox, written from the master
turnup-sync_inventory:
  turnup.step:
    - name: sync_inventory
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - require:
      - turnup: turnup-validate

# state.highstate wave by wave: the canary, then the plan's batches
turnup-highstate:
  turnup.step:
    - name: highstate
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - require:
      - turnup: turnup-sync_inventory

# cabling by LLDP once more and the profile's required services up, after the highstate (the
# hwgen-postcheck state each highstate ended with; a job of its own for servers without one)
turnup-postcheck:
  turnup.step:
    - name: postcheck
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - require:
      - turnup: turnup-highstate

# staged -> active in NetBox, journal entry
turnup-activate:
  turnup.step:
    - name: activate
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - require:
      - turnup: turnup-postcheck

# run done; result False naming the devices that failed, and where
turnup-finish:
  turnup.step:
    - name: finish
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - require:
      - turnup: turnup-activate

{#- A step failed past the threshold (or the canary failed, or turnup.abort): the run is
    recorded as stopped, its done event fired, the rack lock released; devices not reached stay
    staged. #}
turnup-stopped:
  turnup.step:
    - name: finish
    - site: {{ site | json }}
    - rack: {{ rack | json }}
    - run_state: stopped
    - onfail:
      - turnup: turnup-start
      - turnup: turnup-stage
      - turnup: turnup-network
      - turnup: turnup-wait_minions
      - turnup: turnup-sync_all
      - turnup: turnup-validate
      - turnup: turnup-sync_inventory
      - turnup: turnup-highstate
      - turnup: turnup-postcheck
      - turnup: turnup-activate
