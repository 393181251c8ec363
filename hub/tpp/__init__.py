"""The TPP rules: pure functions over plain data (no store, no files, no clock, no network).

A payroll officer's worked example is a few lines of plain data in and a result out. Reading policy files,
stored events and scenario files lives next to that I/O, in `hub.payroll`.
"""
