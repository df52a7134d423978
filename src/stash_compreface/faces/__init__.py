"""Pure decision logic: no I/O, no clocks, no randomness. Inputs are numbers and dataclasses."""
