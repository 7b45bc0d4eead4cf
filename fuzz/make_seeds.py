"""Writes the seed corpora of the afl targets: fuzz/seeds/<target>/.

usage: .venv/bin/python fuzz/make_seeds.py      (NumPy and eko from scripts/requirements.txt;
                                                 ./scripts/python-env makes .venv)

Small inputs on purpose (AFL mutates small files best; every seed is at most a few KB, ~20 KB for
the eko archives): the shapes of tests/python/npy_corpus.py, npz_corpus.py and eko_archive.py
shrunk to a few elements. Files are made by NumPy and eko themselves where they can be, by hand
where a case needs bytes they would not write. The output is deterministic (fixed seeds, fixed
tar metadata), so re-running it leaves the committed seeds unchanged unless a generator changes.
"""
import io
import json
import math
import os
import pathlib
import shutil
import struct
import sys
import tarfile
import tempfile
import warnings
import zipfile

import numpy as np
from numpy.lib import format as npformat

ROOT = pathlib.Path(__file__).resolve().parent / "seeds"
MAGIC = b"\x93NUMPY"
rng = np.random.default_rng(20261129)


def target_dir(name):
    path = ROOT / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def put(directory, name, data):
    (directory / name).write_bytes(data)


def saved(arr, version=None):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        npformat.write_array(buf, arr, version=version)
    return buf.getvalue()


def raw(text, data=b"", version=(1, 0)):
    if isinstance(text, str):
        text = text.encode("utf8" if version == (3, 0) else "latin1")
    fmt = "<H" if version == (1, 0) else "<I"
    return MAGIC + bytes(version) + struct.pack(fmt, len(text)) + text + data


def values(dtype, shape):
    n = int(np.prod(shape)) if shape else 1
    dt = np.dtype(dtype)
    if dt.kind == "f":
        v = rng.standard_normal(n) * 10
        if n >= 4:
            v[:3] = [np.nan, np.inf, -0.0]
    elif dt.kind == "c":
        v = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    elif dt.kind == "b":
        v = rng.integers(0, 2, n).astype(bool)
    else:
        v = rng.integers(0, 100, n)
    return v.astype(dt).reshape(shape)


def dict_text(descr, shape, fortran=False):
    shape_text = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
    return f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_text}, }}"


# --- npy_file: small arrays of every supported dtype and layout, plus damaged ones -------------
def npy_file_seeds():
    out = target_dir("npy_file")
    for code in ["f8", "f4", "c16", "i8", "i4", "u1", "b1"]:
        put(out, f"{code}_le_2x3.npy", saved(values("<" + code if code not in ("u1", "b1") else code, (2, 3))))
    for code in ["f8", "c16", "i4"]:
        put(out, f"{code}_be_3.npy", saved(values(">" + code, (3,))))
    put(out, "f8_fortran_2x2x2.npy", saved(np.asfortranarray(values("<f8", (2, 2, 2)))))
    put(out, "f8_op_2x2x2x2.npy", saved(values("<f8", (2, 2, 2, 2))))
    put(out, "f8_op_fortran_1x2x1x2.npy", saved(np.asfortranarray(values("<f8", (1, 2, 1, 2)))))
    put(out, "f8_scalar.npy", saved(np.array(2.5)))
    put(out, "f8_empty_0x3.npy", saved(np.zeros((0, 3))))
    put(out, "f8_v2.npy", saved(values("<f8", (2, 2)), (2, 0)))
    put(out, "f8_v3_comment.npy", raw(dict_text("<f8", (2,)) + " # \u00e9\u6574\n", values("<f8", (2,)).tobytes(), (3, 0)))
    data = np.arange(6, dtype="<f8").tobytes()
    put(out, "f8_misaligned_odd.npy", raw(dict_text("<f8", (2, 3)) + "  \n", data))
    put(out, "i4_offset_2.npy", raw(dict_text("<i4", (3,)) + "\n   ", np.arange(3, dtype="<i4").tobytes()))
    put(out, "c16_misaligned.npy", raw(dict_text("<c16", (1,)) + " \n", values("<c16", (1,)).tobytes()))
    put(out, "b1_bad_bytes.npy", raw(dict_text("|b1", (4,)) + "\n", b"\x00\x01\x02\xff"))
    put(out, "f8_truncated.npy", saved(values("<f8", (2, 3)))[:-1])
    put(out, "f8_trailing.npy", saved(values("<f8", (2,))) + b"trailing")
    # (0, 2**62, 4) is in fuzz/crashes-found/: seeds must not crash, or afl-fuzz refuses to start.
    put(out, "shape_nested_parens.npy", raw("{'descr': '<f8', 'fortran_order': False, 'shape': ((((2,)))), }\n", data[:16]))
    put(out, "descr_spellings.npy", raw("{\"shape\": (1,), \"descr\": u'=' 'd', 'fortran_order': False}\n", data[:8]))
    put(out, "structured.npy", raw("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,)}\n", data[:8]))
    put(out, "empty.npy", b"")


# --- npy_header: header bytes only (the parser sees a prefix) -----------------------------------
def npy_header_seeds():
    out = target_dir("npy_header")
    for name, arr, version in [
        ("f8_2x3_v1", values("<f8", (2, 3)), None),
        ("f8_fortran_v1", np.asfortranarray(values("<f8", (2, 3))), None),
        ("c16_be_v2", values(">c16", (3,)), (2, 0)),
        ("b1_scalar_v3", np.array(True), (3, 0)),
        ("u1_empty", np.zeros((0,), "u1"), None),
        ("i8_4d", np.zeros((2, 1, 2, 1), "<i8"), None),
    ]:
        full = saved(arr, version)
        hlen = struct.unpack("<H", full[8:10])[0] + 10 if full[6] == 1 else struct.unpack("<I", full[8:12])[0] + 12
        put(out, name + ".hdr", full[:hlen])
    spellings = {
        "no_comma": "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}",
        "double_quotes": '{"descr": "<f8", "fortran_order": False, "shape": (2, 3)}',
        "key_order_comment": "{'shape': (2, 3), # c\n 'descr': '<f8', 'fortran_order': True}",
        "continuation": "{'descr': '<f8', 'fortran_order': False, \\\n'shape': (2, 3)}",
        "descr_concat_prefix": "{'descr': u'<' r'f8', 'fortran_order': False, 'shape': ()}",
        "descr_escape": "{'descr': '\\x3cf8', 'fortran_order': False, 'shape': (1,)}",
        "descr_triple": "{'descr': '''<i4''', 'fortran_order': False, 'shape': (1,)}",
        "descr_names": "{'descr': 'float64', 'fortran_order': False, 'shape': (1,)}",
        "shape_literals": "{'descr': '<f8', 'fortran_order': False, 'shape': (0x2, 0o3, 0_1, +1)}",
        "shape_python2_long": "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }",
        "shape_overflow": "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}",
        "shape_huge_int": "{'descr': '<f8', 'fortran_order': False, 'shape': (" + str(10**40) + ",)}",
        "shape_zero_huge": "{'descr': '<c16', 'fortran_order': False, 'shape': (0, 9223372036854775807, 9223372036854775807)}",
        "nesting_deep": "{'descr': '<f8', 'fortran_order': False, 'shape': " + "(" * 199 + "2," + ")" * 199 + "}",
        "structured": "{'descr': [('a', '<f8'), ('b', ('<i4', (3,)))], 'fortran_order': False, 'shape': (2,)}",
        "duplicate_key": "{'descr': '<i4', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}",
        "bools_none": "{'descr': '<f8', 'fortran_order': None, 'shape': (True, False)}",
        "set_and_floats": "{'descr', 1.5e3, -0j, 'shape'}",
    }
    for name, text in spellings.items():
        put(out, name + ".hdr", raw(text + "\n"))
    put(out, "utf8_v3.hdr", raw(dict_text("<f8", (2,)) + " # \u00e9\u6574\u2603\n", version=(3, 0)))
    put(out, "bad_utf8_v3.hdr", raw(dict_text("<f8", (2,)).encode() + b" # \xff\xfe\n", version=(3, 0)))
    put(out, "length_exceeds.hdr", MAGIC + b"\x01\x00\xff\x00{'descr'")
    put(out, "v2_huge_length.hdr", MAGIC + b"\x02\x00\xff\xff\xff\xff{}")
    put(out, "bad_version.hdr", MAGIC + b"\x04\x00" + raw(dict_text("<f8", (2,)) + "\n")[8:])
    put(out, "magic_only.hdr", MAGIC)


# --- npz: np.savez / savez_compressed archives and damaged copies ------------------------------
def npz_bytes(compressed, **arrays):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return fixed_zip_times(buf.getvalue())


def fixed_zip_times(data):
    """Rewrites every member's DOS time and date to 1980-01-01 00:00 (deterministic seeds)."""
    out = bytearray(data)
    for sig, at in ((b"PK\x03\x04", 10), (b"PK\x01\x02", 12)):
        i = out.find(sig)
        while i >= 0:
            struct.pack_into("<HH", out, i + at, 0, 0x21)
            i = out.find(sig, i + 4)
    return bytes(out)


def patch(data, offset, fmt, value):
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


def full_zip64(data):
    """The directory as a >4 GiB archive has it (sizes and offsets in zip64 extras), as in
    tests/python/npz_corpus.py."""
    end = data.rfind(b"PK\x05\x06")
    count = struct.unpack("<H", data[end + 10:end + 12])[0]
    cd_offset = struct.unpack("<I", data[end + 16:end + 20])[0]
    records, pos = [], cd_offset
    for _ in range(count):
        fixed = bytearray(data[pos:pos + 46])
        n, m, k = struct.unpack("<HHH", fixed[28:34])
        name = data[pos + 46:pos + 46 + n]
        csize, usize = struct.unpack("<II", fixed[20:28])
        offset = struct.unpack("<I", fixed[42:46])[0]
        struct.pack_into("<II", fixed, 20, 0xFFFFFFFF, 0xFFFFFFFF)
        struct.pack_into("<I", fixed, 42, 0xFFFFFFFF)
        extra = struct.pack("<HHQQQ", 1, 24, usize, csize, offset)
        struct.pack_into("<HHH", fixed, 28, n, len(extra), 0)
        records.append(bytes(fixed) + name + extra)
        pos += 46 + n + m + k
    directory = b"".join(records)
    z64_offset = cd_offset + len(directory)
    z64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(directory), cd_offset)
    locator = struct.pack("<IIQI", 0x07064B50, 0, z64_offset, 1)
    classic = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return data[:cd_offset] + directory + z64 + locator + classic


def zip_of(members, method=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, content)
    return buf.getvalue()


def npz_seeds():
    out = target_dir("npz")
    small = {
        "f8": values("<f8", (2, 3)),
        "f8_fortran": np.asfortranarray(values("<f8", (2, 2))),
        "f8_be": values(">f8", (2,)),
        "c16": values("<c16", (2,)),
        "i4": values("<i4", (3,)),
        "u1": values("u1", (4,)),
        "b1": values("b1", (3,)),
        "scalar": np.array(1.5),
        "empty": np.zeros((0, 2)),
    }
    stored = npz_bytes(False, **small)
    put(out, "savez.npz", stored)
    put(out, "savez_compressed.npz", npz_bytes(True, **small))
    put(out, "one_op.npz", npz_bytes(False, operator=values("<f8", (1, 2, 1, 2)), error=np.zeros((1, 2, 1, 2))))
    put(out, "one_op_compressed.npz", npz_bytes(True, operator=np.eye(4).reshape(1, 4, 1, 4)))
    put(out, "empty_archive.npz", npz_bytes(False))
    put(out, "zip64.npz", full_zip64(npz_bytes(False, a=values("<f8", (2,)), b=values("<i8", (2,)))))
    put(out, "zip64_compressed.npz", full_zip64(npz_bytes(True, a=values("<f8", (3,)))))

    base = npz_bytes(False, a=values("<f8", (2,)), b=values("<i4", (2,)))
    cd = base.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<I", base[cd + 16:cd + 20])[0]
    central = [i for i in range(cd_offset, cd) if base[i:i + 4] == b"PK\x01\x02"]
    put(out, "truncated_directory.npz", base[:cd_offset + 20])
    put(out, "encrypted.npz", patch(patch(base, 6, "<H", 1), central[0] + 8, "<H", 1))
    put(out, "overlap.npz", patch(base, central[1] + 42, "<I", 0))
    flipped = bytearray(base)
    flipped[central[0] - 1 - 8] ^= 0xFF  # a data byte of the last member
    put(out, "crc_mismatch.npz", bytes(flipped))
    put(out, "central_size_lies.npz", patch(base, central[0] + 20, "<I", 0x100))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name on purpose
        dup = zip_of([("a.npy", saved(values("<f8", (2,)))), ("a.npy", saved(values("<i4", (1,))))])
    put(out, "duplicate_keys.npz", dup)
    put(out, "foreign_member.npz", zip_of([("readme.txt", b"not an array"), ("x.npy", saved(np.arange(2.0)))]))
    put(out, "member_not_npy.npz", zip_of([("a.npy", b"not an array either")]))
    put(out, "misaligned_members.npz", zip_of([("odd.npy", raw(dict_text("<f8", (2,)) + " \n", np.arange(2.0).tobytes())),
                                               ("b.npy", raw(dict_text("|b1", (3,)) + "\n", b"\x00\x01\x07"))]))
    put(out, "deflated_handmade.npz", zip_of([("z.npy", saved(np.zeros((8, 8)))), ("n.npy", saved(np.arange(3, dtype=">i8")))],
                                             zipfile.ZIP_DEFLATED))
    put(out, "not_a_zip.npz", b"PK\x05\x06" + b"\0" * 18)


# --- metadata: metadata.json documents ----------------------------------------------------------
def metadata_seeds():
    out = target_dir("metadata")
    basis = [22, -6, -5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5, 6]
    good = {
        "format": "libeko-store",
        "format_version": 1,
        "origin": {"mu2": 2.7225, "nf": 4},
        "xgrid": [1e-5, 0.001, 0.1, 0.5, 1.0],
        "pids": basis,
        "matching": {"charm": 2.2801, "bottom": 24.2064, "top": 29756.25},
        "theory": {"order": [3, 0], "couplings": {"alphas": 0.118, "scale": 91.2}, "heavy": {"masses": [[1.51, ".nan"]]}},
        "operator": {"mugrid": [[10.0, 5], [1.7, 4]], "configs": {"ev_op_iterations": 10, "polarized": False}, "name": None},
    }

    def put_json(name, doc, **kw):
        put(out, name + ".json", json.dumps(doc, **kw).encode())

    put_json("good", good, indent=2)
    put_json("good_compact", good, separators=(",", ":"))
    minimal = {k: v for k, v in good.items() if k not in ("theory", "operator")}
    minimal["matching"] = {"charm": None, "bottom": None, "top": None}
    put_json("minimal_no_matching", minimal)
    put_json("one_x_one_pid", dict(minimal, xgrid=[1.0], pids=[21]))
    put_json("extreme_floats", dict(good, xgrid=[5e-324, 2.2250738585072014e-308, 0.30000000000000004, 1.0],
                                    origin={"mu2": 1.7976931348623157e308, "nf": 6}, theory={"x": -0.0, "big": 1e308, "int": -9223372036854775808, "u": 18446744073709551615}))
    put_json("wrong_format", dict(good, format="eko"))
    put_json("wrong_version", dict(good, format_version=2))
    put_json("unsorted_x", dict(good, xgrid=[0.1, 0.01]))
    put_json("x_out_of_range", dict(good, xgrid=[0.0, 1.5]))
    put_json("dup_pid", dict(good, pids=[21, 21]))
    put_json("matching_unsorted", dict(good, matching={"charm": 30.0, "bottom": 20.0, "top": None}))
    put_json("bad_origin", dict(good, origin={"mu2": -1.0, "nf": 9}))
    put_json("unknown_field", dict(good, extra=1))
    put(out, "duplicate_field.json", b'{"format":"libeko-store","format":"libeko-store","format_version":1}')
    put(out, "unicode_escapes.json", json.dumps(dict(good, theory={"\u00e9\ud83d\ude00": "\\u0000 \u2028"})).encode())
    put(out, "lone_surrogate.json", b'{"format":"libeko-store\\ud800","format_version":1}')
    put(out, "deep_nesting.json", json.dumps(dict(minimal, theory=json.loads("[" * 100 + "]" * 100))).encode())
    put(out, "huge_number.json", json.dumps(minimal).replace("2.7225", "1e400").encode())
    put(out, "truncated.json", json.dumps(good).encode()[:150])
    put(out, "not_json.json", b"\xef\xbb\xbf{'format': 'libeko-store'}")


# --- eko_import: tiny real eko archives and hand-made tars --------------------------------------
def tar_bytes(entries):
    """A plain tar of (name, bytes or None for a directory, kind) with fixed metadata, cut right
    after the end-of-archive blocks (tarfile pads to 10 KiB records otherwise)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for entry in entries:
            name, content = entry[0], entry[1]
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if len(entry) > 2:
                info.type, info.linkname = entry[2], entry[3]
                tf.addfile(info)
            elif content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size, info.mode = len(content), 0o644
                tf.addfile(info, io.BytesIO(content))
        end = tf.offset
    return buf.getvalue()[:end] + b"\0" * 1024


def members_of(data):
    """(name, bytes or None) of every entry of a tar, sorted by name (deterministic)."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf.getmembers():
            name = m.name[2:] if m.name.startswith("./") else m.name
            if not name or name == ".":
                continue
            out.append((name + "/" if m.isdir() else name, None if m.isdir() else tf.extractfile(m).read()))
    return sorted(out)


def real_eko(kind):
    """A tiny EKO written by eko itself: 3-point x grid, two targets across the bottom threshold,
    near-identity operators (so LZ4 shrinks them), cards fixed. `joined` stores the final
    operators, `parts` the evolution parts and matchings eko's recipes name."""
    from eko.io.items import Evolution, Operator
    from eko.io.runcards import OperatorCard, TheoryCard
    from eko.io.struct import EKO
    from eko.runner import commons, recipes
    from ekobox.cards import example

    theory = example.raw_theory()
    theory["heavy"] = dict(theory["heavy"])
    theory["heavy"]["masses"] = [[m, math.nan] for m in (1.51, 4.92, 172.5)]
    operator = example.raw_operator()
    operator["mugrid"] = [(10.0, 5), (1.7, 4)]
    operator["xgrid"] = [1e-3, 0.1, 1.0]
    theory, operator = TheoryCard.from_dict(theory), OperatorCard.from_dict(operator)
    n = len(operator.xgrid)
    ident = np.eye(14 * n).reshape(14, n, 14, n)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "eko.tar"
        with EKO.create(path) as builder:
            eko = builder.load_cards(theory, operator).build()
            if kind == "joined":
                for i, ep in enumerate(operator.evolgrid):
                    err = np.zeros_like(ident) if i == 0 else None
                    eko[ep] = Operator(ident * (1.0 + i), err)
            else:
                atlas = commons.atlas(eko.theory_card, eko.operator_card)
                seen = set()
                for ep in operator.evolgrid:
                    for head in recipes._elements(ep, atlas):
                        if head in seen:
                            continue
                        seen.add(head)
                        inv = eko.parts if isinstance(head, Evolution) else eko.parts_matching
                        err = None if isinstance(head, Evolution) and head.target == 100.0 else np.zeros_like(ident)
                        inv[head] = Operator(ident * 0.5, err)
        return members_of(path.read_bytes())


def eko_import_seeds():
    out = target_dir("eko_import")
    joined = real_eko("joined")
    parts = real_eko("parts")
    put(out, "eko_joined.tar", tar_bytes(joined))
    put(out, "eko_parts.tar", tar_bytes(parts))

    files = dict(joined)
    meta = files["metadata.yaml"]

    def variant(name, entries):
        put(out, name + ".tar", tar_bytes(entries))

    variant("no_metadata", [e for e in joined if e[0] != "metadata.yaml"])
    variant("data_version_2", [(n, meta.replace(b"data_version: 3", b"data_version: 2") if n == "metadata.yaml" else c) for n, c in joined])
    variant("metadata_garbage", [(n, b"origin: [1.0, {a: [}\n" if n == "metadata.yaml" else c) for n, c in joined])
    payloads = [n for n, c in joined if n.endswith(".lz4")]
    variant("payload_truncated", [(n, c[: len(c) // 2] if n == payloads[0] else c) for n, c in joined])
    variant("payload_not_lz4", [(n, saved(np.eye(2)) if n == payloads[0] else c) for n, c in joined])
    headers = [n for n, c in joined if n.startswith("operators/") and n.endswith(".yaml")]
    variant("header_duplicate_point", [(n, files[headers[0]] if n in headers else c) for n, c in joined])
    variant("header_without_payload", [e for e in joined if e[0] != payloads[-1]])
    variant("dot_dot_and_links", joined[:3] + [("../escape.yaml", b"scale: 1.0\n"), ("operators/evil.yaml", b"", tarfile.SYMTYPE, "/etc/passwd"),
                                               ("operators/hard.npy.lz4", b"", tarfile.LNKTYPE, "metadata.yaml")])
    variant("long_names", joined + [("operators/" + "x" * 150 + ".yaml", b"scale: 2.0\nnf: 4\n")])
    put(out, "truncated_tar.tar", tar_bytes(joined)[:2000])
    put(out, "empty.tar", b"\0" * 1024)


def main():
    ROOT.mkdir(parents=True, exist_ok=True)
    npy_header_seeds()
    npy_file_seeds()
    npz_seeds()
    metadata_seeds()
    eko_import_seeds()
    total = 0
    for d in sorted(ROOT.iterdir()):
        sizes = [f.stat().st_size for f in d.iterdir()]
        total += sum(sizes)
        print(f"{d.name}: {len(sizes)} seeds, {sum(sizes)} bytes, largest {max(sizes)}")
    print(f"total {total} bytes")


if __name__ == "__main__":
    sys.exit(main())
