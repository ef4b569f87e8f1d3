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


# --- rack turn-up (helper C): plan, preflight, steps, status, watch, resume, abort ---------------


def _tu_source():
    from salt_ext.utils.netbox_ops import glue  # noqa: PLC0415  # pylint: disable=C0415

    return glue.source(__opts__, __context__)


def _tu_errors(what):
    from salt_ext.utils.netbox_ops import glue  # noqa: PLC0415  # pylint: disable=C0415

    return glue.mapped_errors(what, SaltRunnerError)


def _tu_profiles(minion=None):
    """Generation profiles as the master compiles them for a box (pillar ``hwgen_profiles``)."""
    pillar = __salt__["pillar.show_pillar"](minion) if minion else __salt__["pillar.show_pillar"]()
    return (pillar or {}).get("hwgen_profiles") or {}


def _tu_accepted():
    import salt.key  # noqa: PLC0415  # pylint: disable=C0415

    return set((salt.key.get_key(__opts__).list_keys() or {}).get("minions") or [])


def _tu_test(test):
    if test is None:
        return bool(__opts__.get("test"))
    if isinstance(test, str):
        return test.strip().lower() in ("1", "true", "yes", "on")
    return bool(test)


def _tu_turnup(kwargs, test=False):
    from salt_ext.utils.netbox_ops import journal  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import events  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import record  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import steps  # noqa: PLC0415  # pylint: disable=C0415

    jid = kwargs.get("orchestration_jid") or kwargs.get("__pub_jid") or journal.job_id(__opts__)
    # from the config file, not __opts__: an orchestration overwrites __opts__['user'] with the
    # publishing user (the reactor's, for auto_turnup), whose key file does not exist. Kept for
    # the orchestration's later steps (one RunnerClient runs them all, see stepcall)
    client = __context__.get("turnup.local_client")
    if client is None:
        client = __context__["turnup.local_client"] = salt.client.get_local_client(
            __opts__["conf_file"]
        )

    def lookup_jid(job):
        return __salt__["jobs.lookup_jid"](job, missing=False, display_progress=False) or {}

    def lookup_load(job):  # published: the master's job cache has the job itself
        if not __opts__.get("job_cache", True):
            return True  # no job cache to tell: assume it was
        found = __salt__["jobs.list_job"](job) or {}
        return found.get("Function") not in (None, "", "unknown-function")

    return steps.Turnup(
        _tu_source(),
        record.Store(__opts__),
        events.Bus(__opts__),
        client,
        lookup_jid=lookup_jid,
        lookup_load=lookup_load,
        jid=jid,
        test=test,
        who=__opts__.get("id"),
    )


@fails_job
def plan(site=None, rack=None, batch="25%", devices=None, table=False):
    """
    The turn-up plan of a rack, from NetBox: its network devices first (OOB switch, then ToR
    switches, each ``managed`` when it is an accepted minion or proxy minion, else
    ``unmanaged``: checked, not configured), then its servers as a canary of one and batches.
    Each device with its minion id, generation, NetBox status, primary IP and cable peers.

    site
        NetBox site slug.
    rack
        Rack name in that site.
    batch
        Servers per batch after the canary: a count (``4``) or a percentage (``25%``).
    devices
        Only these servers (comma-separated names).
    table
        Return a readable table instead of the data.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.plan site=lab1 rack=R2
        salt-run turnup.plan site=lab1 rack=R2 batch=3 table=True
        salt-run turnup.plan site=lab1 rack=R2 devices=srv-r2-01,srv-r2-02 --out=yaml
    """
    from salt_ext.utils.turnup import plan as planner  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import render  # noqa: PLC0415  # pylint: disable=C0415

    src = _tu_source()
    with _tu_errors("turnup.plan"):
        out = planner.build(src, site, rack, batch=batch, devices=devices, accepted=_tu_accepted())
        planner.generations(src, out)
    return render.plan_table(out) if table else out


@fails_job
def preflight(site=None, rack=None, devices=None, **kwargs):
    """
    Check what NetBox says about a rack before turning it up; never writes. Blocking errors and
    warnings, each naming the NetBox object, what is wrong, the fix and its NetBox URL: no
    primary IP, a device type without a known generation profile, a serial duplicated anywhere
    in NetBox, an interface the generation needs that NetBox does not cable, a ToR port without
    the VLAN the server needs, a device in a status that forbids a turn-up. An unknown site or
    rack lists what exists. The job fails (retcode 1) when there are errors.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.preflight site=lab1 rack=R3
    """
    from salt_ext.utils.turnup import plan as planner  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import preflight as pre  # noqa: PLC0415  # pylint: disable=C0415

    src = _tu_source()
    with _tu_errors("turnup.preflight"):
        inventory = planner.rack_inventory(src, site, rack)
        servers = [d for d in inventory[2] if planner.device_kind(d) == "server"]
        profiles = _tu_profiles(planner.minion_id(servers[0]) if servers else None)
        report = pre.run(src, site, rack, profiles, devices=devices, inventory=inventory)
    report["retcode"] = 0 if report["ok"] else 1  # salt-run's exit code
    if not report["ok"]:
        __context__["retcode"] = 1
    return report


def _tu_summary(turnup, step, extra=None):
    from salt_ext.utils.turnup import record  # noqa: PLC0415  # pylint: disable=C0415

    out = {
        "run": turnup.record["id"] if turnup.record else None,
        "step": step,
        "test": turnup.test,
        "state": (turnup.record or {}).get("state"),
        "failed": record.failed(turnup.record) if turnup.record else {},
        "changes": turnup.changes,
    }
    out.update(extra or {})
    return out


def _tu_run_step(turnup, step, site, rack, options, *, new=False, state=None):  # noqa: PLR0917
    """Run one step; returns the summary. StopRun -> retcode 1."""
    from salt_ext.utils.turnup import record  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import steps  # noqa: PLC0415  # pylint: disable=C0415

    extra = {}
    if step == "preflight":
        report = preflight(site=site, rack=rack, devices=options.get("devices"))
        extra = {
            "comment": f"preflight {report['site']}/{report['rack']}: {len(report['errors'])} "
            f"error(s), {len(report['warnings'])} warning(s)",
            "preflight": report,
        }
        return _tu_summary(turnup, step, extra)
    if step == "start":
        extra = turnup.start(site, rack, options=options, accepted=_tu_accepted(), new=new)
        return _tu_summary(turnup, step, extra)
    if turnup.record is None:
        turnup.load(site, rack)
    if turnup.record is None and turnup.test:
        turnup.start(site, rack, options=options, accepted=_tu_accepted())
    if turnup.record is None and step == "finish":
        return _tu_summary(turnup, step, {"comment": f"no turn-up run for rack {rack} of {site}"})
    if turnup.record is None:
        raise SaltInvocationError(
            f"no turn-up run for rack {rack} of {site}: the orchestration starts one (step=start)"
        )
    held = turnup.held_elsewhere()
    if held:
        # another orchestration drives this rack's run (this one's start was refused): its
        # steps, the onfail finish too, must not write to that run nor release its lock
        __context__["retcode"] = 1
        return _tu_summary(
            turnup,
            step,
            {
                "comment": record.held_message(turnup.record["site"], turnup.record["rack"], held)
                + f"; this orchestration (job {turnup.jid}) leaves that run alone",
                "failed": {},
            },
        )
    if turnup.record["state"] in ("done", "aborted"):
        return _tu_summary(
            turnup, step, {"comment": f"run {turnup.record['id']} is {turnup.record['state']}"}
        )
    if step == "finish" and state and turnup.test:
        # the SLS's onfail finish (run_state: stopped): under test=True Salt runs it after the
        # steps' predictions (result None), although nothing failed
        return _tu_summary(
            turnup, step, {"comment": f"test=True: a failed step would record the run {state}"}
        )
    try:
        if step == "finish":
            final, failed = turnup.finish(state=state)
            extra = {"state": final}
            if failed or final != "done":
                __context__["retcode"] = 1
                extra["comment"] = f"run {turnup.record['id']} {final}; failed: " + (
                    ", ".join(f"{n} at {s}" for n, s in sorted(failed.items())) or "none"
                )
            else:
                extra["comment"] = f"run {turnup.record['id']} done"
        else:
            if turnup.record.get("abort_requested") and not turnup.test:
                turnup.abort_now(step)
            getattr(turnup, step)()
    except steps.StopRun as err:
        __context__["retcode"] = 1
        extra["comment"] = str(err)
    return _tu_summary(turnup, step, extra)


@fails_job
def step(
    step=None,  # pylint: disable=redefined-outer-name
    site=None,
    rack=None,
    *,
    run=None,
    test=None,
    batch=None,
    max_failures=None,
    minion_timeout=None,
    devices=None,
    new=False,
    state=None,
    **kwargs,
):
    """
    One step of a rack turn-up (the ``orch.rack_turnup`` SLS calls it once per step):
    ``start`` (create or reuse the rack's run), ``stage``, ``wait_minions``, ``sync_all``,
    ``validate``, ``sync_inventory``, ``highstate`` (wave by wave), ``postcheck``, ``activate``,
    ``finish``. Devices that fail are set ``failed`` in NetBox (journal entry naming the step,
    the error and the job) and left out of later steps; the step fails (retcode 1) only when
    the failures pass ``max_failures`` or the canary fails. With ``test=True`` nothing is
    written and ``changes`` lists what would change.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.step step=start site=lab1 rack=R2 batch=25%
        salt-run turnup.step step=validate site=lab1 rack=R2 test=True
    """
    from salt_ext.utils.turnup import steps  # noqa: PLC0415  # pylint: disable=C0415

    steps.check_step(step)
    test = _tu_test(test)
    turnup = _tu_turnup(kwargs, test=test)
    if run:
        turnup.load(run=run)
        site, rack = turnup.record["site"], turnup.record["rack"]
    options = {
        "batch": batch,
        "max_failures": max_failures,
        "minion_timeout": seconds(minion_timeout, "minion_timeout") if minion_timeout else None,
        "devices": devices,
    }
    with _tu_errors(f"turnup.step {step}"):
        try:
            out = _tu_run_step(turnup, step, site, rack, options, new=new, state=state)
            out["retcode"] = __context__.get("retcode", 0)  # salt-run's exit code
            return out
        finally:
            turnup.bus.close()


@fails_job
def status(run=None, site=None, rack=None, raw=False):
    """
    The state of a turn-up run: a table (device, wave, step, result, duration, error), or the
    whole run record with ``raw=True``. Give the run id, or the site and rack (their current or
    latest run).

    CLI Example:

    .. code-block:: bash

        salt-run turnup.status site=lab1 rack=R2
        salt-run turnup.status run=lab1-R2-20261202T154501 raw=True --out=yaml
    """
    from salt_ext.utils.turnup import record  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import render  # noqa: PLC0415  # pylint: disable=C0415

    store = record.Store(__opts__)
    if run:
        data = store.get(run)
    else:
        if not site or not rack:
            raise SaltInvocationError("give run=<run id>, or site=<slug> and rack=<name>")
        data = store.latest(site, rack)
        if data is None:
            raise SaltInvocationError(
                f"no turn-up run for rack {rack} of {site}; runs: "
                f"{', '.join(store.list()[-10:]) or 'none'}"
            )
    return data if raw else render.status_table(data)


@fails_job
def watch(run=None, site=None, rack=None, timeout=3600):
    """
    Follow a run live from the event bus until ``turnup/<run>/done`` or ``timeout`` seconds:
    first the steps the record already holds (marked ``(earlier)``), then one line per
    ``turnup/<run>/<device>/<step>`` event as it happens; returns the final status table.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.watch site=lab1 rack=R2
    """
    from salt_ext.utils.turnup import record  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import render  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import watch as follower  # noqa: PLC0415  # pylint: disable=C0415

    timeout = seconds(timeout)
    store = record.Store(__opts__)
    data = store.get(run) if run else store.latest(site, rack)
    if data is None:
        raise SaltInvocationError("give run=<run id>, or site= and rack= of a rack with a run")
    if data["state"] in ("done", "aborted"):
        return render.status_table(data)
    return render.status_table(follower.follow(__opts__, store, data["id"], timeout))


@fails_job
def resume(run=None, **kwargs):
    """
    Go on with an interrupted run (master restart, stopped run) from its record: devices that
    finished a step are not run again; a highstate in flight when the master died is looked up
    in the job cache by its jid, not re-applied. A finished run cannot be resumed.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.resume run=lab1-R2-20261202T154501
    """
    from salt_ext.utils.turnup import record  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import steps  # noqa: PLC0415  # pylint: disable=C0415

    data = record.Store(__opts__).get(run)
    if data["state"] in record.FINISHED:
        raise SaltInvocationError(
            f"run {run} is {data['state']}: nothing to resume (turnup.status run={run}); start a "
            "new run with the orchestration and pillar new: true"
        )
    results = []
    for name in steps.ORDER:
        turnup = _tu_turnup(kwargs)
        with _tu_errors(f"turnup.resume {name}"):
            try:
                if name == "preflight":
                    continue  # the run passed it when it started
                turnup.load(run=run)
                if name == "start":
                    turnup.store.acquire(data["site"], data["rack"], run, jid=turnup.jid)
                    turnup.record["state"] = "running"
                    turnup.record["history"].append(
                        {"at": record.now(), "event": "resumed", "jid": turnup.jid}
                    )
                    turnup.save()
                    continue
                out = _tu_run_step(turnup, name, data["site"], data["rack"], {})
            finally:
                turnup.bus.close()
        results.append({"step": name, "comment": out.get("comment"), "failed": out["failed"]})
        if __context__.get("retcode") and name != "finish":
            final = _tu_turnup(kwargs)
            final.load(run=run)
            final.finish(state="aborted" if final.record.get("abort_requested") else "stopped")
            final.bus.close()
            break
    from salt_ext.utils.turnup import render  # noqa: PLC0415  # pylint: disable=C0415

    latest = record.Store(__opts__).get(run)
    return {
        "run": run,
        "state": latest["state"],
        "failed": record.failed(latest),
        "retcode": 0 if latest["state"] == "done" and not record.failed(latest) else 1,
        "steps": results,
        "table": render.status_table(latest),
    }


@fails_job
def abort(run=None, **kwargs):
    """
    Stop a run after its current batch: devices not reached keep their status (``staged``)
    and get a journal entry; the run ends ``aborted``. When no orchestration is running the run
    (its master process is gone) it is aborted at once.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.abort run=lab1-R2-20261202T154501
    """
    from salt_ext.utils.turnup import record  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import steps  # noqa: PLC0415  # pylint: disable=C0415

    store = record.Store(__opts__)
    data = store.get(run)
    if data["state"] in record.FINISHED:
        raise SaltInvocationError(f"run {run} is {data['state']} already: nothing to abort")
    data["abort_requested"] = True
    data["history"].append({"at": record.now(), "event": "abort requested"})
    store.save(data)
    lock = store.lock(data["site"], data["rack"])
    if lock and lock.get("run") == run and store.owner_alive(lock):
        return {
            "run": run,
            "state": data["state"],
            "comment": "abort requested: the run stops "
            "after its current batch (turnup.watch run=... follows it)",
        }
    turnup = _tu_turnup(kwargs)
    turnup.load(run=run)
    with _tu_errors("turnup.abort"):
        try:
            turnup.abort_now("the next step")
        except steps.StopRun as err:
            comment = str(err)
        finally:
            turnup.finish(state="aborted")
            turnup.bus.close()
    return {"run": run, "state": "aborted", "comment": comment}


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


# --- boot enrolment (helper G) -----------------------------------------------------------------
# Reactor hand-offs (states/reactor/): turnup.on_boot (salt/minion/*/start), turnup.on_netbox_event
# (salt/netapi/hook/netbox), turnup.auto_turnup (turnup/rack/ready). Logic in
# salt_ext.utils.turnup.boot and .autosign; docs/security.md explains the trust model.


def _g_source():
    from salt_ext.utils.netbox_ops import glue  # noqa: PLC0415  # pylint: disable=C0415

    return glue.source(__opts__, __context__)


def _g_errors(what):
    from salt_ext.utils.netbox_ops import glue  # noqa: PLC0415  # pylint: disable=C0415

    return glue.mapped_errors(what, SaltRunnerError)


def _g_jid(kwargs):
    from salt_ext.utils.netbox_ops import journal  # noqa: PLC0415  # pylint: disable=C0415

    return kwargs.get("__pub_jid") or kwargs.get("__jid__") or journal.job_id(__opts__)


@fails_job
def on_boot(minion, **kwargs):
    """
    Verify a minion that just started (the reactor on ``salt/minion/<id>/start`` hands off
    here): its serial and MACs, asked of the minion itself, must match exactly one NetBox device
    in ``planned``/``staged`` whose name or custom field ``minion_id`` is the minion id.
    Match: ``netbox.sync_inventory``, status ``staged`` (journal), event ``turnup/device/ready``,
    rack check (``turnup/rack/ready``). Mismatch, or a decommissioning/offline device's id or
    serial: key deleted, serials quarantined, journal entries on the devices concerned, event
    ``turnup/security/mismatch``; never a status change. Repeated start events repeat nothing.

    minion
        the minion id (from the event tag; only used to address the minion)

    Master configuration (optional): ``turnup_boot: {ignore: [<glob>...], timeout: 60,
    grain: serialnumber}``.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.on_boot minion=srv-r2-01
    """
    from salt_ext.utils.turnup import boot  # noqa: PLC0415  # pylint: disable=C0415

    boot.check_minion_id(minion)
    src = _g_source()
    with _g_errors(f"turnup.on_boot {minion}"):
        ret = boot.SaltEnrolment(__opts__, src, jid=_g_jid(kwargs)).run(minion)
    if ret.pop("retcode", 0):
        __context__["retcode"] = 1
    return ret


@fails_job
def on_netbox_event(body=None, signature=None, **kwargs):
    """
    Handle a NetBox event rule's webhook (the reactor on ``salt/netapi/hook/netbox`` hands off
    the raw body and the ``X-Hook-Signature`` header here). The body must carry NetBox's
    HMAC-SHA512 signature made with the secret of ``turnup_webhook:secret_file`` (or ``secret``)
    and be younger than ``turnup_webhook:max_age`` seconds (default 600); anything else is
    refused (event ``turnup/security/webhook_rejected``) and changes nothing. A device whose
    status or serial changed makes the master rewrite the autosign file from NetBox (the body
    is only a hint: NetBox is read again) and refetch that site's pillar cache.

    body
        the raw request body
    signature
        the ``X-Hook-Signature`` header

    CLI Example:

    .. code-block:: bash

        salt-run turnup.on_netbox_event body='{"event": "updated", ...}' signature=3f2a...
    """
    from salt_ext.utils.turnup import autosign  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import boot  # noqa: PLC0415  # pylint: disable=C0415

    def fire(tag, data):
        boot.fire_event(__opts__, tag, data)

    def refresh(site):
        from salt_ext.utils import pillar  # noqa: PLC0415  # pylint: disable=C0415

        return pillar.pillar_refresh(__opts__, site=site, context=__context__)

    with _g_errors("turnup.on_netbox_event"):
        ret = autosign.on_netbox_event(
            __opts__, _g_source, body, signature, fire=fire, refresh_pillar=refresh
        )
    if not ret.get("accepted"):
        __context__["retcode"] = 1
    return ret


@fails_job
def auto_turnup(site, rack, **kwargs):
    """
    Start ``orch.rack_turnup`` for a rack whose servers have all booted (the reactor on
    ``turnup/rack/ready`` hands off here). NetBox is read again (the event may be forged):
    the rack's custom field ``auto_turnup`` must be true and every server being turned up
    ``staged``. Started once per set of servers, recorded in ``salt.cache`` (bank
    ``turnup/rackready``) so repeated events, master restarts and other masters sharing the
    cache do not start it again; the turn-up run lock refuses a second running run.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.auto_turnup site=lab1 rack=R2
    """
    from salt_ext.utils.turnup import boot  # noqa: PLC0415  # pylint: disable=C0415

    def start(pillar):
        import salt.runner  # noqa: PLC0415  # pylint: disable=C0415

        # asynchronous(), not cmd_async(): the latter demands eauth credentials
        client = salt.runner.RunnerClient(__opts__)
        low = {"fun": "state.orchestrate", "arg": ["orch.rack_turnup"], "kwarg": {"pillar": pillar}}
        return client.asynchronous("state.orchestrate", low)

    src = _g_source()
    with _g_errors(f"turnup.auto_turnup site={site} rack={rack}"):
        return boot.auto_turnup(__opts__, src, site, rack, start=start)


@fails_job
def release(serial=None, minion=None):
    """
    Release a serial quarantined by boot verification (it goes back into the autosign file at
    the next ``netbox.sync_autosign``, which this runs) and forget a minion's last verdict.
    Run it once a human has looked at the ``turnup/security/mismatch`` evidence.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.release serial=LAB1R2S01
        salt-run turnup.release minion=srv-r2-02
    """
    import salt.cache  # noqa: PLC0415  # pylint: disable=C0415

    from salt_ext.utils.turnup import autosign  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import boot  # noqa: PLC0415  # pylint: disable=C0415

    if not serial and not minion:
        raise SaltInvocationError("give serial=<serial> and/or minion=<minion id> to release")
    out = {}
    if serial:
        out["serial"] = autosign.release(__opts__, str(serial))
        with _g_errors("turnup.release"):
            out["autosign"] = autosign.sync(__opts__, _g_source())
    if minion:
        cache = salt.cache.factory(__opts__)
        out["minion"] = cache.fetch(boot.BOOT_BANK, boot.check_minion_id(minion)) or None
        cache.flush(boot.BOOT_BANK, minion)
    return out


@fails_job
def quarantined():
    """
    The serials boot verification quarantined (kept out of the autosign file), with the minion,
    verdict and job that caught them.

    CLI Example:

    .. code-block:: bash

        salt-run turnup.quarantined
    """
    from salt_ext.utils.turnup import autosign  # noqa: PLC0415  # pylint: disable=C0415

    return sorted(autosign.quarantined(__opts__).values(), key=lambda r: r["serial"])


# --- report (helper H): run report (HTML), metrics (Prometheus textfile) -------------------------


def _h_secrets(opts, depth=0):
    """String values of any ``*token*`` key of the master config (masked in reports)."""
    found = []
    if depth > 6:
        return found
    items = opts.items() if isinstance(opts, dict) else []
    for key, value in items:
        if isinstance(value, dict):
            found += _h_secrets(value, depth + 1)
        elif isinstance(value, str) and "token" in str(key).lower() and len(value) >= 8:
            found.append(value)
    return found


@fails_job
def report(run=None, path=None):
    """
    Write the HTML report of a turn-up run to ``path``: one self-contained page (inline CSS
    and SVG, nothing fetched when opened) with the run's summary, a Gantt chart of every device
    and step, the waves, the failures with their errors and job ids, and the NetBox status
    changes. Written atomically, mode 0644 (no secret is in it: token-shaped strings are
    masked).

    run
        The run id (``turnup.status site= rack=`` shows it).

    path
        Absolute path of the HTML file to write (its directory must exist).

    CLI Example:

    .. code-block:: bash

        salt-run turnup.report run=lab1-R2-20261202T154501 path=/srv/reports/lab1-R2.html
    """
    from salt_ext.utils.turnup import record  # noqa: PLC0415  # pylint: disable=C0415
    from salt_ext.utils.turnup import report as tu_report  # noqa: PLC0415  # pylint: disable=C0415

    if not run or not isinstance(run, str):
        raise SaltInvocationError("run=<run id> is required (turnup.status site= rack= shows it)")
    if not path or not isinstance(path, str):
        raise SaltInvocationError("path=<absolute file.html> is required")
    return tu_report.report(record.Store(__opts__), run, path, secrets=_h_secrets(__opts__))


@fails_job
def metrics(path=None):
    """
    Write the Prometheus textfile of saltext-turnup (for node_exporter's textfile collector):
    turn-up devices by status, runs by state, step durations and failures (from the run
    records), pillar cache hits/misses/stale serves and ages, NetBox requests, latency and
    errors by endpoint (counted by the master's processes). Written atomically.

    path
        Absolute ``.prom`` file; default: master config ``turnup: {metrics_file: ...}``, else
        ``/var/lib/node_exporter/textfile/saltext_turnup.prom``.

    Run it every minute from the master's schedule (docs/metrics.md):

    .. code-block:: yaml

        schedule:
          saltext_turnup_metrics:
            function: turnup.metrics
            minutes: 1
            run_on_start: true

    CLI Example:

    .. code-block:: bash

        salt-run turnup.metrics
        salt-run turnup.metrics path=/var/lib/node_exporter/textfile/saltext_turnup.prom
    """
    from salt_ext.utils import metrics as tu_metrics  # noqa: PLC0415  # pylint: disable=C0415

    return tu_metrics.write(__opts__, path)
