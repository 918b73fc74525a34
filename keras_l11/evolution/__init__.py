"""Evolutionary search for fooling images (Nguyen, Yosinski & Clune 2015):
image encodings (direct and CPPN) and MAP-Elites over the classes."""
