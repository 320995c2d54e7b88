"""The pure core of the analysis: numbers, arrays and Arrow tables in, numbers and tables out.

Nothing here imports Django, Celery or any other module of the project outside this package
(checked by tests/analysis/test_pure_core.py). Every quantity carries its unit in its name;
every function raises an error naming the argument it cannot work with.

- ``process``: the lab's process calculations (porosity, uptake, N/P, 1C current, ...)
- ``readers``: cycler files into the canonical table
- ``cycling``: steps, cycles, the per-cycle summary counted the way the cycler counts, and
  its quality flags
- ``measurement``: what kind of measurement a file holds; impedance spectra
- ``history``: one cycle history per cell across its datasets
- ``definitions``: the lab's definitions per kind of cell (capacity basis, loading reference)
- ``metrics``: what a researcher reports for a cell
- ``downsample``: points for plots
- ``synthetic``: paper-shaped cycling data for tests and the demo
- ``electrodes``: three-electrode analysis (per-electrode cycle table, degradation modes,
  diagnosis, fade predicted from the half cells)
- ``synthetic_three_electrode``: three-electrode cells with known degradation, as EC-Lab exports
"""
