#!/usr/bin/env python3
"""An independent reading and writing of LwM2M CBOR (Content-Format 11544, LwM2M 1.2 TS Core
7.4.6) for test_lwm2m_cbor_interop: nested maps keyed by path components from the root, a key
being one ID or an array of IDs, leaves being CBOR values. Built on cbor2 only, written from the
specification, not from niobium's code.

  lwm2m_cbor_judge.py list FILE     prints the records FILE holds, one per line, sorted:
                                    "PATH KIND:VALUE" (int, float, bool, time; str and bytes
                                    in hex)
  lwm2m_cbor_judge.py vectors DIR   writes DIR/NAME.cbor for each vector and DIR/NAME.txt with
                                    the records it holds, as `list` prints them
Exit status 0, or 1 with a reason on stderr when a file is not LwM2M CBOR."""
import datetime
import math
import os
import sys

import cbor2


def value_text(v):
    if isinstance(v, datetime.datetime):  # cbor2 reads tag 1 as a date
        seconds = v.timestamp()
        if seconds != int(seconds):
            raise ValueError("tag 1 with a fraction")
        return "time:%d" % int(seconds)
    if isinstance(v, cbor2.CBORTag):
        if v.tag != 1 or not isinstance(v.value, int):
            raise ValueError("tag other than 1 with an integer")
        return "time:%d" % v.value
    if isinstance(v, bool):
        return "bool:%s" % ("true" if v else "false")
    if isinstance(v, int):
        return "int:%d" % v
    if isinstance(v, float):
        if math.isnan(v):
            return "float:nan"
        return "float:%r" % v
    if isinstance(v, str):
        return "str:" + v.encode("utf-8").hex()
    if isinstance(v, bytes):
        return "bytes:" + v.hex()
    raise ValueError("not a resource value: %r" % (v,))


def walk(node, prefix, out):
    for key, val in node.items():
        ids = list(key) if isinstance(key, (tuple, list)) else [key]
        if not ids or any(not isinstance(i, int) or isinstance(i, bool) or i < 0 or i > 65534
                          for i in ids):
            raise ValueError("bad key %r" % (key,))
        path = prefix + ids
        if len(path) > 4:
            raise ValueError("path deeper than four levels")
        if isinstance(val, dict):
            walk(val, path, out)
        else:
            if len(path) < 3:
                raise ValueError("value at an object or instance")
            out.append(("/" + "/".join(str(i) for i in path), value_text(val)))


def listing(data):
    top = cbor2.loads(data)
    if not isinstance(top, dict):
        raise ValueError("payload is not a map")
    out = []
    walk(top, [], out)
    paths = [p for p, _ in out]
    if len(set(paths)) != len(paths):
        raise ValueError("duplicate path")
    out.sort(key=lambda r: [int(x) for x in r[0][1:].split("/")])
    return "".join("%s %s\n" % r for r in out)


VECTORS = {
    # The Device object instance of the specification's examples, Read of /3/0.
    "device": {3: {0: {0: "Open Mobile Alliance", 1: "Lightweight M2M Client", 2: "345000123",
                       3: "1.0", 6: {0: 1, 1: 5}, 7: {0: 3800, 1: 5000}, 8: {0: 125, 1: 900},
                       9: 100, 10: 15, 11: {0: 0}, 13: cbor2.CBORTag(1, 1367491215),
                       14: "+02:00", 16: "U"}}},
    # A key standing for several levels at once.
    "array_keys": {(3, 0): {0: "ACME", (6, 1): 5, 9: 87}},
    # Every value kind, with the integer extremes and exact floats of each width.
    "types": {65000: {0: {0: -9223372036854775808, 1: 18446744073709551615, 2: 0.5,
                          3: True, 4: "caf\u00e9 \u2713", 5: b"\x00\x01\xfe\xff",
                          6: cbor2.CBORTag(1, -1), 7: "66:1", 12: 3.4028234663852886e+38,
                          13: -1.5e-300, 14: False}}},
    # Two objects in one payload (a Read-Composite answer).
    "composite": {1: {0: {1: 300, 2: 10}}, 5: {0: {1: "coaps://fw.example/image", 3: 1}}},
}


def main(argv):
    if len(argv) == 3 and argv[1] == "list":
        with open(argv[2], "rb") as f:
            data = f.read()
        try:
            sys.stdout.write(listing(data))
        except (ValueError, cbor2.CBORDecodeError) as e:
            sys.stderr.write("not LwM2M CBOR: %s\n" % e)
            return 1
        return 0
    if len(argv) == 3 and argv[1] == "vectors":
        for name, tree in VECTORS.items():
            data = cbor2.dumps(tree, canonical=True)
            with open(os.path.join(argv[2], name + ".cbor"), "wb") as f:
                f.write(data)
            with open(os.path.join(argv[2], name + ".txt"), "w") as f:
                f.write(listing(data))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
