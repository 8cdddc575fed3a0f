"""Language-ecosystem analyzers: one module per ecosystem, registered in :data:`hullscan.analyzers.ANALYZERS`.

Installed packages and lock files (``installed=False``) of Python (``python``), JavaScript (``npm``),
Ruby (``ruby``), PHP (``php``) and .NET (``dotnet``) share :mod:`~hullscan.analyzers.lang.lockfiles`;
Java archives (``java``), Go binaries and modules (``golang``, ``gobuildinfo``) and Rust (``rust``)
read binaries and archives.
"""
