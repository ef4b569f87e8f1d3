"""
States for hardware generations.

.. code-block:: yaml

    hardware-matches-netbox:
      hardware.validated:
        - fail_on_warnings: false

    hardware-in-service:
      hardware.postchecked:
        - order: last

:depends: the ``hardware`` execution module (saltext-turnup).
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_ext.utils.hardware import validate as hwvalidate

__virtualname__ = "hardware"


def __virtual__():
    if "hardware.validate" in __salt__:
        return __virtualname__
    return (False, "the hardware execution module is not available")


def _report(ret, what, **kwargs):
    """``hardware.validate(**kwargs)``'s report, or None with ``ret`` failed saying why ``what``
    could not run."""
    try:
        return __salt__["hardware.validate"](**kwargs)
    except (SaltInvocationError, CommandExecutionError) as err:
        ret["result"] = False
        ret["comment"] = f"{what} could not run: {err}"
        return None


def validated(name, device=None, generation=None, fail_on_warnings=False):
    """
    Ensure the box matches NetBox and its hardware generation profile (``hardware.validate``).
    Read-only: it never changes anything, so ``test=True`` reports the same result. Fails with one
    comment line per failed check (``[FAIL] cabling.eno2: eno2 is cabled to tor2-r1 Ethernet7,
    NetBox says tor2-r1 Ethernet1``).

    name
        A label for the state.
    device
        NetBox device name (default: the device of this minion).
    generation
        Validate against this generation's profile instead of the box's own.
    fail_on_warnings
        Also fail on warning-level checks (placeholder serials, unavailable sources).

    .. code-block:: yaml

        hardware-matches-netbox:
          hardware.validated

    CLI Example:

    .. code-block:: bash

        salt '*' state.single hardware.validated hardware-matches-netbox
    """
    ret = {"name": name, "result": True, "comment": "", "changes": {}}
    report = _report(ret, "hardware validation", device=device, generation=generation)
    if report is None:
        return ret
    ok = report["passed"] and not (fail_on_warnings and report["warnings"])
    ret["result"] = bool(ok)
    ret["comment"] = report["text"]
    return ret


def postchecked(name, device=None):
    """
    Ensure the configured box is in service: every cabled interface's LLDP neighbour is the
    NetBox cable peer, and the services its generation profile requires (``services:``) run and
    are enabled (``hardware.validate postcheck=True``: its ``cabling.*`` and ``services.*``
    checks, on an inventory of the NICs and LLDP alone). Read-only. The ``hwgen`` SLS ends with it (state id ``hwgen-postcheck``,
    ``order: last``) when pillar ``turnup:postcheck`` (a rack turn-up's highstate) or
    ``hardware:postcheck`` is true.

    With ``test=True`` a failing check gives ``result: None`` (the states before it have not
    been applied yet, so it may pass once they are) and says what fails now.

    name
        A label for the state.
    device
        NetBox device name (default: the device of this minion).

    .. code-block:: yaml

        hwgen-postcheck:
          hardware.postchecked:
            - order: last

    CLI Example:

    .. code-block:: bash

        salt '*' state.single hardware.postchecked in-service
    """
    ret = {"name": name, "result": True, "comment": "", "changes": {}}
    report = _report(ret, "post-check", device=device, postcheck=True)
    if report is None:
        return ret
    ok, comment = hwvalidate.postcheck_verdict(report)
    ret["comment"] = comment
    if not ok and __opts__.get("test"):
        ret["result"] = None
        ret["comment"] = f"{comment} (now, before the states above are applied)"
        return ret
    ret["result"] = ok
    return ret
