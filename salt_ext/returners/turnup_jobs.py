"""
Keep a job's return on the minion itself, whether or not a master receives it.

The rack turn-up publishes its minion jobs (highstate, validation, inventory) with
``ret=turnup_jobs``, so ``turnup.resume`` can tell how a job that was in flight when the master
died ended, even when the minion finished it while no master listened. Returns are kept in
``<cachedir>/turnup_jobs/<jid>.p`` (mode 0600) for ``turnup_jobs_keep_hours`` (minion option,
72). Nothing to configure.

Read one back:

.. code-block:: bash

    salt srv-r2-01 ret.get_jid turnup_jobs 20261203174500123456
"""

from salt_ext.utils.turnup import jobs

__virtualname__ = jobs.RETURNER


def __virtual__():
    return __virtualname__


def returner(ret):
    """
    Keep the return ``ret`` of one job under the minion's cachedir.

    CLI Example:

    .. code-block:: bash

        salt srv-r2-01 state.highstate --return turnup_jobs
    """
    jobs.keep(__opts__, ret)


def get_jid(jid):
    """
    The kept return of job ``jid``: ``{minion_id: {return, retcode, ...}}``, ``{}`` if none.

    CLI Example:

    .. code-block:: bash

        salt srv-r2-01 ret.get_jid turnup_jobs 20261203174500123456
    """
    return jobs.get(__opts__, jid)


def prep_jid(nocache=False, passed_jid=None):  # pylint: disable=unused-argument
    """
    The jid to use (Salt asks returners for one when a job names them).

    CLI Example:

    .. code-block:: bash

        salt srv-r2-01 state.highstate --return turnup_jobs
    """
    import salt.utils.jid  # noqa: PLC0415  # pylint: disable=import-outside-toplevel

    return passed_jid if passed_jid is not None else salt.utils.jid.gen_jid(__opts__)
