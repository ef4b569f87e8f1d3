"""
NetBox external pillar: the device (or virtual machine) a minion is, with everything around it.

Every highstate and every orchestration reads NetBox through this pillar, so it is built to be
complete, fast at fleet scale and safe:

- one bulk fetch per site (devices, interfaces, IPs, MACs, cables, VLANs, prefixes, services),
  shared by every minion of the site and every master worker through Salt's cache
  (``localfs`` by default; ``redis`` to share it between masters); single-flight refresh;
  after ``ttl`` only the objects NetBox's change log names are fetched again;
- NetBox down: a cached copy up to ``max_stale`` old is served with
  ``netbox:_meta:stale: true``; with no copy the pillar fails (``_errors``), so state runs refuse
  instead of applying an empty pillar;
- the NetBox token never enters the pillar.

Configuration (master):

.. code-block:: yaml

    netbox:
      url: https://netbox.example.net
      token: nbt_abc123.secret

    ext_pillar:
      - netbox:
          key: netbox                     # pillar key
          identity: [name, custom_field]  # and/or template
          minion_id_field: minion_id      # custom field used by identity custom_field
          name_template: "{{ minion_id.split('.')[0] }}"   # identity template
          on_unknown: empty               # or error
          virtual_machines: false
          ttl: 300                        # seconds a site record is used without asking NetBox
          max_stale: 86400                # serve a cached copy this old at most when NetBox fails
          full_interval: 3600             # a full fetch at least this often (else the change log)
          # parts, all true by default:
          interfaces: true
          peers: true
          services: true
          prefixes: true
          vlans: true
          rack_devices: true
          config_context: true
          hwgen: true

Salt 3007's options are accepted with ``compat: salt3007`` (``api_url``, ``api_token``,
``interfaces``, ``interface_ips``, ``site_details``, ``site_prefixes``, ``connected_devices``,
``proxy_return``, ...) and produce Salt 3007's pillar shape. See ``docs/pillar.md``.

:depends: pynetbox, requests, filelock; redis (for the ``redis`` cache driver)
"""

import logging

from salt.exceptions import SaltInvocationError

try:
    from salt_ext.utils import pillar as pillar_utils

    HAS_UTILS = True
    IMPORT_ERROR = ""
except ImportError as exc:  # pragma: no cover - broken installation
    HAS_UTILS = False
    IMPORT_ERROR = str(exc)

log = logging.getLogger(__name__)

__virtualname__ = "netbox"


def __virtual__():
    if not HAS_UTILS:
        return False, f"netbox ext_pillar: cannot import saltext-turnup's utils: {IMPORT_ERROR}"
    return __virtualname__


def ext_pillar(minion_id, pillar, *args, **kwargs):
    """
    Return the NetBox data of ``minion_id`` under the configured key (default ``netbox``).

    Raises (so that Salt records the failure in the pillar's ``_errors`` and state runs refuse)
    when NetBox is unavailable and no cached copy younger than ``max_stale`` exists, when the
    minion id matches several NetBox nodes, or for an unknown minion with ``on_unknown: error``.

    CLI Example:

    .. code-block:: bash

        salt 'srv-r1-01' pillar.item netbox
        salt 'srv-r1-01' saltutil.refresh_pillar
    """
    if args and args != (None,):
        raise SaltInvocationError(
            "the netbox ext_pillar takes a mapping of options, e.g. "
            "'ext_pillar: [{netbox: {key: netbox}}]', not a list"
        )
    return pillar_utils.compile_pillar(minion_id, pillar, __opts__, __context__, **kwargs)
