"""Shared pytest configuration: fixture plugins every test can use."""

import subprocess as _subprocess

pytest_plugins = ["tests.helpers.registry_server"]

_popen_init = _subprocess.Popen.__init__


def _popen_without_inherited_stdin(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Children of test processes get /dev/null as stdin unless a test passes its own: under pytest-xdist a
    worker's stdin is its channel to the controller, and a child that reads stdin (``cargo`` asks ``rustc -``)
    would read protocol bytes (flaky failures) or disturb the channel."""
    kwargs.setdefault("stdin", _subprocess.DEVNULL)  # run(input=...) passes stdin=PIPE itself
    _popen_init(self, *args, **kwargs)


_subprocess.Popen.__init__ = _popen_without_inherited_stdin  # type: ignore[method-assign]
