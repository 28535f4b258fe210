"""Geographic mode: territories built from whole units (ZIP areas, counties, custom polygons).

``units`` reads and repairs boundary layers, ``adjacency`` builds the unit graph with shared
boundary lengths, ``join`` puts accounts into units, ``districts`` assigns units to reps as
connected territories, and ``dissolve`` turns a plan back into one polygon per territory.
``pipeline`` is the product's job over them (`territory districts`). ``request`` describes its settings,
``instance`` reads the files and builds the problem, and ``report`` writes the tables and metrics.
"""
