"""Image risk fix: patch an image's OS packages to their fixed versions in one new layer.

The pieces, in the order :func:`hullscan.fix.service.fix_image` uses them:

* :mod:`.imagefs`   read the few files the fix needs (package database, sources, keyrings) from the image's layers;
* :mod:`.apt`       apt sources (one-line and deb822), ``InRelease``/``Release`` verified with ``gpgv``, ``Packages``;
* :mod:`.debfile`   ``.deb`` archives (ar + control.tar.* + data.tar.*), read in memory;
* :mod:`.resolve`   which packages to upgrade, their dependencies against what is installed, named refusals;
* :mod:`.dpkgdb`    the dpkg database as dpkg leaves it after an upgrade (``status``, ``info/*``, ``status.d/``);
* :mod:`.layer`     the patch layer: new files, whiteouts, the updated database;
* :mod:`.output`    the patched image (manifest, config, annotations) as an OCI archive or pushed to a registry;
* :mod:`.vex`       the OpenVEX statement of the fixed vulnerabilities.

Maintainer scripts (``preinst``, ``postinst``, ...) are never run: not on the host, and not in a sandbox either.
Each one that an upgraded package carries is recorded as skipped in the fix log (``FixResult.skipped_scripts``), so
an operator can see what a ``dpkg -i`` would have run on top of the files written.
"""
