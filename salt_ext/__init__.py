"""saltext-turnup: NetBox as the source of truth for data-center turn-up with Salt.

Salt finds the loader modules through the ``salt.loader`` entry point, which names this package:
the loader looks in ``modules/``, ``states/``, ``runners/``, ``pillar/`` and ``utils/`` below it.
"""

from salt_ext.version import __version__  # noqa: F401

PACKAGE_ROOT = __import__("os").path.dirname(__file__)
