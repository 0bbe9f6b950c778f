"""Benchmarks and the drivers that work the real apps the way people do (``hcp bench …``).

Not product code: nothing in ``haochaping``, ``kiosk`` or ``sync_server`` imports this package; the ``hcp`` command
line registers ``hcp bench`` when it is installed (an ``[all]`` install). ``bench.kit`` is the one timing kit:
nearest-rank percentiles, a free loopback port, a private Xvfb display and a real ``hcp server`` process.
"""
