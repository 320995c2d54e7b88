"""Three-electrode analysis: which electrode limits a full cell, why its capacity goes, and
what its half cells predicted.

Pure numpy / scipy / pyarrow, no Django. The pieces, in the order a run goes through them:

- :mod:`.three_electrode`: the cell voltage and both electrodes' potentials vs the reference
  (any two of the three, the third derived), the consistency check |V − (E₊ − E₋)|, and the
  half-cycle boundaries (:class:`HalfCycles`) the rest works on;
- :mod:`.cycles`: one row per cycle and electrode (end potentials, mean potentials and
  polarisation, interruption resistance, terminating share, dQ/dE peak and profile change), the
  capacity in characteristic potential ranges, dQ/dE and dE/dQ curves;
- :mod:`.differential`: dQ/dE and dE/dQ of one branch;
- :mod:`.dma`: degradation modes (loss of sodium inventory, loss of active material at either
  electrode, slippage) by fitting each electrode's branch with its half-cell reference branch;
- :mod:`.diagnosis`: the one-sentence diagnosis and the numbers behind it;
- :mod:`.fade`: a full cell's fade predicted from its half cells' coulombic efficiencies and
  its N/P ratio, set against the measured fade.
"""
