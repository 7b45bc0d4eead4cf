"""Generate .npz archives with NumPy, plus damaged copies, and record what NumPy reads.

Usage: python npz_corpus.py OUTDIR
Writes OUTDIR/<case>.npz, OUTDIR/<case>.<key>.bin (values NumPy reads, C order, little-endian,
bool as 0/1) and OUTDIR/manifest.json: [{"name", "numpy_ok", "numpy_error", "members": [keys]}].
Damaged archives are made by editing NumPy's own output bytes.
"""
import json
import os
import struct
import sys
import zipfile

import numpy as np

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)
cases = []

arrays = {
    "f8": rng.standard_normal((3, 4)),
    "f8_fortran": np.asfortranarray(rng.standard_normal((3, 4, 2))),
    "f8_be": rng.standard_normal(5).astype(">f8"),
    "f4": rng.standard_normal(6).astype("<f4"),
    "c16": (rng.standard_normal(4) + 1j).astype("<c16"),
    "i8": rng.integers(-2**62, 2**62, (2, 3)),
    "i4": rng.integers(-2**31, 2**31 - 1, 7).astype("<i4"),
    "u1": rng.integers(0, 256, 9).astype("u1"),
    "b1": rng.integers(0, 2, 4).astype(bool),
    "scalar": np.array(2.5),
    "empty": np.zeros((0, 3)),
    "op": rng.standard_normal((14, 10, 14, 10)),
}


def record(name, path):
    case = {"name": name}
    try:
        with np.load(path) as npz:
            loaded = {k: npz[k] for k in npz.files}
        case["numpy_ok"], case["numpy_error"] = True, ""
        case["members"] = sorted(loaded)
        for key, arr in loaded.items():
            v = (arr.view(np.uint8) != 0).astype(np.uint8) if arr.dtype.kind == "b" else arr.astype(arr.dtype.newbyteorder("<"))
            with open(os.path.join(OUT, f"{name}.{key}.bin"), "wb") as f:
                f.write(np.ascontiguousarray(v).tobytes(order="C"))
    except Exception as e:  # noqa: BLE001 - any refusal is a verdict
        case["numpy_ok"], case["numpy_error"], case["members"] = False, f"{type(e).__name__}: {e}"[:200], []
    cases.append(case)


def path_of(name):
    return os.path.join(OUT, name + ".npz")


np.savez(path_of("savez"), **arrays)
record("savez", path_of("savez"))
np.savez_compressed(path_of("savez_compressed"), **arrays)
record("savez_compressed", path_of("savez_compressed"))
np.savez(path_of("empty_archive"))
record("empty_archive", path_of("empty_archive"))
np.savez(path_of("positional"), arrays["f8"], arrays["i4"])
record("positional", path_of("positional"))

base = open(path_of("savez"), "rb").read()
with zipfile.ZipFile(path_of("savez")) as zf:
    infos = zf.infolist()
first, second = infos[0], infos[1]
cd = base.rfind(b"PK\x05\x06")
cd_offset = struct.unpack("<I", base[cd + 16:cd + 20])[0]
central = [i for i in range(cd_offset, cd) if base[i:i + 4] == b"PK\x01\x02"]


def damaged(name, data):
    with open(path_of(name), "wb") as f:
        f.write(data)
    record(name, path_of(name))


def patch(data, offset, fmt, value):
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


damaged("truncated_directory", base[:cd_offset + 20])
damaged("truncated_end", base[:-5])
damaged("not_a_zip", b"this is not an archive at all" * 10)
damaged("empty_file", b"")
enc = patch(patch(base, first.header_offset + 6, "<H", 1), central[0] + 8, "<H", 1)
damaged("encrypted", enc)
damaged("method_implode", patch(patch(base, first.header_offset + 8, "<H", 6), central[0] + 10, "<H", 6))
damaged("local_name_mismatch", base[:first.header_offset + 30] + b"X" + base[first.header_offset + 31:])
# Second central record points at the first member's local header: two entries, one span.
damaged("overlap", patch(base, central[1] + 42, "<I", first.header_offset))
data_start = first.header_offset + 30 + len(first.filename) + struct.unpack("<H", base[first.header_offset + 28:first.header_offset + 30])[0]
flipped = bytearray(base)
flipped[data_start + first.file_size - 1] ^= 0xFF
damaged("crc_mismatch", bytes(flipped))
damaged("central_size_lies", patch(base, central[0] + 20, "<I", first.compress_size + 8))
comp = open(path_of("savez_compressed"), "rb").read()
cd2 = comp.rfind(b"PK\x05\x06")
cdo2 = struct.unpack("<I", comp[cd2 + 16:cd2 + 20])[0]
c0 = comp.find(b"PK\x01\x02", cdo2)
with zipfile.ZipFile(path_of("savez_compressed")) as zf:
    i0 = zf.infolist()[0]
# Claim 4 GiB uncompressed in both headers (the local one keeps it in its zip64 extra).
bomb = patch(comp, c0 + 24, "<I", 0xFFFFFFF0)
bomb = patch(bomb, i0.header_offset + 30 + len(i0.filename) + 4, "<Q", 0xFFFFFFF0)
damaged("deflate_bomb_claim", bomb)
ds = i0.header_offset + 30 + len(i0.filename) + struct.unpack("<H", comp[i0.header_offset + 28:i0.header_offset + 30])[0]
broken = bytearray(comp)
broken[ds:ds + 8] = b"\xff" * 8
damaged("deflate_garbage", bytes(broken))
with zipfile.ZipFile(path_of("foreign_member"), "w") as zf:
    zf.writestr("readme.txt", "not an array")
record("foreign_member", path_of("foreign_member"))
with zipfile.ZipFile(path_of("member_not_npy"), "w") as zf:
    zf.writestr("a.npy", "not an array either")
record("member_not_npy", path_of("member_not_npy"))



def local_header(name, content):
    import zlib
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 33, zlib.crc32(content),
                       len(content), len(content), len(name), 0) + name


def central_record(name, content, offset):
    import zlib
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 33, zlib.crc32(content),
                       len(content), len(content), len(name), 0, 0, 0, 0, 0, offset) + name


def npy_bytes(arr):
    from io import BytesIO
    buf = BytesIO()
    np.lib.format.write_array(buf, arr)
    return buf.getvalue()


# A zip-bomb style overlap: member b lies inside member a's data (NumPy ignores bytes after the
# array, so a still loads); names and sizes are consistent.
content_b = npy_bytes(np.arange(4.0))
head_b = local_header(b"b.npy", content_b)
npy_a = npy_bytes(np.arange(3.0))
content_a = npy_a + head_b + content_b
head_a = local_header(b"a.npy", content_a)
body = head_a + content_a
directory = central_record(b"a.npy", content_a, 0) + central_record(b"b.npy", content_b, len(head_a) + len(npy_a))
end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 2, 2, len(directory), len(body), 0)
damaged("overlap_nested", body + directory + end)



def full_zip64(data):
    """Rewrite an archive's directory the way a >4 GiB archive has it: every size and offset in
    the central records moved to zip64 extras (32-bit fields 0xFFFFFFFF), a zip64 end record and
    locator, and 0xFFFF / 0xFFFFFFFF in the classic end record."""
    end = data.rfind(b"PK\x05\x06")
    count = struct.unpack("<H", data[end + 10:end + 12])[0]
    cd_size, cd_offset = struct.unpack("<II", data[end + 12:end + 20])
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


damaged("zip64_directory", full_zip64(base))
damaged("zip64_directory_compressed", full_zip64(comp))

json.dump(cases, open(os.path.join(OUT, "manifest.json"), "w"), indent=1)
print(f"{len(cases)} archives")
