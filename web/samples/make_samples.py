#!/usr/bin/python3
"""Writes the sample CAD files the demo page offers (deterministic; the output is committed).

    /usr/bin/python3 web/samples/make_samples.py   # rewrites web/samples/*
"""

import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def binary_stl(triangles, header):
    out = header.ljust(80, b"\0")[:80] + struct.pack("<I", len(triangles))
    for triangle in triangles:
        out += struct.pack("<3f", 0, 0, 0)
        for vertex in triangle:
            out += struct.pack("<3f", *vertex)
        out += b"\0\0"
    return out


def ascii_stl(triangles, name):
    lines = ["solid " + name]
    for triangle in triangles:
        lines += ["  facet normal 0 0 0", "    outer loop"]
        lines += ["      vertex %g %g %g" % vertex for vertex in triangle]
        lines += ["    endloop", "  endfacet"]
    return ("\n".join(lines + ["endsolid " + name]) + "\n").encode()


def cube(size):
    s = size
    quads = [
        [(0, 0, 0), (0, s, 0), (s, s, 0), (s, 0, 0)], [(0, 0, s), (s, 0, s), (s, s, s), (0, s, s)],
        [(0, 0, 0), (s, 0, 0), (s, 0, s), (0, 0, s)], [(0, s, 0), (0, s, s), (s, s, s), (s, s, 0)],
        [(0, 0, 0), (0, 0, s), (0, s, s), (0, s, 0)], [(s, 0, 0), (s, s, 0), (s, s, s), (s, 0, s)],
    ]
    return [t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]


def torus(major, minor, around, tube):
    def point(i, j):
        u, v = 2 * math.pi * i / around, 2 * math.pi * j / tube
        r = major + minor * math.cos(v)
        return (round(r * math.cos(u), 4), round(r * math.sin(u), 4), round(minor * math.sin(v), 4))
    triangles = []
    for i in range(around):
        for j in range(tube):
            a, b = point(i, j), point(i + 1, j)
            c, d = point(i + 1, j + 1), point(i, j + 1)
            triangles += [(a, b, c), (a, c, d)]
    return triangles


def pyramid(base, height):
    b, h = base, height
    apex = (b / 2, b / 2, h)
    corners = [(0, 0, 0), (b, 0, 0), (b, b, 0), (0, b, 0)]
    sides = [(corners[k], corners[(k + 1) % 4], apex) for k in range(4)]
    return sides + [(corners[0], corners[2], corners[1]), (corners[0], corners[3], corners[2])]


def dxf(groups):
    return "".join("%3d\r\n%s\r\n" % (code, value) for code, value in groups).encode()


def plate():
    """A 120 x 80 mounting plate: outline with rounded corners, holes, a slot, a polyline."""
    g = [(999, "roompush sample"), (0, "SECTION"), (2, "ENTITIES")]
    r = 8
    # Outline: LWPOLYLINE with a bulge (quarter arc, tan(22.5 deg)) at every corner.
    q = math.tan(math.pi / 8)
    outline = [(r, 0, 0), (120 - r, 0, q), (120, r, 0), (120, 80 - r, q), (120 - r, 80, 0),
               (r, 80, q), (0, 80 - r, 0), (0, r, q)]
    g += [(0, "LWPOLYLINE"), (8, "outline"), (90, len(outline)), (70, 1)]
    for x, y, bulge in outline:
        g += [(10, x), (20, y)] + ([(42, round(bulge, 6))] if bulge else [])
    for x, y in ((15, 15), (105, 15), (105, 65), (15, 65)):
        g += [(0, "CIRCLE"), (8, "holes"), (10, x), (20, y), (30, 0), (40, 4)]
    g += [(0, "CIRCLE"), (8, "holes"), (10, 60), (20, 40), (30, 0), (40, 16)]
    # A slot: two LINEs and two ARCs.
    g += [(0, "LINE"), (8, "slot"), (10, 40), (20, 12), (11, 80), (21, 12)]
    g += [(0, "LINE"), (8, "slot"), (10, 40), (20, 20), (11, 80), (21, 20)]
    g += [(0, "ARC"), (8, "slot"), (10, 80), (20, 16), (40, 4), (50, 270), (51, 90)]
    g += [(0, "ARC"), (8, "slot"), (10, 40), (20, 16), (40, 4), (50, 90), (51, 270)]
    # A stiffening rib as an old-style POLYLINE.
    g += [(0, "POLYLINE"), (8, "rib"), (66, 1), (70, 0)]
    for x, y in ((30, 70), (45, 60), (75, 60), (90, 70)):
        g += [(0, "VERTEX"), (8, "rib"), (10, x), (20, y)]
    g += [(0, "SEQEND"), (0, "ENDSEC"), (0, "EOF")]
    return dxf(g)


SAMPLES = [
    ("torus.stl", "Torus (binary STL, 1,296 triangles)",
     lambda: binary_stl(torus(30, 10, 36, 18), b"roompush sample torus")),
    ("cube.stl", "20 mm cube (binary STL, 12 triangles)", lambda: binary_stl(cube(20), b"cube")),
    ("pyramid.stl", "Pyramid (ASCII STL, 6 triangles)", lambda: ascii_stl(pyramid(30, 20), "pyramid")),
    ("plate.dxf", "Mounting plate (DXF)", plate),
    ("broken.stl", "Truncated STL (the job fails)",
     lambda: binary_stl(cube(20), b"broken")[:-30]),
]


def main():
    index = []
    for name, label, make in SAMPLES:
        with open(os.path.join(HERE, name), "wb") as out:
            out.write(make())
        index.append({"file": name, "label": label})
    with open(os.path.join(HERE, "index.json"), "w") as out:
        json.dump(index, out, indent=1)
        out.write("\n")


if __name__ == "__main__":
    main()
