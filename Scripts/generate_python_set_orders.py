#!/usr/bin/env python3
"""Writes Tests/MediaTests/Resources/python_set_orders.json: the reference's candidate-grid order
`sorted(set((i, j) ...), key=i*j)` for min_num > 1, as CPython 3.11 iterates it (the fixture's Python).
The Swift `PythonSetOrder` emulation is tested against it. Run with CPython 3.11:
    python3 Scripts/generate_python_set_orders.py
"""
import json
import pathlib
import sys


def order(min_num, max_num):
    ratios = set((i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1) for j in range(1, n + 1)
                 if i * j <= max_num and i * j >= min_num)
    return [list(p) for p in sorted(ratios, key=lambda x: x[0] * x[1])]


cases = [{"min_num": lo, "max_num": hi, "order": order(lo, hi)}
         for lo in (2, 3, 4, 5, 7, 12, 20) for hi in range(lo, 41, 3 if lo > 4 else 1)]
path = pathlib.Path(__file__).resolve().parent.parent / "Tests/MediaTests/Resources/python_set_orders.json"
path.write_text(json.dumps({"python": sys.version.split()[0], "cases": cases}, separators=(",", ":")) + "\n")
