"""Thin script entries for the reproductions (the code lives in collapse_lab.reproductions)."""
