"""Generate a corpus of .npy files and record NumPy's verdict on each.

Usage: python npy_corpus.py OUTDIR

Writes OUTDIR/<case>.npy for every case, OUTDIR/<case>.bin with the values NumPy reads (C order,
little-endian; bool as 0/1 bytes) and OUTDIR/manifest.json:
  [{"name", "numpy_ok", "numpy_error", "mmap_ok", "supported", "descr", "shape", "fortran_order"}]

Files are made with NumPy's own writer where it can make them (np.save, format.write_array with a
version), and by hand where a case needs a header NumPy would not write: the verdict is always
NumPy's, never ours. The malformed cases regenerate those of numpy/lib/tests/test_format.py.
"""
import json
import os
import struct
import sys
import warnings

import numpy as np
from numpy.lib import format as npformat
from numpy.lib import _format_impl

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
MAGIC = b"\x93NUMPY"
SUPPORTED = {"<f8", ">f8", "<f4", ">f4", "<c16", ">c16", "<i8", ">i8", "<i4", ">i4", "|u1", "|b1"}
rng = np.random.default_rng(20261121)
cases = []


def add(name, data):
    if any(c["name"] == name for c in cases):
        raise SystemExit(f"duplicate case {name}")
    path = os.path.join(OUT, name + ".npy")
    with open(path, "wb") as f:
        f.write(data)
    case = {"name": name}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            arr = np.load(path)
            case["numpy_ok"] = True
            case["numpy_error"] = ""
        except Exception as e:  # noqa: BLE001 - any refusal is a verdict
            arr = None
            case["numpy_ok"] = False
            case["numpy_error"] = f"{type(e).__name__}: {e}"[:300]
        try:
            m = np.load(path, mmap_mode="r")
            np.asarray(m).sum() if m.dtype.kind in "biufc" else None
            case["mmap_ok"] = True
        except Exception:  # noqa: BLE001
            case["mmap_ok"] = False
    if arr is not None:
        case["descr"] = arr.dtype.str
        case["supported"] = arr.dtype.str in SUPPORTED and arr.dtype.fields is None
        case["shape"] = list(arr.shape)
        with open(path, "rb") as f:
            version = npformat.read_magic(f)
            _, fortran, _ = _format_impl._read_array_header(f, version, max_header_size=10**9)
        case["fortran_order"] = bool(fortran) and arr.ndim > 1
        if case["supported"]:
            if arr.dtype.kind == "b":
                values = (arr.view(np.uint8) != 0).astype(np.uint8)
            else:
                values = arr.astype(arr.dtype.newbyteorder("<"))
            with open(os.path.join(OUT, name + ".bin"), "wb") as f:
                f.write(np.ascontiguousarray(values).tobytes(order="C"))
    cases.append(case)


def saved(arr, version=None):
    from io import BytesIO
    buf = BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        npformat.write_array(buf, arr, version=version)
    return buf.getvalue()


def raw(text, data=b"", version=(1, 0), encoding=None):
    if isinstance(text, str):
        text = text.encode(encoding or ("utf8" if version == (3, 0) else "latin1"))
    fmt = "<H" if version == (1, 0) else "<I"
    return MAGIC + bytes(version) + struct.pack(fmt, len(text)) + text + data


def values(dtype, shape):
    n = int(np.prod(shape)) if shape else 1
    dt = np.dtype(dtype)
    if dt.kind == "f":
        v = rng.standard_normal(n) * 1e3
        if n >= 4:
            v[:3] = [np.nan, np.inf, -0.0]
    elif dt.kind == "c":
        v = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    elif dt.kind == "b":
        v = rng.integers(0, 2, n).astype(bool)
    elif dt.kind == "u":
        v = rng.integers(0, 256, n)
    else:
        info = np.iinfo(dt)
        v = rng.integers(info.min, info.max, n, endpoint=True, dtype=np.int64)
    return v.astype(dt).reshape(shape)


# --- every supported dtype, both byte orders, both memory orders, 0-d, empty, 1-d..3-d
SHAPES = [(), (0,), (5,), (2, 3), (2, 0, 3), (3, 4, 5)]
for code in ["f8", "f4", "c16", "i8", "i4", "u1", "b1"]:
    for order_char in "<>":
        if code in ("u1", "b1") and order_char == ">":
            continue
        dtype = order_char + code
        for shape in SHAPES:
            a = values(dtype, shape)
            tag = "x".join(map(str, shape)) or "scalar"
            add(f"basic_{code}_{'le' if order_char == '<' else 'be'}_{tag}_C", saved(a))
            if len(shape) > 1:
                add(f"basic_{code}_{'le' if order_char == '<' else 'be'}_{tag}_F", saved(np.asfortranarray(a)))

# --- versions 2.0 and 3.0
base = values("<f8", (4, 5))
add("version_2_0", saved(base, (2, 0)))
add("version_3_0", saved(base, (3, 0)))
add("version_2_0_fortran", saved(np.asfortranarray(base), (2, 0)))
add("version_3_0_unicode_comment",
    raw("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 5)} # \u00e9\u6574\n", base.tobytes(), (3, 0)))
add("version_1_0_latin1_comment",
    raw("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 5)} # \u00e9\n", base.tobytes(), (1, 0)))
add("version_3_0_invalid_utf8",
    raw(b"{'descr': '<f8', 'fortran_order': False, 'shape': (4, 5)} # \xff\n", base.tobytes(), (3, 0)))
for major, minor in [(1, 1), (0, 0), (0, 1), (2, 2), (2, 1), (4, 0), (255, 255)]:
    add(f"bad_version_{major}_{minor}", MAGIC + bytes([major, minor]) + saved(base)[8:])

# --- alignment: legacy 16-byte, unpadded, and data at odd offsets
data6 = np.arange(6, dtype="<f8").tobytes()
body = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
for align in (16, 1):
    text = body + "\n"
    while (10 + len(text)) % align:
        text = text[:-1] + " \n"
    add(f"align_{align}", raw(text, data6))
add("align_odd_offset_7", raw(body + "  \n", data6))
add("align_i4_offset_2", raw("{'descr': '<i4', 'fortran_order': False, 'shape': (3,)}\n   ",
                             np.arange(3, dtype="<i4").tobytes()))

# --- header spellings NumPy accepts (or not): padding, quotes, keys, literal syntax
spellings = {
    "no_trailing_comma": "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}",
    "double_quotes": '{"descr": "<f8", "fortran_order": False, "shape": (2, 3)}',
    "key_order": "{'shape': (2, 3), 'descr': '<f8', 'fortran_order': False}",
    "leading_space": "   {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}",
    "leading_newline": "\n{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}",
    "tabs_newlines": "{'descr':\t'<f8',\n 'fortran_order': False,\n\t'shape': (2,\n 3)}",
    "comment_inside": "{'descr': '<f8', # the dtype\n 'fortran_order': False, 'shape': (2, 3)}",
    "backslash_continuation": "{'descr': '<f8', 'fortran_order': False, \\\n'shape': (2, 3)}",
    "descr_d": "{'descr': 'd', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_float64": "{'descr': 'float64', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_equals": "{'descr': '=f8', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_pipe": "{'descr': '|f8', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_concat": "{'descr': '<' 'f8', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_u_prefix": "{'descr': u'<f8', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_r_prefix": "{'descr': r'<f8', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_escape": "{'descr': '\\x3cf8', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_triple": "{'descr': '''<f8''', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_bytes": "{'descr': b'<f8', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_f_string": "{'descr': f'<f8', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_name_with_order": "{'descr': '<float64', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_bang": "{'descr': '!f8', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_trailing_space": "{'descr': '<f8 ', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_garbage": "{'descr': 'x', 'fortran_order': False, 'shape': (2, 3)}",
    "descr_int": "{'descr': 8, 'fortran_order': False, 'shape': (2, 3)}",
    "descr_none": "{'descr': None, 'fortran_order': False, 'shape': (2, 3)}",
    "shape_parenthesised": "{'descr': '<f8', 'fortran_order': False, 'shape': ((2, 3))}",
    "shape_hex": "{'descr': '<f8', 'fortran_order': False, 'shape': (0x2, 0o3)}",
    "shape_underscore": "{'descr': '<f8', 'fortran_order': False, 'shape': (0_2, 3)}",
    "shape_plus": "{'descr': '<f8', 'fortran_order': False, 'shape': (+2, 3)}",
    "shape_list": "{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3]}",
    "shape_int": "{'descr': '<f8', 'fortran_order': False, 'shape': 6}",
    "shape_float": "{'descr': '<f8', 'fortran_order': False, 'shape': (2.0, 3)}",
    "shape_negative": "{'descr': '<f8', 'fortran_order': False, 'shape': (-2, -3)}",
    "shape_negative_one": "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
    "shape_bool": "{'descr': '<f8', 'fortran_order': False, 'shape': (True, 6)}",
    "shape_none": "{'descr': '<f8', 'fortran_order': False, 'shape': None}",
    "shape_leading_zero": "{'descr': '<f8', 'fortran_order': False, 'shape': (02, 3)}",
    "shape_double_sign": "{'descr': '<f8', 'fortran_order': False, 'shape': (--2, 3)}",
    "shape_expression": "{'descr': '<f8', 'fortran_order': False, 'shape': (1+1, 3)}",
    "shape_overflow": "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}",
    "shape_huge_int": "{'descr': '<f8', 'fortran_order': False, 'shape': (" + str(10**40) + ",)}",
    "shape_python2_long": "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }",
    "fortran_int": "{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3)}",
    "fortran_string": "{'descr': '<f8', 'fortran_order': 'False', 'shape': (2, 3)}",
    "fortran_none": "{'descr': '<f8', 'fortran_order': None, 'shape': (2, 3)}",
    "fortran_lowercase": "{'descr': '<f8', 'fortran_order': false, 'shape': (2, 3)}",
    "duplicate_key": "{'descr': '<i4', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}",
    "missing_key": "{'descr': '<f8', 'shape': (2, 3)}",
    "extra_key": "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'extrakey': -1}",
    "int_key": "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 1: 2}",
    "not_a_dict": "[('descr', '<f8'), ('fortran_order', False), ('shape', (2, 3))]",
    "set_literal": "{'descr', 'fortran_order', 'shape'}",
    "unterminated": "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)",
    "trailing_garbage": "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} x",
    "two_dicts": "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} {}",
    "nul_byte": "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}\x00",
    "empty_header": "",
    "only_spaces": "          ",
    "structured": "{'descr': [('a', '<f8'), ('b', '<i4')], 'fortran_order': False, 'shape': (2,)}",
    "subarray": "{'descr': ('<f8', (3,)), 'fortran_order': False, 'shape': (2,)}",
    "object": "{'descr': '|O', 'fortran_order': False, 'shape': (2,)}",
    "string_dtype": "{'descr': '|S3', 'fortran_order': False, 'shape': (2,)}",
    "unicode_dtype": "{'descr': '<U2', 'fortran_order': False, 'shape': (2,)}",
    "half_dtype": "{'descr': '<f2', 'fortran_order': False, 'shape': (2,)}",
    "int16_dtype": "{'descr': '<i2', 'fortran_order': False, 'shape': (2,)}",
    "datetime_dtype": "{'descr': '<M8[s]', 'fortran_order': False, 'shape': (2,)}",
}
for name, text in spellings.items():
    add("header_" + name, raw(text + "\n", data6 + b"\0" * 64))
add("header_python2_long_v3", raw(spellings["shape_python2_long"] + "\n", data6, (3, 0)))

# --- nesting: brackets around the shape, up to and past Python's parser limit
for depth in [1, 50, 150, 196, 197, 198, 199, 200, 250, 1000]:
    shape = "(" * depth + "2, 3" + ")" * depth
    add(f"nesting_{depth}", raw("{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + "}\n", data6))
add("nesting_lists_1000", raw("{'descr': " + "[" * 1000 + "]" * 1000 + ", 'fortran_order': False, 'shape': ()}\n", data6))

# --- header size: NumPy's 10,000-character limit, and its own huge-header case
for total in (10000, 10001):
    text = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}"
    add(f"header_chars_{total}", raw(text + " " * (total - len(text) - 1) + "\n", data6, (2, 0)))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    add("huge_header_structured", saved(np.array(1, dtype="i," * 10000 + "i")))
text = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} # " + "\u6574" * 9000
add("header_utf8_9000_chars", raw(text + "\n", data6, (3, 0)))
text = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} # " + "\u6574" * 10000
add("header_utf8_10000_chars", raw(text + "\n", data6, (3, 0)))

# --- magic and truncation (test_format.py's malformed_magic and bad_header cases)
for i, magic in enumerate([b"\x92NUMPY\x01\x00", b"\x00NUMPY\x01\x00", b"\x93numpy\x01\x00",
                           b"\x93MATLB\x01\x00", b"\x93NUMPY\x01", b"\x93NUMPY", b""]):
    add(f"malformed_magic_{i}", magic + (saved(base)[8:] if len(magic) == 8 else b""))
add("bad_header_short_length", MAGIC + b"\x01\x00" + b"1")
add("bad_header_length_exceeds_file", MAGIC + b"\x01\x00" + b"\x01\x00")
add("bad_header_length_v2_huge", MAGIC + b"\x02\x00" + b"\xff\xff\xff\xff" + b"{}")
add("bad_header_missing_fortran",
    MAGIC + b"\x01\x006\x00{'descr': 'x', 'shape': (1, 2), }" + b" " * 20 + b"\n")
from io import BytesIO
buf = BytesIO()
npformat.write_array_header_1_0(buf, {"shape": (1, 2), "fortran_order": False, "descr": "x", "extrakey": -1})
add("bad_header_extra_key", buf.getvalue())
for arr_name, arr in [("f8_2x3", values("<f8", (2, 3))), ("empty", np.zeros((0,))), ("scalar", np.array(3.5))]:
    full = saved(arr)
    add(f"truncated_{arr_name}", full[:-1])
    add(f"trailing_bytes_{arr_name}", full + b"trailing garbage")
add("truncated_header", saved(base)[:40])

json.dump(cases, open(os.path.join(OUT, "manifest.json"), "w"), indent=1)
print(f"{len(cases)} cases, {sum(c['numpy_ok'] for c in cases)} loaded by NumPy {np.__version__}")
