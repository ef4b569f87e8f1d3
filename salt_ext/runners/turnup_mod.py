"""
Turn-up orchestration helpers run on the master (``salt-run turnup.<function>``).

Functions are grouped by turn-up step; each is a thin shell over ``salt_ext.utils``.

- Hardware generations: :py:func:`check_generation`

:depends: the ``hardware`` execution module on the minions.
"""

import logging

import salt.client
import yaml
from salt.exceptions import SaltInvocationError, SaltRunnerError

from salt_ext.utils.hardware import profiles as hwprofiles
from salt_ext.utils.hardware import validate as hwvalidate
from salt_ext.utils.netbox_ops.jobs import fails_job, seconds

log = logging.getLogger(__name__)

__virtualname__ = "turnup"


def __virtual__():
    return __virtualname__


def _minion_call(client, minion, fun, arg=(), timeout=60):
    ret = client.cmd(minion, fun, arg=list(arg), timeout=timeout, full_return=True)
    if minion not in ret:
        raise SaltRunnerError(
            f"minion {minion!r} did not answer {fun} within {timeout}s: is it up and accepted?"
        )
    answer = ret[minion]
    if answer.get("retcode", 0) != 0 or not isinstance(answer.get("ret"), dict):
        raise SaltRunnerError(f"{fun} failed on {minion}: {answer.get('ret')}")
    return answer["ret"]


def _draft_profile(gen, profile_file, pillar):
    if profile_file:
        try:
            with open(profile_file, encoding="utf-8") as handle:
                doc = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as err:
            raise SaltInvocationError(f"profile_file {profile_file!r}: {err}") from err
        if isinstance(doc, dict) and isinstance(doc.get("hwgen_profiles"), dict):
            doc = doc["hwgen_profiles"].get(gen)
        if not isinstance(doc, dict):
            raise SaltInvocationError(
                f"profile_file {profile_file!r} holds no profile for {gen!r} "
                "(expected 'hwgen_profiles: {" + gen + ": {...}}' or the profile itself)"
            )
        return doc, profile_file
    profiles = pillar.get("hwgen_profiles") or {}
    if gen not in profiles:
        raise SaltInvocationError(
            f"no draft profile {gen!r} in the pillar of the sample box (known: {sorted(profiles)}): "
            f"add pillar/hwgen/{gen}.sls and list it in pillar/top.sls, or pass profile_file="
        )
    return profiles[gen], f"pillar hwgen_profiles:{gen}"


@fails_job
def check_generation(gen, minion, profile_file=None, timeout=120):
    """
    Onboarding a new hardware generation: inventory a sample box and report where the draft
    profile disagrees with the real machine (schema errors, match patterns, CPU, memory, disks,
    NICs, PSUs, firmware), with a ``suggested`` expected block taken from the box; ``conflicts``
    with the other generations (a device type already covered, a ``match`` that recognises the
    same hardware); and ``netbox``: whether the box's NetBox device type is already tagged
    (custom field ``hw_generation``) and listed in ``device_types``, with what is left ``todo``.
    Returns ``retcode`` 1 (and ``salt-run`` exits 1) when the draft disagrees or conflicts; the
    NetBox tagging (done after the draft agrees) never fails it.

    gen
        The generation being drafted (``gen13``).
    minion
        The minion id of a sample box of that generation.
    profile_file
        Read the draft from this YAML file instead of the box's pillar ``hwgen_profiles:<gen>``.
    timeout
        Seconds to wait for the minion.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.check_generation gen=gen13 minion=srv-r4-01
        salt-run turnup.check_generation gen=gen13 minion=srv-r4-01 profile_file=/srv/draft/gen13.sls
    """
    if not gen or not isinstance(gen, str):
        raise SaltInvocationError("gen=<generation name> is required, e.g. gen=gen13")
    if not minion or not isinstance(minion, str):
        raise SaltInvocationError("minion=<minion id of a sample box> is required")
    timeout = seconds(timeout)
    client = salt.client.get_local_client(__opts__["conf_file"])
    # Compiled on the master from pillar_roots (a draft just added is seen without a refresh);
    # also gives the other generations and the box's NetBox device type.
    pillar = __salt__["pillar.show_pillar"](minion) or {}
    profile, origin = _draft_profile(gen, profile_file, pillar)
    inventory = _minion_call(client, minion, "hardware.inventory", timeout=timeout)
    report = hwvalidate.compare_draft(inventory, gen, profile)
    report["minion"] = minion
    report["profile_source"] = origin
    report["conflicts"] = hwprofiles.conflicts(
        gen, profile, pillar.get("hwgen_profiles"), inventory
    )
    report["netbox"] = hwprofiles.netbox_tagging(
        gen, profile, (pillar.get("netbox") or {}).get("device_type")
    )
    report["retcode"] = 0 if report["agrees"] and not report["conflicts"] else 1
    if report["retcode"]:
        __context__["retcode"] = 1
    return report


# --- decommission and rollout (helper C2) ------------------------------------------------------
# Logic in salt_ext.utils.turnup.decommission / .rollout; the sequences are
# states/orch/decommission.sls and states/orch/hwgen_rollout.sls, which render these plans.


def _c2_source():
    from salt_ext.utils.netbox_ops import glue  # noqa: PLC0415  # pylint: disable=C0415

    return glue.source(__opts__, __context__)


def _c2_errors(what):
    from salt_ext.utils.netbox_ops import glue  # noqa: PLC0415  # pylint: disable=C0415

    return glue.mapped_errors(what, SaltRunnerError)


@fails_job
def decommission_plan(site=None, *, devices=None, rack=None, confirm=None, drain=None, wipe=True):
    """
    What ``orch.decommission`` would take out: the devices (``devices=`` in ``site``, or every
    device of ``rack``), each with its minion id, serial and NetBox status (``offline`` ones are
    ``done`` and left alone), and whether ``confirm`` lists exactly them (``confirmed``;
    ``problem`` says what to fix). Reads NetBox only.

    site
        the site slug
    devices
        device names (list or comma-separated); or
    rack
        a rack of the site: every device in it
    confirm
        the same device names again
    drain
        an SLS applied on each box first (none by default)
    wipe
        wipe the disks (default true; false for a dead box, recorded in the journal)

    CLI Example:

    .. code-block:: bash

        salt-run turnup.decommission_plan site=lab1 devices=srv-r1-04 confirm=srv-r1-04
    """
    from salt_ext.utils.turnup import decommission  # noqa: PLC0415  # pylint: disable=C0415

    src = _c2_source()
    with _c2_errors("turnup.decommission_plan"):
        return decommission.plan(
            src, site, devices=devices, rack=rack, confirm=confirm, drain=drain, wipe_disks=wipe
        )


@fails_job
def rollout_plan(site=None, generation=None, batch="25%", canary=1):
    """
    The waves of ``orch.hwgen_rollout``: every ``active`` box of ``generation`` (device types
    whose custom field ``hw_generation`` is it) in ``site``, a canary of ``canary`` boxes then
    batches of ``batch`` (a count or a percentage). Reads NetBox only.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.rollout_plan site=lab1 generation=gen10 batch=2
    """
    from salt_ext.utils.turnup import rollout  # noqa: PLC0415  # pylint: disable=C0415

    src = _c2_source()
    with _c2_errors("turnup.rollout_plan"):
        return rollout.plan(src, site, generation, batch, canary)
