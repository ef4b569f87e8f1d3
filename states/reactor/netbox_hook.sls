{#- Reactor on salt/netapi/hook/netbox (salt-api rest_cherrypy /hook/netbox): hand NetBox's raw
    body and its X-Hook-Signature to turnup.on_netbox_event, which checks the HMAC with the
    master's secret before anything else (the secret is never in file_roots). -#}
{%- set headers = data.get('headers', {}) if data is mapping else {} %}
{%- set body = data.get('body', '') if data is mapping else '' %}
turnup_on_netbox_event:
  runner.turnup.on_netbox_event:
    - args:
      - body: {{ (body if body is string else '') | json }}
      - signature: {{ (headers.get('X-Hook-Signature', '') or '') | json }}
