"""Turn-up events on the master's event bus: ``turnup/<run>/<device>/<step>``, ``turnup/<run>/done``."""

import logging

import salt.utils.event

log = logging.getLogger(__name__)

PREFIX = "turnup"


def step_tag(run, device, step):
    return f"{PREFIX}/{run}/{device}/{step}"


def done_tag(run):
    return f"{PREFIX}/{run}/done"


class Bus:
    """Fires events on the master bus; never raises (progress must not break a turn-up)."""

    def __init__(self, opts):
        self.opts = opts
        self._event = None

    def fire(self, tag, data):
        try:
            if self._event is None:
                self._event = salt.utils.event.get_master_event(
                    self.opts, self.opts["sock_dir"], listen=False
                )
            self._event.fire_event(data, tag)
        except Exception as err:  # pylint: disable=broad-except
            log.warning("turnup: could not fire %s: %s", tag, err)

    def step(self, run, device, step, result):
        data = {"run": run, "device": device, "step": step}
        data.update({k: result.get(k) for k in ("result", "duration", "comment", "jid", "test")})
        self.fire(step_tag(run, device, step), data)

    def done(self, run, state, failed):
        self.fire(done_tag(run), {"run": run, "state": state, "failed": failed})

    def close(self):
        if self._event is not None:
            try:
                self._event.destroy()
            except Exception:  # pylint: disable=broad-except
                pass
            self._event = None
