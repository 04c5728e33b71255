#!/usr/bin/env python3
"""Writes hostile (and a few borderline-legitimate) weight files for modadd's readers.

Run:  python3 data/make_hostile.py [OUTDIR]     (default: data/hostile, next to this script)

Only files under 40 KB are kept (the checked-in set; tests/hostile_inputs.rs builds the larger
cases itself); ALL=1 keeps every file. MANIFEST.tsv gets a `modadd` column: what modadd does with
each file (checked by tests/hostile_inputs.rs). Written for a study of the .pth reader
(work/study/pth), kept here as the source of data/hostile/.
Needs torch (only for the files torch.save writes itself) and numpy-free stdlib otherwise.

Every file is small (< 1 MB). Each entry of CASES below says what the file exercises and what a
correct reader should do ("accept" or "reject"); hostile/MANIFEST.tsv lists the same, with the
command-line form each case is run through (pth / npy folder / csv folder / pairs CSV).

Checkpoints written by hand follow torch.save's layout exactly: a stored (uncompressed) zip whose
entries share the top folder `archive/`: data.pkl (protocol 2 pickle), data/<key> (raw little-
endian storage bytes), byteorder ("little"), version ("3"). The state dict is a plain dict of
`torch._utils._rebuild_tensor_v2(('storage', torch.<T>Storage, key, 'cpu', numel), offset,
size, stride, False, OrderedDict())` calls, as torch writes them.
"""
import collections
import io
import os
import struct
import sys
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "hostile")

# ---------------------------------------------------------------------------------------------
# A tiny pickle emitter (protocol 2, the opcodes torch.save uses).
# ---------------------------------------------------------------------------------------------


def p_int(n):
    """An int, in the opcode Python's pickler would pick (LONG1 for anything beyond 32 bits)."""
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    if -(2**31) <= n < 2**31:
        return b"J" + struct.pack("<i", n)
    nbytes = (n.bit_length() + 8) // 8  # two's complement, with room for the sign bit
    return b"\x8a" + bytes([nbytes]) + n.to_bytes(nbytes, "little", signed=True)


def p_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def p_tuple(items):
    items = list(items)
    body = b"".join(items)
    if len(items) == 0:
        return b")"
    if len(items) <= 3:
        return body + bytes([0x84 + len(items)])
    return b"(" + body + b"t"


def p_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def p_tensor(key, numel, offset, shape, stride, storage="FloatStorage"):
    """torch._utils._rebuild_tensor_v2(persistent storage id, offset, size, stride, False, OD())"""
    pid = p_tuple([p_str("storage"), p_global("torch", storage), p_str(key), p_str("cpu"),
                   p_int(numel)]) + b"Q"
    args = (b"(" + pid + p_int(offset) + p_tuple(p_int(s) for s in shape)
            + p_tuple(p_int(s) for s in stride) + b"\x89"
            + p_global("collections", "OrderedDict") + b")R" + b"t")
    return p_global("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def p_dict(pairs):
    """pairs: list of (key_bytes, value_bytes) already encoded."""
    return b"}(" + b"".join(k + v for k, v in pairs) + b"u"


def pickle_bytes(body):
    return b"\x80\x02" + body + b"."


def f32(values):
    return struct.pack("<%df" % len(values), *values)


# ---------------------------------------------------------------------------------------------
# Zip writing: torch.save's layout, by hand (stored entries unless told otherwise).
# ---------------------------------------------------------------------------------------------


def write_zip(path, entries, compress=()):
    """entries: list of (name, bytes); names in `compress` are deflated at level 9."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            ct = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            zi = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = ct
            if ct == zipfile.ZIP_DEFLATED:
                zi._compresslevel = 9
            z.writestr(zi, data)


def checkpoint(path, pkl, storages, compress=()):
    entries = [("archive/data.pkl", pkl), ("archive/byteorder", b"little")]
    entries += [("archive/data/%s" % k, v) for k, v in storages]
    entries += [("archive/version", b"3\n")]
    write_zip(path, entries, compress={"archive/" + c for c in compress})


P, M = 5, 3
W_IN = [((i * 7 + 3) % 11) / 8.0 - 0.5 for i in range(M * P)]
W_OUT = [((i * 5 + 1) % 13) / 8.0 - 0.75 for i in range(P * M)]


def good_state(extra=()):
    """A valid state dict (W_in [3,5] key '0', W_out [5,3] key '1') plus extra (key, value)."""
    pairs = [
        (p_str("mlp.W_in"), p_tensor("0", M * P, 0, (M, P), (P, 1))),
        (p_str("mlp.W_out"), p_tensor("1", P * M, 0, (P, M), (M, 1))),
    ]
    pairs += list(extra)
    return pickle_bytes(p_dict(pairs)), [("0", f32(W_IN)), ("1", f32(W_OUT))]


def w_out_pair():
    return (p_str("mlp.W_out"), p_tensor("1", P * M, 0, (P, M), (M, 1)))


def one_tensor_ckpt(path, key_numel, offset, shape, stride, data, storage="FloatStorage"):
    """W_in is the given (hostile) view of storage '0'; W_out is a valid [5,3] tensor."""
    pkl = pickle_bytes(p_dict([
        (p_str("mlp.W_in"), p_tensor("0", key_numel, offset, shape, stride, storage)),
        w_out_pair(),
    ]))
    checkpoint(path, pkl, [("0", data), ("1", f32(W_OUT))])


# ---------------------------------------------------------------------------------------------
# Byte patching helpers for zip headers.
# ---------------------------------------------------------------------------------------------


def patch_sizes(buf, name, uncompressed=None, compressed=None):
    """Sets the sizes of entry `name` in both its local header and its central directory record."""
    nb = name.encode()
    out = bytearray(buf)
    # Local file header: sig PK\3\4, sizes at +18 (compressed) and +22 (uncompressed), name at +30.
    i = out.find(b"PK\x03\x04")
    while i >= 0:
        nlen = struct.unpack_from("<H", out, i + 26)[0]
        if out[i + 30:i + 30 + nlen] == nb:
            if compressed is not None:
                struct.pack_into("<I", out, i + 18, compressed)
            if uncompressed is not None:
                struct.pack_into("<I", out, i + 22, uncompressed)
        i = out.find(b"PK\x03\x04", i + 4)
    # Central directory: sig PK\1\2, sizes at +20 / +24, name at +46.
    i = out.find(b"PK\x01\x02")
    while i >= 0:
        nlen = struct.unpack_from("<H", out, i + 28)[0]
        if out[i + 46:i + 46 + nlen] == nb:
            if compressed is not None:
                struct.pack_into("<I", out, i + 20, compressed)
            if uncompressed is not None:
                struct.pack_into("<I", out, i + 24, uncompressed)
        i = out.find(b"PK\x01\x02", i + 4)
    return bytes(out)


def add_zip64_size(buf, name, uncompressed):
    """Rewrites entry `name`'s central directory record so that its uncompressed size is given by a
    zip64 extra field (0xFFFFFFFF in the 32-bit field), keeping the real compressed size."""
    nb = name.encode()
    out = bytearray(buf)
    i = out.find(b"PK\x01\x02")
    while i >= 0:
        nlen, xlen, clen = struct.unpack_from("<HHH", out, i + 28)
        if out[i + 46:i + 46 + nlen] == nb:
            struct.pack_into("<I", out, i + 24, 0xFFFFFFFF)
            extra = struct.pack("<HHQ", 0x0001, 8, uncompressed)
            end = i + 46 + nlen
            out[end:end] = extra
            struct.pack_into("<H", out, i + 30, xlen + len(extra))
            # Shift the end-of-central-directory's recorded central directory size.
            e = out.rfind(b"PK\x05\x06")
            cd_size = struct.unpack_from("<I", out, e + 12)[0]
            struct.pack_into("<I", out, e + 12, cd_size + len(extra))
            break
        i = out.find(b"PK\x01\x02", i + 4)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# The cases.
# ---------------------------------------------------------------------------------------------

CASES = []  # (file, kind, expect, what)


def case(file, kind, expect, what):
    CASES.append((file, kind, expect, what))


def path(name):
    return os.path.join(OUT, name)


def torch_cases():
    import torch

    # The field report: a zero-stride view; 4 bytes of storage declare 10^10 elements.
    torch.save({"mlp.W_in": torch.zeros(1).expand(100000, 100001),
                "mlp.W_out": torch.zeros(1).expand(100001, 100000)}, path("expand_huge.pth"))
    case("expand_huge.pth", "pth", "reject",
         "torch.save of zeros(1).expand(100000, 100001): stride (0, 0), 4-byte storage, 1e10 "
         "elements (80 GB as f64)")
    torch.save({"mlp.W_in": torch.zeros(1).expand(100000, 23),
                "mlp.W_out": torch.zeros(1).expand(23, 100000)}, path("expand_23.pth"))
    case("expand_23.pth", "pth", "reject",
         "zeros(1).expand(100000, 23) and (23, 100000): 4 bytes of storage become 2.3e6 "
         "elements each (M = 100000)")
    torch.save({"mlp.W_in": torch.zeros(1).expand(40000, 40001),
                "mlp.W_out": torch.zeros(1).expand(40001, 40000)}, path("expand_6gb.pth"))
    case("expand_6gb.pth", "pth", "reject",
         "zeros(1).expand(40000, 40001): 6.4 GB as f32, under pytorch-reader's 10 GiB "
         "MAX_TENSOR_SIZE")
    g = torch.Generator().manual_seed(7)
    torch.save({"mlp.W_in": torch.randn(1, P, generator=g).expand(M, P),
                "mlp.W_out": torch.randn(P, M, generator=g)}, path("expand_small.pth"))
    case("expand_small.pth", "pth", "accept",
         "legitimate small broadcast: randn(1,5).expand(3,5) (stride (0,1)); a reader may "
         "accept it (values = the row repeated)")
    # General strided views (not C- or Fortran-contiguous): a column slice with an offset, and
    # a transposed every-other-column view. torch.save keeps the views and their storages.
    w_in = torch.randn(M, 7, generator=g)[:, 1:6]
    w_out = torch.randn(M, 2 * P, generator=g)[:, ::2].t()
    assert w_in.stride() == (7, 1) and w_in.storage_offset() == 1 and w_out.stride() == (2, 10)
    torch.save({"mlp.W_in": w_in, "mlp.W_out": w_out}, path("view_general.pth"))
    case("view_general.pth", "pth", "accept",
         "legitimate views: W_in = randn(3,7)[:, 1:6] (stride (7,1), offset 1), W_out = "
         "randn(3,10)[:, ::2].t() (stride (2,10))")
    # Overlapping strides through as_strided (torch.save keeps the view).
    base = torch.arange(2000, dtype=torch.float32) / 1000
    torch.save({"mlp.W_in": base.as_strided((999, 1001), (1, 1)),
                "mlp.W_out": base.as_strided((1001, 999), (1, 1))}, path("overlap_small.pth"))
    case("overlap_small.pth", "pth", "accept?",
         "as_strided((999, 1001), (1, 1)) of a 2000-float storage: overlapping rows, 1e6 "
         "elements from 2000 stored (500x)")
    base = torch.zeros(200000, dtype=torch.float32)
    torch.save({"mlp.W_in": base.as_strided((100000, 100001), (1, 1)),
                "mlp.W_out": base[:15].view(P, M)}, path("overlap_huge.pth"))
    case("overlap_huge.pth", "pth", "reject",
         "as_strided((100000, 100001), (1, 1)) of an 800 KB storage: 1e10 elements")


def hand_cases():
    # --- shapes whose element count overflows -----------------------------------------------
    m = (2**64 + 2) // 3  # m * 3 = 2^64 + 2: wraps to 2 in u64
    one_tensor_ckpt(path("shape_wrap2.pth"), 6, 0, (m, 3), (3, 1), f32([1.0] * 6))
    case("shape_wrap2.pth", "pth", "reject",
         "W_in shape (6148914691236517206, 3), product 2^64 + 2: wraps to 2 in usize; storage "
         "declares 6 floats and holds 24 bytes")
    one_tensor_ckpt(path("shape_wrap_cap.pth"), 6, 0, (2**62, 5), (5, 1), f32([1.0] * 6))
    case("shape_wrap_cap.pth", "pth", "reject",
         "W_in shape (2^62, 5): product 5 * 2^62 wraps to 2^62 (Vec capacity overflow)")
    one_tensor_ckpt(path("shape_wrap0.pth"), 6, 0, (2**32, 2**32 + 1), (1, 1),
                    f32([1.0] * 6))
    case("shape_wrap0.pth", "pth", "reject",
         "W_in shape (2^32, 2^32 + 1) stride (1, 1): product 2^64 + 2^32 wraps to 2^32 (32 GB)")
    one_tensor_ckpt(path("shape_3d_wrap.pth"), 6, 0, (2**22, 2**21, 2**21), (0, 0, 0),
                    f32([1.0] * 6))
    case("shape_3d_wrap.pth", "pth", "reject",
         "W_in 3-d shape (2^22, 2^21, 2^21): product exactly 2^64 wraps to 0; a reader that "
         "skips empty tensors reports a wrong shape error or worse")
    one_tensor_ckpt(path("dim_negative.pth"), 15, 0, (-3, 5), (5, 1), f32(W_IN))
    case("dim_negative.pth", "pth", "reject", "W_in size (-3, 5)")
    # --- storage declared far beyond what the entry holds ------------------------------------
    one_tensor_ckpt(path("storage_declared_huge.pth"), 2**50, 0, (M, P), (P, 1), f32(W_IN))
    case("storage_declared_huge.pth", "pth", "accept?",
         "storage numel declared 2^50, entry holds 60 bytes, tensor [3,5] contiguous (reads "
         "only what exists; torch.load itself fails on this file)")
    one_tensor_ckpt(path("storage_short_huge_shape.pth"), 100000 * 100001, 0, (100000, 100001),
                    (100001, 1), f32([0.0]))
    case("storage_short_huge_shape.pth", "pth", "reject",
         "contiguous W_in [100000, 100001], storage declares 1e10 floats, entry holds 4 bytes: "
         "must fail on the size check before allocating 80 GB")
    one_tensor_ckpt(path("storage_short_mid_shape.pth"), 2000 * 2001, 0, (2000, 2001),
                    (2001, 1), f32([0.0]))
    case("storage_short_mid_shape.pth", "pth", "reject",
         "contiguous W_in [2000, 2001] (32 MB as f64), entry holds 4 bytes")
    # --- strides ----------------------------------------------------------------------------
    one_tensor_ckpt(path("stride_negative.pth"), 15, 14, (M, P), (-5, -1), f32(W_IN))
    case("stride_negative.pth", "pth", "reject", "W_in stride (-5, -1) (torch never saves one)")
    one_tensor_ckpt(path("stride_zero_big.pth"), 1, 0, (100000, 100001), (0, 0), f32([0.5]))
    case("stride_zero_big.pth", "pth", "reject",
         "hand-written twin of expand_huge (stride (0, 0), 1 declared element)")
    one_tensor_ckpt(path("stride_overflow.pth"), 15, 0, (3, 5), (2**62, 2**62), f32(W_IN))
    case("stride_overflow.pth", "pth", "reject",
         "W_in [3,5] stride (2^62, 2^62): (n-1)*stride sums overflow usize and wrap")
    # Strides chosen so that the extent sum wraps to exactly 0 in 64-bit arithmetic: a reader
    # that computes the extent with wrapping arithmetic accepts the view.
    pkl = pickle_bytes(p_dict([
        (p_str("mlp.W_in"), p_tensor("0", 9, 0, (3, 3), (2**62, 2**62))),
        (p_str("mlp.W_out"), p_tensor("1", 9, 0, (3, 3), (3, 1))),
    ]))
    checkpoint(path("stride_wrap_silent.pth"), pkl, [("0", f32(W_IN[:9])), ("1", f32(W_OUT[:9]))])
    case("stride_wrap_silent.pth", "pth", "reject",
         "W_in [3,3] stride (2^62, 2^62): extent 1 + 4 * 2^62 wraps to 1 and every byte "
         "offset to 0 (mod 2^64)")
    pkl = pickle_bytes(p_dict([
        (p_str("mlp.W_in"), p_tensor("0", 25, 0, (5, 5), (2**61, 2**61))),
        (p_str("mlp.W_out"), p_tensor("1", 25, 0, (5, 5), (5, 1))),
    ]))
    checkpoint(path("stride_wrap_panic.pth"), pkl, [("0", f32([0.5] * 25)), ("1", f32([0.25] * 25))])
    case("stride_wrap_panic.pth", "pth", "reject",
         "W_in [5,5] stride (2^61, 2^61): extent wraps to 1, byte offsets wrap to 2^63")
    # Both matrices with wrapped element counts that agree with each other.
    pkl = pickle_bytes(p_dict([
        (p_str("mlp.W_in"), p_tensor("0", 6, 0, (m, 3), (3, 1))),
        (p_str("mlp.W_out"), p_tensor("0", 6, 0, (3, m), (1, 3))),
    ]))
    checkpoint(path("shape_wrap2_both.pth"), pkl, [("0", f32([1.0] * 6))])
    case("shape_wrap2_both.pth", "pth", "reject",
         "W_in (6148914691236517206, 3) and W_out its transpose: counts wrap to 2, shapes agree")
    one_tensor_ckpt(path("stride_rank_mismatch.pth"), 15, 0, (3, 5), (5,), f32(W_IN))
    case("stride_rank_mismatch.pth", "pth", "reject", "2 sizes, 1 stride")
    # --- storage offsets --------------------------------------------------------------------
    one_tensor_ckpt(path("offset_beyond.pth"), 15, 1000, (M, P), (P, 1), f32(W_IN))
    case("offset_beyond.pth", "pth", "reject", "storage offset 1000 in a 15-element storage")
    one_tensor_ckpt(path("offset_overflow.pth"), 2**63 - 1, 2**63 - 10, (M, P), (P, 1),
                    f32(W_IN))
    case("offset_overflow.pth", "pth", "reject",
         "storage offset 2^63 - 10, storage declared 2^63 - 1: (offset + extent) * 4 wraps")
    # --- dtypes -----------------------------------------------------------------------------
    one_tensor_ckpt(path("dtype_long.pth"), 15, 0, (M, P), (P, 1), b"\0" * 120, "LongStorage")
    case("dtype_long.pth", "pth", "reject", "W_in is an int64 storage")

    # --- pickle bombs (beside a valid state dict, under key 'junk') -------------------------
    # Values bomb: list L0 of 1000 ints; L(k+1) = 1000 references to Lk. Resolves to 1e9+.
    # Lists as Python writes them (EMPTY_LIST MARK .. APPENDS), memoised once filled (BINPUT
    # after APPENDS), so that readers which copy at BINPUT time copy the full list too.
    # The levels are the values of one dict {'0': L0, '1': L1, ...} (no POP: torch's
    # weights-only unpickler lacks it).
    body = b"}(" + p_str("0") + b"](" + b"K\x00" * 1000 + b"e" + b"q\x00"
    for k in range(1, 4):
        body += p_str(str(k)) + b"](" + (b"h" + bytes([k - 1])) * 1000 + b"e" + b"q" + bytes([k])
    body += b"u"
    pkl, st = good_state([(p_str("junk"), body)])
    checkpoint(path("memo_values.pth"), pkl, st)
    case("memo_values.pth", "pth", "reject",
         "memo bomb: 4 nested lists of 1000 BINGETs of the previous one; 8 KB of pickle "
         "resolves to 1e12 values")
    # Bytes bomb: one 100 KB str memoised, referenced 50 000 times: 50 001 values, 5 GB of text.
    big = "x" * 100_000
    body = b"](" + p_str(big) + b"q\x00" + b"h\x00" * 50_000 + b"e"
    pkl, st = good_state([(p_str("junk"), body)])
    checkpoint(path("memo_bytes.pth"), pkl, st)
    case("memo_bytes.pth", "pth", "reject",
         "memo bomb by bytes: a 100 KB str referenced 50 000 times (5 GB when copied), only "
         "50 001 values")
    # Same, but 2 000 references: 200 MB copied. Small enough that a reader may accept it.
    body = b"](" + p_str(big) + b"q\x00" + b"h\x00" * 2_000 + b"e"
    pkl, st = good_state([(p_str("junk"), body)])
    checkpoint(path("memo_bytes_200mb.pth"), pkl, st)
    case("memo_bytes_200mb.pth", "pth", "accept?",
         "a 100 KB str referenced 2 000 times (200 MB when copied)")
    # Values bomb just under our MAX_VALUES = 2^26: 8000 x 8000 ints = 6.4e7 values.
    body = (b"}(" + p_str("0") + b"](" + b"K\x00" * 8000 + b"e" + b"q\x00" + p_str("1")
            + b"](" + b"h\x00" * 8000 + b"e" + b"u")
    pkl, st = good_state([(p_str("junk"), body)])
    checkpoint(path("memo_values_64m.pth"), pkl, st)
    case("memo_values_64m.pth", "pth", "reject",
         "8 000 references to a list of 8 000 ints: 6.4e7 values, just under modadd's "
         "MAX_VALUES = 2^26; the resolved tree is GBs")
    # Deep nesting: 100 000 nested lists.
    n = 100_000
    body = b"]" * n + b"a" * (n - 1)
    pkl, st = good_state([(p_str("junk"), body)])
    checkpoint(path("deep_lists.pth"), pkl, st)
    case("deep_lists.pth", "pth", "reject", "100 000 nested lists (recursion depth)")
    n = 100_000
    body = b"K\x00" + b"\x85" * n  # TUPLE1 applied 100 000 times
    pkl, st = good_state([(p_str("junk"), body)])
    checkpoint(path("deep_tuples.pth"), pkl, st)
    case("deep_tuples.pth", "pth", "reject", "100 000 nested 1-tuples (recursion depth)")
    body = b"(" * 400_000 + b"N" + b"t" * 400_000
    pkl, st = good_state([(p_str("junk"), body)])
    checkpoint(path("deep_marks.pth"), pkl, st)
    case("deep_marks.pth", "pth", "reject", "400 000 MARKs then 400 000 TUPLEs (nesting via marks)")
    # Length prefixes far beyond the data (the pickle then just ends).
    for name, junk, what in [
        ("pkl_binunicode_len.pth", b"X" + struct.pack("<I", 0xFFFFFFF0) + b"abc",
         "BINUNICODE declaring 4 GB, 3 bytes follow"),
        ("pkl_binbytes_len.pth", b"B" + struct.pack("<I", 0xFFFFFFF0) + b"abc",
         "BINBYTES declaring 4 GB, 3 bytes follow"),
        ("pkl_binbytes8_len.pth", b"\x8e" + struct.pack("<Q", 2**62) + b"abc",
         "BINBYTES8 declaring 2^62 bytes"),
        ("pkl_binunicode8_len.pth", b"\x8d" + struct.pack("<Q", 2**63 + 5) + b"abc",
         "BINUNICODE8 declaring 2^63 + 5 bytes"),
        ("pkl_long4_len.pth", b"\x8b" + struct.pack("<i", 2**31 - 1) + b"abc",
         "LONG4 declaring 2^31 - 1 bytes"),
        ("pkl_long4_neg.pth", b"\x8b" + struct.pack("<i", -5) + b"abc", "LONG4 length -5"),
        ("pkl_binstring_len.pth", b"T" + struct.pack("<i", 2**31 - 1) + b"abc",
         "BINSTRING declaring 2 GB"),
        ("pkl_frame_len.pth", b"\x95" + struct.pack("<Q", 2**62) + b"N",
         "FRAME declaring 2^62 bytes"),
        ("pkl_memo_long_binput.pth", b"N" + b"r" + struct.pack("<I", 0xFFFFFFFF),
         "LONG_BINPUT with key 2^32 - 1 (sparse memo)"),
        ("pkl_long4_big.pth", b"\x8b" + struct.pack("<i", 200_000) + b"\x01" * 200_000,
         "LONG4 with a real 200 KB integer"),
    ]:
        pkl, st = good_state([(p_str("junk"), junk)])
        if name in ("pkl_memo_long_binput.pth", "pkl_long4_big.pth"):
            pass  # complete opcodes: the pickle stays well formed
        checkpoint(path(name), pkl, st)
        case(name, "pth", "accept?" if name in ("pkl_memo_long_binput.pth",) else "reject",
             what)
    # A 1 MB-ish list of 1 000 000 ints (wide, not deep): should be fine.
    body = b"](" + b"K\x00" * 200_000 + b"e"
    pkl, st = good_state([(p_str("junk"), body)])
    checkpoint(path("wide_list.pth"), pkl, st)
    case("wide_list.pth", "pth", "accept", "a plain 200 000-element list beside the state dict")

    # --- zip container ----------------------------------------------------------------------
    pkl, st = good_state()
    buf = io.BytesIO()
    checkpoint(buf, pkl, st)
    good = buf.getvalue()
    with open(path("good_handmade.pth"), "wb") as f:
        f.write(good)
    case("good_handmade.pth", "pth", "accept", "control: the hand-written layout, valid")
    with open(path("zip_truncated.pth"), "wb") as f:
        f.write(good[: len(good) // 2])
    case("zip_truncated.pth", "pth", "reject", "first half of good_handmade.pth")
    cd = good.find(b"PK\x01\x02")
    with open(path("zip_truncated_cd.pth"), "wb") as f:
        f.write(good[: cd + 30])
    case("zip_truncated_cd.pth", "pth", "reject", "cut inside the central directory")
    with open(path("zip_pkl_size_4g.pth"), "wb") as f:
        f.write(patch_sizes(good, "archive/data.pkl", uncompressed=0xFFFFFFF0))
    case("zip_pkl_size_4g.pth", "pth", "reject",
         "data.pkl's declared uncompressed size patched to 0xFFFFFFF0 (stored entry)")
    with open(path("zip_storage_size_4g.pth"), "wb") as f:
        f.write(patch_sizes(good, "archive/data/0", uncompressed=0xFFFFFFF0))
    case("zip_storage_size_4g.pth", "pth", "reject",
         "storage entry data/0's declared uncompressed size patched to 0xFFFFFFF0")
    with open(path("zip_storage_size_zip64.pth"), "wb") as f:
        f.write(add_zip64_size(good, "archive/data/0", 2**60))
    case("zip_storage_size_zip64.pth", "pth", "reject",
         "data/0's uncompressed size given as 2^60 through a zip64 extra field")
    with open(path("zip_pkl_size_zip64.pth"), "wb") as f:
        f.write(add_zip64_size(good, "archive/data.pkl", 2**60))
    case("zip_pkl_size_zip64.pth", "pth", "reject",
         "data.pkl's uncompressed size given as 2^60 through a zip64 extra field")
    e = good.rfind(b"PK\x05\x06")
    bad = bytearray(good)
    struct.pack_into("<HH", bad, e + 8, 0xFFFF, 0xFFFF)
    with open(path("zip_eocd_count.pth"), "wb") as f:
        f.write(bytes(bad))
    case("zip_eocd_count.pth", "pth", "reject",
         "end-of-central-directory claims 65535 entries (file holds 5)")
    # Deflated entries: torch never writes them (it stores), but zip readers may accept them.
    checkpoint(path("zip_deflated_ok.pth"), pkl, st, compress=("data.pkl", "data/0", "data/1"))
    case("zip_deflated_ok.pth", "pth", "accept?",
         "valid checkpoint with deflated entries (torch.load reads it)")
    bomb_pkl = pickle_bytes(p_dict([
        (p_str("mlp.W_in"), p_tensor("0", M * P, 0, (M, P), (P, 1))),
        w_out_pair(),
        (p_str("junk"), b"\x8e" + struct.pack("<Q", 400_000_000) + b"\0" * 400_000_000),
    ]))
    checkpoint(path("zip_bomb_pkl.pth"), bomb_pkl, st, compress=("data.pkl",))
    del bomb_pkl
    case("zip_bomb_pkl.pth", "pth", "reject?",
         "deflated data.pkl of 400 MB (a BINBYTES8 of zeros) in a ~400 KB file")
    n = 10000 * 10001
    checkpoint(path("zip_bomb_storage.pth"),
               pickle_bytes(p_dict([
                   (p_str("mlp.W_in"), p_tensor("0", n, 0, (10000, 10001), (10001, 1))),
                   w_out_pair()])),
               [("0", b"\0" * (4 * n)), ("1", f32(W_OUT))], compress=("data/0",))
    case("zip_bomb_storage.pth", "pth", "reject?",
         "deflated 400 MB storage (W_in [10000, 10001] of zeros) in a ~400 KB file")
    # Not a checkpoint at all / legacy.
    with open(path("legacy_bare_pickle.pth"), "wb") as f:
        f.write(pkl)
    case("legacy_bare_pickle.pth", "pth", "reject", "a bare pickle (not a zip)")


def npy_header(descr, shape, version=1, header_len=None):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, repr(tuple(shape)))
    if version == 1:
        pad = (64 - (10 + len(d) + 1) % 64) % 64
        h = (d + " " * pad + "\n").encode()
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", header_len or len(h)) + h
    pad = (64 - (12 + len(d) + 1) % 64) % 64
    h = (d + " " * pad + "\n").encode()
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", header_len or len(h)) + h


def npy_cases():
    def folder(name, w_in, w_out, expect, what):
        d = path(name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "W_in.npy"), "wb") as f:
            f.write(w_in)
        with open(os.path.join(d, "W_out.npy"), "wb") as f:
            f.write(w_out)
        case(name + "/", "npy", expect, what)

    good_out = npy_header("<f8", (P, M)) + struct.pack("<15d", *W_OUT)
    folder("npy_shape_huge", npy_header("<f8", (100000, 100001)) + b"\0" * 100, good_out,
           "reject", "W_in.npy header says shape (100000, 100001) <f8; 100 bytes of data")
    folder("npy_shape_overflow", npy_header("<f8", (2**62, 5)) + b"\0" * 100, good_out,
           "reject", "W_in.npy shape (2^62, 5): element count overflows u64")
    folder("npy_header_len_huge", npy_header("<f8", (M, P), version=2,
                                             header_len=0xFFFFFFF0) + b"\0" * 120, good_out,
           "reject", "W_in.npy version 2 header length field 0xFFFFFFF0, file 300 bytes")
    folder("npy_truncated", npy_header("<f8", (M, P)) + b"\0" * 100, good_out, "reject",
           "W_in.npy [3,5] <f8 with 100 of its 120 data bytes")


def csv_cases():
    d = path("csv_wide")
    os.makedirs(d, exist_ok=True)
    p = 99_999
    with open(os.path.join(d, "W_in.csv"), "w") as f:
        f.write(",".join(["0"] * p) + "\n")
    with open(os.path.join(d, "W_out.csv"), "w") as f:
        f.write("0\n" * p)
    case("csv_wide/", "csv", "reject?",
         "valid weight folder with M = 1, p = 99 999 (a 200 KB row): reading is fine, but "
         "eval/analyze then build p^2 = 1e10 pairs")
    d = path("csv_inconsistent")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "W_in.csv"), "w") as f:
        f.write("1,2,3,4,5\n1,2,3\n1,2,3,4,5\n")
    with open(os.path.join(d, "W_out.csv"), "w") as f:
        f.write("1,2,3\n" * 5)
    case("csv_inconsistent/", "csv", "reject", "W_in.csv rows of 5, 3, 5 columns")
    d = path("csv_hugenum")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "W_in.csv"), "w") as f:
        f.write("1e999,2,3,4,5\n" + "1,2,3,4,5\n" * 2)
    with open(os.path.join(d, "W_out.csv"), "w") as f:
        f.write("1,2,3\n" * 5)
    case("csv_hugenum/", "csv", "reject", "W_in.csv holds 1e999 (parses to inf)")
    d = path("csv_one_row_million")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "W_in.csv"), "w") as f:
        f.write("," * 499_999 + "\n")
    with open(os.path.join(d, "W_out.csv"), "w") as f:
        f.write("1\n")
    case("csv_one_row_million/", "csv", "reject",
         "W_in.csv: one row of 500 000 empty fields")


def pairs_cases():
    for name, text, what in [
        ("pairs_huge.csv", "x,y\n1,2\n99999999999999999999999999,3\n",
         "a pair with x = 1e26 (beyond u64)"),
        ("pairs_u64max.csv", "x,y\n18446744073709551615,18446744073709551615\n",
         "x = y = 2^64 - 1"),
        ("pairs_negative.csv", "x,y\n-1,2\n", "x = -1"),
        ("pairs_ragged.csv", "x,y\n1,2\n3\n1,2,3,4\n", "rows of 2, 1 and 4 fields"),
        ("pairs_many.csv", "x,y\n" + "1,2\n" * 200_000, "200 000 copies of one pair"),
    ]:
        with open(path(name), "w") as f:
            f.write(text)
        case(name, "pairs", "reject" if name != "pairs_many.csv" else "accept?", what)


# Files at least this large are not checked in.
KEEP_BELOW = 40_000

# The files modadd reads; it refuses every other one.
MODADD_ACCEPTS = {"storage_declared_huge.pth", "pkl_frame_len.pth", "pkl_memo_long_binput.pth",
                  "good_handmade.pth", "view_general.pth", "wide_list.pth"}


def main():
    os.makedirs(OUT, exist_ok=True)
    hand_cases()
    npy_cases()
    csv_cases()
    pairs_cases()
    if os.environ.get("NO_TORCH") != "1":
        torch_cases()
    kept = []
    for c in CASES:
        p = os.path.join(OUT, c[0].rstrip("/"))
        size = (sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p))
                if os.path.isdir(p) else os.path.getsize(p))
        if size < KEEP_BELOW or os.environ.get("ALL") == "1":
            kept.append(c)
        elif os.path.isdir(p):
            for f in os.listdir(p):
                os.remove(os.path.join(p, f))
            os.rmdir(p)
        else:
            os.remove(p)
    with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as f:
        f.write("file\tkind\texpect\tmodadd\twhat\n")
        for file, kind, expect, what in kept:
            decision = "accept" if file in MODADD_ACCEPTS else "reject"
            f.write("\t".join([file, kind, expect, decision, what]) + "\n")
    big = []
    for root, _, files in os.walk(OUT):
        for fn in files:
            s = os.path.getsize(os.path.join(root, fn))
            if s >= 1 << 20:
                big.append((fn, s))
    print(f"wrote {len(CASES)} cases to {OUT}; files >= 1 MiB: {big}", file=sys.stderr)


if __name__ == "__main__":
    main()
